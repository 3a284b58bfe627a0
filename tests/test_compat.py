"""Each stack fix in simvtp.compat, with a check that fails without it."""
import importlib.util
import subprocess
import sys
import textwrap

import pytest
import torch

import simvtp  # noqa: F401
from simvtp import compat


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=300)


def test_mmaction_models_imports_with_fix():
    import mmaction.models  # noqa: F401
    from mmaction.registry import MODELS
    assert MODELS.get('VindLURetrieval') is not None


@pytest.mark.skipif(not compat._drn_is_missing(),
                    reason='this mmaction2 install ships the drn package')
def test_mmaction_models_fails_without_drn_fix():
    # load compat.py alone, so simvtp/__init__ does not apply the drn fix
    proc = run_python(f"""
        import importlib.util
        spec = importlib.util.spec_from_file_location('c', {compat.__file__!r})
        compat = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(compat)
        compat.fix_torchvision_without_ops()
        import mmaction.models
    """)
    assert proc.returncode != 0
    assert "No module named 'mmaction.models.localizers.drn'" in proc.stderr


def test_drn_placeholder_raises_clear_error():
    from mmaction.models.localizers.drn.drn import DRN
    with pytest.raises(ImportError, match='mmaction2 1.2.0 was released'):
        DRN()


@pytest.mark.parametrize('version', ['4.56.0', '4.37.2', '5.0.0'])
def test_transformers_pin_violation_is_reported(version):
    with pytest.raises(ImportError, match=r'transformers>=4.38,<4.56 but found'):
        compat.check_transformers_version(version)


@pytest.mark.parametrize('version', ['4.38.0', '4.55.4', '4.40.0.dev0'])
def test_transformers_pin_accepted(version):
    compat.check_transformers_version(version)


def test_torchvision_imports():
    import torchvision  # noqa: F401
    import torchvision.transforms.functional as F
    assert F.resize(torch.rand(3, 8, 8), [4, 4]).shape == (3, 4, 4)


def test_cpu_launcher_is_patched():
    from mmengine.dist import utils
    assert getattr(utils._init_dist_pytorch, '_simvtp_cpu_safe', False)


def test_cpu_launcher_leaves_accelerators_to_mmengine(monkeypatch):
    """On an NPU (MLU, MUSA, CUDA) host mmengine's own set-up (hccl, ...)
    runs; gloo is used only when the device is the CPU."""
    import mmengine.device
    import torch.distributed
    from mmengine.dist import utils
    patched = utils._init_dist_pytorch
    original = patched.__closure__[
        patched.__code__.co_freevars.index('original')].cell_contents
    calls = []
    monkeypatch.setattr(utils, '_init_dist_pytorch', patched)
    monkeypatch.setattr(
        patched.__closure__[patched.__code__.co_freevars.index(
            'original')], 'cell_contents',
        lambda backend, **kw: calls.append(('mmengine', backend)))
    monkeypatch.setattr(torch.distributed, 'init_process_group',
                        lambda backend, **kw: calls.append(('gloo', backend)))
    monkeypatch.setattr(mmengine.device, 'get_device', lambda: 'npu')
    patched('hccl')
    monkeypatch.setattr(mmengine.device, 'get_device', lambda: 'cpu')
    patched('nccl')
    assert calls == [('mmengine', 'hccl'), ('gloo', 'gloo')]
    assert original is not patched


def test_cpu_launcher_starts_deepspeed_on_gloo(monkeypatch):
    """DeepSpeedStrategy's launcher (init_backend='deepspeed') on the CPU:
    deepspeed.init_distributed with gloo, no torch.cuda.set_device."""
    deepspeed = pytest.importorskip('deepspeed')
    import mmengine.device
    from mmengine.dist import utils
    calls = []
    monkeypatch.setattr(mmengine.device, 'get_device', lambda: 'cpu')
    monkeypatch.setattr(deepspeed, 'init_distributed',
                        lambda dist_backend, **kw: calls.append(dist_backend))
    with pytest.warns(UserWarning, match='gloo backend instead of'):
        utils._init_dist_pytorch('nccl', init_backend='deepspeed')
    assert calls == ['gloo']


def test_deepspeed_optimizers_register_once():
    """mmengine's DeepSpeedStrategy calls this on every construction."""
    pytest.importorskip('deepspeed')
    from mmengine._strategy import deepspeed as strategy
    from mmengine.registry import OPTIMIZERS
    assert strategy.register_deepspeed_optimizers is \
        compat.register_deepspeed_optimizers
    names = compat.register_deepspeed_optimizers()
    assert {'DeepSpeedCPUAdam', 'FusedAdam'} <= set(names)
    assert compat.register_deepspeed_optimizers() == names  # no KeyError
    assert all(name in OPTIMIZERS.module_dict for name in names)


@pytest.mark.skipif(importlib.util.find_spec('deepspeed') is None,
                    reason='needs deepspeed')
def test_deepspeed_strategy_fails_without_fix():
    """DeepSpeed 0.19 removed the 1-bit optimizers mmengine imports; with an
    older DeepSpeed the second construction fails instead."""
    proc = run_python("""
        from mmengine._strategy.deepspeed import register_deepspeed_optimizers
        register_deepspeed_optimizers()
        register_deepspeed_optimizers()
    """)
    assert proc.returncode != 0
    assert ("No module named 'deepspeed.runtime.fp16.onebit'" in proc.stderr
            or 'is already registered' in proc.stderr), proc.stderr[-3000:]


