"""A checkpoint whose unpickling would run code is refused everywhere.

The crafted file pickles ``os.system('touch MARKER')``: loading it with
plain ``pickle``/``torch.load(weights_only=False)`` would create the marker.
"""
import os

import pytest
import torch

import simvtp  # noqa: F401  (compat: mmengine's loader goes through ours)
from simvtp.utils.safe_load import UnsafeCheckpointError, load_checkpoint_file
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


def test_mmengine_loader_refuses_even_when_torch_default_is_unsafe(
        crafted, monkeypatch):
    """What Runner.resume / load_checkpoint call; explicit weights_only
    wins over the TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD escape hatch."""
    from mmengine.runner.checkpoint import _load_checkpoint
    path, marker = crafted
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    with pytest.raises(UnsafeCheckpointError, match='refused to load'):
        _load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()


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
