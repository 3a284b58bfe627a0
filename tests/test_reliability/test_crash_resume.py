"""kill -9 loses nothing: atomic checkpoints and an exact resume.

Real ``tools/train.py`` subprocesses on a tiny SimVTP (all three objectives,
so VTM's random negatives and text dropout draw from torch's RNG) with real
mp4 files, ``IterBasedTrainLoop``, a shuffling sampler that crosses an epoch
boundary, a checkpoint every 3 iterations and ``max_keep_ckpts=1``:

* A: 6 iterations straight;
* B: killed with SIGKILL from outside after its iteration-3 checkpoint;
* R1: ``--resume``, SIGKILLed *while writing* the iteration-6 checkpoint
  (mmengine would already have deleted iter_3.pth by then);
* R2: ``--resume`` again, to iteration 6.

R2's final weights must equal A's exactly.
"""
import os
import signal
import time

import pytest
import torch

import simvtp  # noqa: F401
from simvtp.utils import atomic_io
from tests.test_reliability.helpers import (finish, make_dataset, tool,
                                            tool_process, write_config)


def load(path):
    return torch.load(path, map_location='cpu', weights_only=True)


@pytest.fixture(scope='module')
def runs(tmp_path_factory, tiny_tokenizer_dir):
    root = tmp_path_factory.mktemp('crash')
    ann, test_ann = make_dataset(str(root), num=8)
    videos = str(root / 'videos')

    def config(name, *hooks):
        return write_config(root / f'{name}.py', tiny_tokenizer_dir, ann,
                            test_ann, videos, iters=6, interval=3,
                            hooks=[dict(type='DataHealthHook'), *hooks])

    straight, killed = root / 'A', root / 'B'
    args = ('--deterministic', )
    # A and B are independent: run them side by side
    proc_a = tool_process('train.py', config('a'), '--work-dir', straight,
                          *args, log=root / 'a.log')
    proc_b = tool_process(
        'train.py', config('b', dict(type='StallAfterIterHook', after_iter=3)),
        '--work-dir', killed, *args, log=root / 'b.log')
    deadline = time.time() + 300
    while not (killed / 'stalled').exists():
        assert proc_b.poll() is None, (root / 'b.log').read_text()[-3000:]
        assert time.time() < deadline
        time.sleep(0.05)
    os.kill(proc_b.pid, signal.SIGKILL)
    proc_b.wait()
    after_b = dict(files=sorted(os.listdir(killed)),
                   pointer=(killed / 'last_checkpoint').read_text())

    r1 = tool('train.py', config('r1', dict(type='KillDuringSaveHook',
                                            at_iter=6)),
              '--work-dir', killed, '--resume', *args)
    after_r1 = dict(returncode=r1.returncode, files=sorted(os.listdir(killed)),
                    pointer=(killed / 'last_checkpoint').read_text(),
                    iter3=load(killed / 'iter_3.pth'))

    r2 = tool('train.py', config('r2'), '--work-dir', killed, '--resume',
              *args)
    assert r2.returncode == 0, r2.stderr[-3000:]
    returncode, out = finish(proc_a, root / 'a.log')
    assert returncode == 0, out[-3000:]
    return dict(straight=straight, killed=killed, b=proc_b.returncode,
                after_b=after_b, after_r1=after_r1, r2_log=r2.stdout)


def test_external_kill_after_checkpoint(runs):
    assert runs['b'] == -signal.SIGKILL
    assert runs['after_b']['pointer'].endswith('iter_3.pth')
    assert 'iter_3.pth' in runs['after_b']['files']


def test_kill_during_save_keeps_previous_checkpoint_and_pointer(runs):
    r1 = runs['after_r1']
    assert r1['returncode'] == -signal.SIGKILL
    assert 'iter_6.pth' not in r1['files']
    assert r1['pointer'].endswith('iter_3.pth')  # never a partial pointer
    assert r1['iter3']['meta']['iter'] == 3  # readable, complete
    stale = [f for f in r1['files'] if f.endswith(atomic_io.TMP_SUFFIX)]
    assert len(stale) == 1 and stale[0].startswith('.iter_6.pth.')
    # the next save removed the dead process's temporary
    assert not [f for f in os.listdir(runs['killed'])
                if f.endswith(atomic_io.TMP_SUFFIX)]


def test_resumed_run_equals_straight_run_exactly(runs):
    a = load(runs['straight'] / 'iter_6.pth')
    b = load(runs['killed'] / 'iter_6.pth')
    assert b['meta']['iter'] == a['meta']['iter'] == 6
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key
    for key, value in a['optimizer']['state'].items():
        for name, tensor in value.items():
            assert torch.equal(tensor, b['optimizer']['state'][key][name])
    # and the RNG streams continued rather than restarted
    assert torch.equal(a['meta']['rng_state']['torch'],
                       b['meta']['rng_state']['torch'])
    assert 'restored the RNG states of iteration 3' in runs['r2_log']


def test_atomic_write_survives_kill_mid_write(tmp_path):
    target = tmp_path / 'ckpt.pth'
    torch.save({'w': torch.ones(3)}, target)
    pid = os.fork()
    if pid == 0:  # child: half a new file, then kill -9
        def write(f):
            f.write(b'PK\x03\x04' + b'x' * 4096)
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        try:
            atomic_io.atomic_write(str(target), write)
        finally:
            os._exit(3)  # not reached
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)
    assert torch.equal(load(target)['w'], torch.ones(3))  # old file intact
    leftovers = [f for f in os.listdir(tmp_path)
                 if f.endswith(atomic_io.TMP_SUFFIX)]
    assert len(leftovers) == 1 and f'.pid{pid}.' in leftovers[0]
    atomic_io.atomic_write_text(str(tmp_path / 'last_checkpoint'), 'x')
    assert not [f for f in os.listdir(tmp_path)
                if f.endswith(atomic_io.TMP_SUFFIX)]
    mode = os.stat(tmp_path / 'last_checkpoint').st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # not mkstemp's 0600


def test_atomic_saving_is_a_hook_not_a_patch():
    """The configs choose AtomicCheckpointHook; mmengine itself is as
    shipped (another project's CheckpointHook is not changed by simvtp)."""
    import os.path as osp
    from mmengine.config import Config
    from mmengine.hooks import CheckpointHook
    from mmengine.runner import checkpoint
    from simvtp.engine.hooks import AtomicCheckpointHook
    from tests.test_reliability.helpers import REPO
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_',
                                   'default_runtime.py'))
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
    assert issubclass(AtomicCheckpointHook, CheckpointHook)
    assert checkpoint.save_checkpoint.__module__ == \
        'mmengine.runner.checkpoint'
    assert CheckpointHook._save_checkpoint_with_step.__module__ == \
        'mmengine.hooks.checkpoint_hook'
