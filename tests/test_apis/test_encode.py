"""encode_videos / encode_texts / similarity on a tiny real model."""
import decord
import numpy as np
import pytest
import torch

from simvtp.apis import (CheckpointMismatchError, InferencePipeline,
                         VideoReadError, VideoTextEncoder, encode_texts,
                         encode_videos, eval_pipeline_of, init_model,
                         similarity)


def test_video_features_shapes_and_norm(tiny_model, tiny_env):
    feats = encode_videos(tiny_model, tiny_env['paths'], batch_size=3,
                          progress=False)
    assert feats.shape == (len(tiny_env['paths']), 32)
    assert feats.dtype == torch.float32
    torch.testing.assert_close(feats.norm(dim=1),
                               torch.ones(len(feats)), atol=1e-5, rtol=0)
    # batching does not change a video's feature
    alone = encode_videos(tiny_model, tiny_env['paths'][2:3], batch_size=1,
                          progress=False)
    torch.testing.assert_close(alone[0], feats[2], atol=1e-5, rtol=0)


def test_frames_and_tensors_match_paths(tiny_model, tiny_env):
    path = tiny_env['paths'][3]
    frames = decord.VideoReader(path).get_batch(
        list(range(13))).asnumpy()  # (T, H, W, 3) RGB, all frames
    enc = VideoTextEncoder(tiny_model, progress=False)
    from_path = enc.encode_videos([path])
    from_frames = enc.encode_videos([frames])
    torch.testing.assert_close(from_frames, from_path, atol=1e-6, rtol=0)
    packed = enc.pipeline.video(path)  # (1, C, T, H, W) uint8
    assert packed.shape == (1, 3, 4, 32, 32)
    from_tensor = enc.encode_videos([packed[0]])
    torch.testing.assert_close(from_tensor, from_path, atol=1e-6, rtol=0)


def test_multi_view_is_the_normalised_mean_of_views(tiny_model, tiny_env):
    path = tiny_env['paths'][5]
    enc = VideoTextEncoder(tiny_model, num_clips=3, progress=False)
    views = enc.pipeline.video(path)
    assert views.shape[0] == 3
    single = VideoTextEncoder(tiny_model, progress=False)
    # each view alone, then by hand: mean of raw features, normalised
    raw = [tiny_model.extract_features(dict(
        video=tiny_model.data_preprocessor.normalize(v[None])))[
            'video_feature'][0] for v in views]
    expected = torch.nn.functional.normalize(torch.stack(raw).mean(0), dim=0)
    got = enc.encode_videos([path])[0]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    assert not torch.allclose(got, single.encode_videos([path])[0])


def test_text_features_shapes_norm_and_padding(tiny_model, tiny_env):
    caps = ['a red circle', 'the dog runs left and right', 'blue']
    feats = encode_texts(tiny_model, caps, progress=False)
    assert feats.shape == (3, 32)
    torch.testing.assert_close(feats.norm(dim=1), torch.ones(3),
                               atol=1e-5, rtol=0)
    # a caption alone (no padding) equals the same caption in a padded batch
    alone = encode_texts(tiny_model, caps[2], progress=False)
    torch.testing.assert_close(alone[0], feats[2], atol=1e-5, rtol=0)


def test_similarity_is_cosine():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 5)), rng.normal(size=(4, 5))
    expected = np.array([[x @ y / np.linalg.norm(x) / np.linalg.norm(y)
                          for y in b] for x in a])
    np.testing.assert_allclose(similarity(a, b).numpy(), expected,
                               atol=1e-6)
    assert similarity(a[0], b).shape == (1, 4)
    with pytest.raises(ValueError, match=r'\(3, 5\) and \(2, 4\)'):
        similarity(a, b[:2, :4])


def test_bad_inputs_are_named(tiny_model, tmp_path):
    enc = VideoTextEncoder(tiny_model, progress=False)
    with pytest.raises(TypeError, match=r'\(T, H, W, 3\)'):
        enc.encode_videos([np.zeros((4, 8, 8), np.uint8)])
    missing = str(tmp_path / 'nope.mp4')
    with pytest.raises(VideoReadError, match='nope.mp4'):
        enc.encode_videos([missing])
    out = enc.encode_videos([missing], skip_broken=True)
    assert out.features.shape[0] == 0 and out.failed[0][1] == missing


def test_pipeline_split_drops_training_steps(tiny_env):
    from mmengine.config import Config
    cfg = Config.fromfile(tiny_env['config'])
    steps = list(cfg.train_pipeline)  # the base config's, with masking
    pipe = InferencePipeline(steps)
    names = [s['type'] for s in pipe.config['video']]
    assert 'TubeMasking' not in names and 'TextMasking' not in names
    assert [s['type'] for s in pipe.config['text']] == ['TokenizeText']
    assert eval_pipeline_of(cfg)[1]['clip_len'] == 4
    with pytest.raises(ValueError, match='no decoding step'):
        InferencePipeline([dict(type='FormatShape', input_format='NCTHW')])


def test_init_model_reports_mismatched_checkpoints(tiny_env, tmp_path):
    state = torch.load(tiny_env['checkpoint'], weights_only=True)['state_dict']
    key = 'backbone.cls_token' if 'backbone.cls_token' in state else \
        sorted(k for k in state if k.startswith('backbone.'))[0]
    bad = dict(state)
    bad[key] = torch.zeros(7, 7)
    path = str(tmp_path / 'bad_shape.pth')
    torch.save(dict(state_dict=bad), path)
    with pytest.raises(CheckpointMismatchError, match=key.replace('.', r'\.')):
        init_model(tiny_env['config'], path)
    other = {f'other.{k}': v for k, v in state.items()}
    path = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict=other), path)
    with pytest.raises(CheckpointMismatchError, match='none of its'):
        init_model(tiny_env['config'], path)