def test_import_patches_exactly_the_listed_attributes():
    """``import simvtp`` in a process that already uses mmengine changes no
    module attribute of mmengine (or of its classes) except the ones
    compat.PATCHED_ATTRIBUTES lists."""
    proc = run_python("""
        import importlib, pkgutil, sys
        import mmengine
        skip = ('mmengine.testing', 'mmengine._strategy.colossalai',
                'mmengine._strategy.deepspeed')
        for info in pkgutil.walk_packages(mmengine.__path__, 'mmengine.'):
            if not info.name.startswith(skip):
                try:
                    importlib.import_module(info.name)
                except Exception:
                    pass

        def snapshot():
            seen = {}
            for name, mod in list(sys.modules.items()):
                if not name.startswith('mmengine') or mod is None:
                    continue
                for attr, value in list(vars(mod).items()):
                    seen[(name, attr)] = id(value)
                    if isinstance(value, type) and \
                            value.__module__.startswith('mmengine'):
                        for key, member in list(vars(value).items()):
                            seen[(name, f'{attr}.{key}')] = id(member)
            return seen

        before = snapshot()
        import simvtp
        from simvtp import compat
        after = snapshot()
        changed = sorted(k for k in before if after.get(k) != before[k])
        print('CHANGED', changed)
        print('LISTED', sorted(compat.PATCHED_ATTRIBUTES))
    """)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = dict(line.split(' ', 1) for line in proc.stdout.splitlines()
                 if line.startswith(('CHANGED', 'LISTED')))
    assert lines['CHANGED'] == lines['LISTED'], proc.stdout


RUNNER_SCRIPT = """
import sys, torch, torch.nn as nn
{prelude}
from mmengine.model import BaseModel
from mmengine.runner import Runner

class Tiny(BaseModel):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)
    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss=self.fc(inputs).pow(2).mean())

def runner(work_dir, iters, resume):
    data = [dict(inputs=torch.full((2,), float(i))) for i in range(8)]
    return Runner(
        model=Tiny(), work_dir=work_dir, default_scope='mmengine',
        train_dataloader=dict(dataset=data, batch_size=2,
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2,
                                           by_epoch=False)),
        resume=resume, randomness=dict(seed=0))

runner(sys.argv[1], 2, False).train()
r = runner(sys.argv[1], 4, True)
r.train()
assert r.iter == 4, r.iter
print('RESUMED_OK')
"""


def test_runner_resumes_with_weights_only_loading(tmp_path):
    assert torch.__version__ >= '2.6'  # weights_only is the default here
    script = tmp_path / 'resume.py'
    script.write_text(RUNNER_SCRIPT.format(prelude='import simvtp'))
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / 'w')],
                          capture_output=True, text=True, timeout=300)
    assert 'RESUMED_OK' in proc.stdout, proc.stderr[-3000:]


def test_runner_resume_fails_without_fix(tmp_path):
    script = tmp_path / 'resume.py'
    # only the torchvision import fix, not the checkpoint allowlist
    prelude = (
        'import importlib.util\n'
        f'spec = importlib.util.spec_from_file_location("c", {compat.__file__!r})\n'
        'compat = importlib.util.module_from_spec(spec)\n'
        'spec.loader.exec_module(compat)\n'
        'compat.fix_torchvision_without_ops()\n')
    script.write_text(RUNNER_SCRIPT.format(prelude=prelude))
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / 'w')],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert 'Weights only load failed' in proc.stderr


def test_checkpoint_with_other_globals_is_refused(tmp_path):
    import argparse
    path = tmp_path / 'other.pth'
    # a global off the allowlist (the Namespace the authors' files carry)
    torch.save({'state_dict': {}, 'args': argparse.Namespace(lr=1)}, path)
    with pytest.raises(Exception, match='Unsupported global'):
        torch.load(path, weights_only=True)


def test_stock_history_buffer_round_trip_keeps_statistics(tmp_path):
    """mmengine pickles HistoryBuffer's statistics methods as
    ``getattr(HistoryBuffer, name)``; the allowlist resolves exactly those,
    so its checkpoints load weights-only without allowing getattr."""
    from mmengine.logging import HistoryBuffer
    buf = HistoryBuffer()
    for v in (1.0, 2.0, 6.0):
        buf.update(v)
    path = tmp_path / 'hb.pth'
    torch.save({'b': buf}, path)
    assert b'getattr' in path.read_bytes()  # the stock format, unchanged
    loaded = torch.load(path, weights_only=True)['b']
    assert loaded.statistics('mean') == pytest.approx(3.0)
    assert loaded.statistics('max') == 6.0


def test_getattr_stand_in_refuses_anything_else(tmp_path):
    """A file that uses getattr for anything but HistoryBuffer's statistics
    is refused (the real getattr would reach e.g. os.system)."""
    import pickle

    from mmengine.logging import HistoryBuffer

    class Sneaky:
        def __reduce__(self):
            return getattr, (HistoryBuffer, '__init__')

    path = tmp_path / 'sneaky.pth'
    torch.save({'x': Sneaky()}, path)
    with pytest.raises(pickle.UnpicklingError, match='not allowed'):
        torch.load(path, weights_only=True)
