"""init_model and per-clip video features against a manual computation."""
import cv2
import decord
import numpy as np
import pytest
import torch
from mmengine.config import Config

import simvtp  # noqa: F401
from simvtp.apis import (CheckpointMismatchError, VideoFeatureExtractor,
                         VideoReadError, dense_clip_indices, init_model)

from tests.tiny_model import tiny_simvtp_cfg

TINY = tiny_simvtp_cfg(dims=16, layers=2, heads=2, size=16, patch=8,
                       frames=4, vocab=30, max_text_len=12,
                       objectives=('vtc', ))


def tiny_config():
    return Config(dict(model=TINY, default_scope='simvtp'))


def test_dense_clip_indices_hand_cases():
    idx = dense_clip_indices(40, clip_len=4, frame_interval=2)
    assert idx.shape == (5, 4)  # non-overlapping 8-frame spans
    assert idx[0].tolist() == [0, 2, 4, 6] and idx[4].tolist() == [32, 34,
                                                                    36, 38]
    # stride 4 < span 8: spans centred on [4k, 4k + 4), clamped
    idx = dense_clip_indices(40, clip_len=4, frame_interval=2, stride=4)
    assert idx.shape == (10, 4)
    assert idx[0].tolist() == [0, 0, 2, 4]
    assert idx[9].tolist() == [34, 36, 38, 39]
    # shorter than one clip: one clip, last frame repeated
    assert dense_clip_indices(5, 4, 2).tolist() == [[0, 2, 4, 4]]
    with pytest.raises(ValueError, match='no frames'):
        dense_clip_indices(0, 4, 2)


def test_extractor_equals_manual_encoding(video_factory):
    torch.manual_seed(0)
    model = init_model(tiny_config())
    path = str(video_factory('a.mp4', num_frames=20, size=(48, 64)))
    extractor = VideoFeatureExtractor(
        model, clip_len=4, frame_interval=2, batch_size=2,
        transforms=[dict(type='Resize', scale=(16, 16), keep_ratio=False),
                    dict(type='FormatShape', input_format='NCTHW')])
    feats, info = extractor.extract(path)
    assert feats.shape == (3, 16) and info['num_frames'] == 20
    # manual: decode, resize, normalise, embed + encode, mean over tokens
    frames = decord.VideoReader(path).get_batch(list(range(20))).asnumpy()
    mean = np.array([123.675, 116.28, 103.53])
    std = np.array([58.395, 57.12, 57.375])
    vit = model.backbone
    for k, clip in enumerate(dense_clip_indices(20, 4, 2)):
        imgs = np.stack([cv2.resize(frames[i], (16, 16)) for i in clip])
        x = torch.from_numpy((imgs - mean) / std).float()
        x = x.permute(3, 0, 1, 2)[None]  # (1, C, T, H, W)
        with torch.no_grad():
            out, _ = vit.encode(vit.embed_video(x), None, None)
        np.testing.assert_allclose(feats[k], out[0].mean(0).numpy(),
                                   rtol=1e-4, atol=1e-5)


def test_extractor_gives_the_models_pooled_feature(video_factory):
    """A model with a ``video_pool`` (grid-pooled VTC) gives that pooled
    feature per clip, not the mean token."""
    torch.manual_seed(0)
    cfg = tiny_config()
    cfg.model.update(vtc_video='unmasked', video_pool=dict(
        type='GridPoolProjection', grid=(2, 1, 1), out_dims=12))
    model = init_model(cfg)
    path = str(video_factory('g.mp4', num_frames=12, size=(32, 32)))
    transforms = [dict(type='Resize', scale=(16, 16), keep_ratio=False),
                  dict(type='FormatShape', input_format='NCTHW')]
    extractor = VideoFeatureExtractor(model, clip_len=4, frame_interval=2,
                                      transforms=transforms)
    feats = extractor(path)
    assert extractor.feature_dim == 12 and feats.shape == (2, 12)
    frames = decord.VideoReader(path).get_batch(list(range(12))).asnumpy()
    clip = dense_clip_indices(12, 4, 2)[0]
    imgs = np.stack([cv2.resize(frames[i], (16, 16)) for i in clip])
    x = model.data_preprocessor.normalize(
        torch.from_numpy(imgs).permute(3, 0, 1, 2)[None].contiguous())
    with torch.no_grad():
        feature = model.extract_features(dict(video=x))['video_feature']
    np.testing.assert_allclose(feats[0], feature[0].numpy(), rtol=1e-4,
                               atol=1e-5)


def test_extractor_read_errors(tmp_path):
    model = init_model(tiny_config())
    extractor = VideoFeatureExtractor(model, clip_len=4, frame_interval=2)
    with pytest.raises(VideoReadError, match='nope.mp4: no such file'):
        extractor(str(tmp_path / 'nope.mp4'))
    (tmp_path / 'empty.mp4').write_bytes(b'')
    with pytest.raises(VideoReadError, match=r'empty \(0 bytes\)'):
        extractor(str(tmp_path / 'empty.mp4'))
    with pytest.raises(ValueError, match='tubelet'):
        VideoFeatureExtractor(model, clip_len=3)


def test_init_model_checkpoint_reports(tmp_path):
    model = init_model(tiny_config())
    assert not model.training
    state = model.state_dict()
    path = tmp_path / 'ckpt.pth'
    partial = {k: v for k, v in state.items() if not k.startswith('vtc')}
    partial['extra.weight'] = torch.zeros(1)
    torch.save(dict(state_dict=partial), path)
    loaded = init_model(tiny_config(), str(path))
    for k in partial:
        if k in state:
            torch.testing.assert_close(loaded.state_dict()[k], partial[k])
    with pytest.raises(CheckpointMismatchError, match='missing keys'):
        init_model(tiny_config(), str(path), strict=True)
    wrong = dict(state, **{'backbone.norm.weight': torch.zeros(3)})
    torch.save(wrong, path)
    with pytest.raises(CheckpointMismatchError,
                       match=r'backbone.norm.weight: file \(3,\)'):
        init_model(tiny_config(), str(path))
    torch.save({'head.w': torch.zeros(2)}, path)
    with pytest.raises(CheckpointMismatchError, match='none of its 1 keys'):
        init_model(tiny_config(), str(path))
    with pytest.raises(FileNotFoundError, match='absent.pth'):
        init_model(tiny_config(), str(tmp_path / 'absent.pth'))
