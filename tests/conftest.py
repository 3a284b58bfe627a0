"""Shared fixtures: tiny real video files, a tiny WordPiece vocabulary, a
temporary mmaction default scope, mmengine's checkpoint loader restored
after each test."""
import os

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

WORDS = ['a', 'red', 'blue', 'green', 'circle', 'square', 'moves', 'left',
         'right', 'grows', 'and', 'the', 'dog', 'runs']


def write_video(path, num_frames=12, size=(48, 64), seed=0):
    """Write an mp4 of moving noise: (num_frames, H, W, 3) uint8 frames."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    h, w = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 10,
                             (w, h))
    rng = np.random.default_rng(seed)
    for _ in range(num_frames):
        writer.write(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
    writer.release()
    return path


@pytest.fixture
def video_factory(tmp_path):
    def make(rel, **kwargs):
        return write_video(tmp_path / 'videos' / rel, **kwargs)
    return make


@pytest.fixture(scope='session')
def tiny_tokenizer_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp('tok')
    vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] + WORDS
    (d / 'vocab.txt').write_text('\n'.join(vocab) + '\n')
    return str(d)


@pytest.fixture
def mmaction_scope():
    """``default_scope='mmaction'`` for one test, the previous scope after.

    ``init_default_scope`` is process-global: a test that switched to
    mmaction without restoring would make later tests build by bare name in
    the wrong registry.
    """
    with DefaultScope.overwrite_default_scope('mmaction'):
        yield


@pytest.fixture(autouse=True)
def _restore_mmengine_checkpoint_loader():
    """Undo simvtp's safe-loading opt-in after every test.

    ``use_safe_checkpoint_loading`` (called by the tools' ``main``, which
    several tests run in-process) replaces mmengine's local loader for the
    whole process; tests that check the default behaviour must not see it.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    saved = dict(CheckpointLoader._schemes)
    yield
    CheckpointLoader._schemes.clear()
    CheckpointLoader._schemes.update(saved)
