"""Test-only hooks that inject faults into a real training run.

Imported by the subprocess configs of this folder through
``custom_imports`` (module ``tests.test_reliability.fault_hooks``;
``tools/train.py`` and ``tools/dist_train.sh`` put the repository root on
``sys.path``).
"""
import os
import signal
import time

from mmengine.dist import get_dist_info
from mmengine.hooks import Hook

from simvtp.registry import HOOKS


@HOOKS.register_module()
class RaiseOnRankHook(Hook):
    """Raise on one rank before iteration ``at_iter`` (1-based)."""

    def __init__(self, rank: int = 1, at_iter: int = 2) -> None:
        self.rank = rank
        self.at_iter = at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if get_dist_info()[0] == self.rank and runner.iter + 1 == self.at_iter:
            with open(os.path.join(runner.work_dir, 'raised_at'), 'w') as f:
                f.write(repr(time.time()))
            raise RuntimeError(f'injected failure on rank {self.rank} at '
                               f'iteration {self.at_iter}')


@HOOKS.register_module()
class StallAfterIterHook(Hook):
    """Sleep after iteration ``after_iter`` so the test can kill -9 the run
    at a known point (the checkpoint of that iteration is complete)."""

    priority = 'LOWEST'  # after CheckpointHook wrote the checkpoint

    def __init__(self, after_iter: int, seconds: float = 120) -> None:
        self.after_iter = after_iter
        self.seconds = seconds

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 == self.after_iter:
            with open(os.path.join(runner.work_dir, 'stalled'), 'w') as f:
                f.write(str(os.getpid()))
            time.sleep(self.seconds)


class _KillWhenPickled:
    """Pickling this object kills the process: kill -9 in mid-save."""

    def __reduce__(self):
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)  # pragma: no cover - the signal arrives first


@HOOKS.register_module()
class KillDuringSaveHook(Hook):
    """SIGKILL the process while it writes the checkpoint of ``at_iter``."""

    def __init__(self, at_iter: int) -> None:
        self.at_iter = at_iter

    def before_save_checkpoint(self, runner, checkpoint):
        if checkpoint['meta'].get('iter') == self.at_iter:
            # after the weights, so part of the file is already written
            checkpoint['zz_kill'] = _KillWhenPickled()
