"""A checkpoint whose unpickling would run code is refused everywhere.

The crafted file pickles ``os.system('touch MARKER')``: loading it with
plain ``pickle``/``torch.load(weights_only=False)`` would create the marker.
"""
import os

import pytest
import torch

import simvtp  # noqa: F401
from simvtp.utils.safe_load import (CorruptCheckpointError,
                                    UnsafeCheckpointError,
                                    load_checkpoint_file,
                                    use_safe_checkpoint_loading)
from tests.test_reliability.helpers import (finish, make_dataset,
                                            tool_process, write_config)


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


@pytest.fixture
def crafted(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'crafted.pth'
    torch.save({'state_dict': {'w': torch.zeros(2)},
                'meta': {'epoch': 0, 'iter': 1, 'x': RunsCode(marker)}},
               path)
    assert b'system' in path.read_bytes()  # the payload is really there
    return path, marker


def test_the_payload_is_live_without_weights_only(crafted):
    """Control: the file does run code when loaded unsafely."""
    path, marker = crafted
    torch.load(path, weights_only=False)  # only touches a file in tmp_path
    assert marker.exists()


def test_load_checkpoint_file_refuses(crafted):
    path, marker = crafted
    with pytest.raises(UnsafeCheckpointError,
                       match=r'crafted\.pth: refused to load.*system'):
        load_checkpoint_file(str(path))
    assert not marker.exists()


@pytest.fixture
def restore_mmengine_loader():
    from mmengine.runner.checkpoint import CheckpointLoader
    saved = dict(CheckpointLoader._schemes)
    yield
    CheckpointLoader._schemes.clear()
    CheckpointLoader._schemes.update(saved)


def test_opt_in_mmengine_loader_refuses_even_when_torch_default_is_unsafe(
        crafted, monkeypatch, restore_mmengine_loader):
    """What Runner.resume / load_checkpoint call, after the opt-in that
    simvtp's tools make; explicit weights_only wins over the
    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD escape hatch."""
    from mmengine.runner.checkpoint import _load_checkpoint
    path, marker = crafted
    assert use_safe_checkpoint_loading() is True
    assert use_safe_checkpoint_loading() is False  # idempotent
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    with pytest.raises(UnsafeCheckpointError, match='refused to load'):
        _load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()


def test_import_alone_leaves_mmengine_loading_to_torch(crafted, monkeypatch):
    """Without the opt-in, importing simvtp does not decide how another
    project's mmengine loads files: torch's default (weights-only, with
    mmengine's own globals allowlisted, so its checkpoints load) and its
    escape hatch stay in force."""
    from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint
    from mmengine.logging import HistoryBuffer
    assert not getattr(CheckpointLoader._schemes[''], '_simvtp_safe', False)
    path, marker = crafted
    with pytest.raises(Exception, match='Weights only load failed'):
        _load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()
    # a checkpoint as stock mmengine writes it (message hub buffers)
    buf = HistoryBuffer()
    buf.update(2.0)
    stock = path.parent / 'stock.pth'
    torch.save({'state_dict': {'w': torch.ones(2)},
                'meta': {'message_hub': {'log_scalars': {'loss': buf}}}},
               stock)
    loaded = _load_checkpoint(str(stock), map_location='cpu')
    assert loaded['meta']['message_hub']['log_scalars']['loss'].statistics(
        'mean') == 2.0
    assert load_checkpoint_file(str(stock))['state_dict']['w'].sum() == 2
    # ... which leaves the process-wide allowlist as it was
    assert _load_checkpoint(str(stock), map_location='cpu')['meta']
    # the user's explicit choice is honoured (it runs the payload)
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    _load_checkpoint(str(path), map_location='cpu')
    assert marker.exists()


@pytest.mark.parametrize('content', [b'', b'not a checkpoint at all',
                                     'half'])
def test_corrupt_file_is_named_as_such_not_as_unsafe(tmp_path, content):
    path = tmp_path / 'bad.pth'
    if content == 'half':
        torch.save({'w': torch.ones(1000)}, path)
        content = path.read_bytes()[:2000]
    path.write_bytes(content)
    with pytest.raises(CorruptCheckpointError,
                       match=r'bad\.pth: not a readable PyTorch checkpoint'):
        load_checkpoint_file(str(path))


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory, tiny_tokenizer_dir):
    root = str(tmp_path_factory.mktemp('safe'))
    ann, test_ann = make_dataset(root, num=4)
    return write_config(os.path.join(root, 'cfg.py'), tiny_tokenizer_dir,
                        ann, test_ann, os.path.join(root, 'videos'), iters=2)


def test_tools_refuse_the_crafted_checkpoint(crafted, tiny_config,
                                             tmp_path):
    """``tools/train.py --resume crafted.pth`` and ``tools/test.py CONFIG
    crafted.pth`` (run side by side to save time)."""
    path, marker = crafted
    procs = {
        'train': tool_process('train.py', tiny_config, '--work-dir',
                              tmp_path / 'train', '--resume', path,
                              log=tmp_path / 'train.log'),
        'test': tool_process('test.py', tiny_config, path, '--work-dir',
                             tmp_path / 'test', log=tmp_path / 'test.log'),
    }
    for name, proc in procs.items():
        returncode, err = finish(proc, tmp_path / f'{name}.log')
        assert returncode != 0, name
        assert 'UnsafeCheckpointError' in err, (name, err[-3000:])
        assert 'crafted.pth: refused to load' in err, name
        assert 'system' in err, name  # names the offending global
    assert not marker.exists()
