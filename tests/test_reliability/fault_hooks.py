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


@HOOKS.register_module()
class KillDuringSaveHook(Hook):
    """SIGKILL the process while it writes the checkpoint file of
    ``at_iter``: half of the serialised bytes reach the disk, then kill -9.

    mmengine serialises a checkpoint into memory and hands the bytes to the
    file backend's ``put``, so the fault is injected there (in this
    subprocess only), where a real crash would leave a partial file.
    """

    def __init__(self, at_iter: int) -> None:
        self.at_iter = at_iter

    def before_save_checkpoint(self, runner, checkpoint):
        if checkpoint['meta'].get('iter') != self.at_iter:
            return
        from mmengine.fileio.backends import LocalBackend

        def put_half_then_die(backend, obj, filepath):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
                f.flush()
                os.fsync(f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(60)  # pragma: no cover - the signal arrives first

        LocalBackend.put = put_half_then_die
