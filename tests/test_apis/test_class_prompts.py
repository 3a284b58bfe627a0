"""Class names as text features, and the recogniser that starts as the
zero-shot classifier (VideoPoolNeck + TextPromptClsHead), on the tiny real
model: against encode_texts / encode_videos computed independently."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope

from simvtp.apis import (VideoTextEncoder, class_text_features,
                         encode_texts, encode_videos, read_class_names)
from simvtp.registry import MODELS

NAMES = ['dog runs left', 'red circle']
TEMPLATES = ['a {}', 'the {} and blue']


def _expected_rows(model, names, templates):
    rows = []
    for name in names:
        feats = encode_texts(model, [t.format(name) for t in templates],
                             progress=False)
        rows.append(F.normalize(feats.mean(0), dim=0))
    return torch.stack(rows)


def test_rows_are_normalised_prompt_ensembles(tiny_model, tiny_env):
    rows = class_text_features(tiny_env['checkpoint'], NAMES, TEMPLATES,
                               config=tiny_env['config'])
    assert rows.shape == (2, 32)
    expected = _expected_rows(tiny_model, NAMES, TEMPLATES)
    torch.testing.assert_close(rows, expected, atol=1e-5, rtol=0)
    # one template: the plain caption feature of each name
    plain = class_text_features(tiny_env['checkpoint'], NAMES,
                                config=tiny_env['config'])
    torch.testing.assert_close(
        plain, encode_texts(tiny_model, NAMES, progress=False),
        atol=1e-5, rtol=0)
    assert not torch.allclose(plain, rows, atol=1e-3)


def test_config_from_the_checkpoint_and_names_from_a_file(tiny_env,
                                                          tmp_path):
    state = torch.load(tiny_env['checkpoint'], weights_only=True)
    with_cfg = tmp_path / 'with_cfg.pth'
    text = Config.fromfile(tiny_env['config']).pretty_text
    torch.save(dict(state_dict=state['state_dict'], meta=dict(cfg=text)),
               with_cfg)
    names = tmp_path / 'classes.txt'
    names.write_text('\n'.join(NAMES) + '\n\n')
    assert read_class_names(str(names)) == NAMES
    got = class_text_features(str(with_cfg), str(names), TEMPLATES)
    torch.testing.assert_close(
        got, class_text_features(tiny_env['checkpoint'], NAMES, TEMPLATES,
                                 config=tiny_env['config']),
        atol=1e-6, rtol=0)


def test_bad_inputs_are_named(tiny_env, tmp_path):
    with pytest.raises(ValueError, match=r'meta\["cfg"\].*config=PATH'):
        class_text_features(tiny_env['checkpoint'], NAMES)  # no stored cfg
    with pytest.raises(ValueError, match='exactly one "{}"'):
        class_text_features(tiny_env['checkpoint'], NAMES, ['a video'],
                            config=tiny_env['config'])
    with pytest.raises(FileNotFoundError, match='nope.txt.*one class name'):
        read_class_names(str(tmp_path / 'nope.txt'))
    (tmp_path / 'empty.txt').write_text('\n')
    with pytest.raises(ValueError, match='empty'):
        read_class_names(str(tmp_path / 'empty.txt'))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        class_text_features(str(tmp_path / 'missing.pth'), NAMES,
                            config=tiny_env['config'])
    # a stored config whose tokenizer is not on this machine
    cfg = Config.fromfile(tiny_env['config'])
    text = cfg.pretty_text.replace(cfg.tokenizer, str(tmp_path / 'gone'))
    state = torch.load(tiny_env['checkpoint'], weights_only=True)
    moved = tmp_path / 'moved.pth'
    torch.save(dict(state_dict=state['state_dict'], meta=dict(cfg=text)),
               moved)
    with pytest.raises(FileNotFoundError,
                       match=r'config stored in .*moved.pth.*gone.*config='):
        class_text_features(str(moved), NAMES)


def _recognizer(tiny_model, tiny_env, text_init=True, logit_scale=7.0):
    """Recognizer3D: video-only UnifiedViT token map -> the pre-training's
    video_pool (VideoPoolNeck) -> TextPromptClsHead, all from the tiny
    checkpoint."""
    geometry = tiny_model.cfg.model.backbone
    ckpt = tiny_env['checkpoint']
    pool = tiny_model.video_pool
    cfg = dict(
        type='Recognizer3D',
        backbone=dict(type='UnifiedViT', arch=geometry.arch,
                      img_size=geometry.img_size,
                      patch_size=geometry.patch_size,
                      num_frames=geometry.num_frames,
                      tubelet_size=geometry.tubelet_size, with_text=False,
                      out_type='featmap',
                      init_cfg=dict(type='SimVTPPretrained', checkpoint=ckpt,
                                    prefix_map={'backbone.': ''})),
        neck=dict(type='VideoPoolNeck',
                  pool=dict(type='GridPoolProjection', in_dims=32,
                            grid=pool.grid),
                  init_cfg=dict(type='SimVTPPretrained', checkpoint=ckpt,
                                prefix_map={'video_pool.': 'pool.'})),
        cls_head=dict(type='TextPromptClsHead', num_classes=len(NAMES),
                      in_channels=32, logit_scale=logit_scale,
                      average_clips=None,
                      text_init=dict(checkpoint=ckpt, class_names=NAMES,
                                     templates=TEMPLATES,
                                     config=tiny_env['config'])
                      if text_init else None),
        data_preprocessor=dict(type='ActionDataPreprocessor',
                               mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375],
                               format_shape='NCTHW'))
    with DefaultScope.overwrite_default_scope('simvtp'):
        torch.manual_seed(0)
        model = MODELS.build(cfg)
        model.init_weights()
    return model


def _batch(tiny_model, paths, labels):
    from mmaction.structures import ActionDataSample
    pipe = VideoTextEncoder(tiny_model, progress=False).pipeline
    return dict(inputs=[pipe.video(p) for p in paths],
                data_samples=[ActionDataSample().set_gt_label(y)
                              for y in labels])


def test_untrained_recognizer_is_the_zero_shot_classifier(tiny_model,
                                                          tiny_env):
    model = _recognizer(tiny_model, tiny_env).eval()
    paths = tiny_env['paths'][:3]
    data = model.data_preprocessor(_batch(tiny_model, paths, [0, 1, 0]),
                                   training=False)
    with torch.no_grad():
        preds = model(**data, mode='predict')
    scores = torch.stack([p.pred_score.reshape(-1) for p in preds])
    videos = encode_videos(tiny_model, paths, progress=False)
    rows = _expected_rows(tiny_model, NAMES, TEMPLATES)
    torch.testing.assert_close(scores, 7.0 * videos @ rows.T, atol=1e-4,
                               rtol=0)


def test_fine_tuning_reaches_the_pool_and_the_text_rows(tiny_model, tiny_env):
    model = _recognizer(tiny_model, tiny_env).train()
    data = model.data_preprocessor(
        _batch(tiny_model, tiny_env['paths'][:2], [0, 1]), training=True)
    loss = model(**data, mode='loss')['loss_cls']
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    for param in (model.neck.pool.proj.weight, model.cls_head.fc_cls.weight,
                  model.backbone.blocks[0].attn.qkv.weight):
        assert param.grad is not None and param.grad.abs().sum() > 0


def test_without_text_init_the_head_is_random(tiny_model, tiny_env):
    model = _recognizer(tiny_model, tiny_env, text_init=False)
    weight = model.cls_head.fc_cls.weight
    rows = _expected_rows(tiny_model, NAMES, TEMPLATES)
    assert not torch.allclose(F.normalize(weight, dim=1), rows, atol=0.1)
    assert weight.std() < 0.05  # trunc_normal(std=0.02)


def test_head_forward_and_errors():
    from simvtp.models.heads import TextPromptClsHead
    head = TextPromptClsHead(num_classes=3, in_channels=4, logit_scale=5.0)
    head.init_weights()
    x = torch.randn(2, 4)
    w = head.fc_cls.weight
    expected = 5.0 * (x / x.norm(dim=1, keepdim=True)) @ (
        w / w.norm(dim=1, keepdim=True)).T
    torch.testing.assert_close(head(x), expected)
    with pytest.raises(ValueError, match=r'expects \(B, 4\)'):
        head(torch.randn(2, 4, 1))
    with pytest.raises(KeyError, match='class_names'):
        TextPromptClsHead(3, 4, text_init=dict(checkpoint='x.pth'))
    with pytest.raises(ValueError, match='logit_scale'):
        TextPromptClsHead(3, 4, logit_scale=0.0)


def test_head_refuses_a_class_count_that_does_not_fit(tiny_env):
    from simvtp.models.heads import TextPromptClsHead
    head = TextPromptClsHead(
        num_classes=3, in_channels=32,
        text_init=dict(checkpoint=tiny_env['checkpoint'], class_names=NAMES,
                       config=tiny_env['config']))
    with pytest.raises(ValueError, match='2 class names.*3 classes'):
        head.init_weights()


def test_neck_pools_the_token_map():
    from simvtp.models.layers import GridPoolProjection
    from simvtp.models.necks import VideoPoolNeck
    x = torch.randn(2, 8, 2, 4, 4)  # (B, C, T', H', W')
    mean, aux = VideoPoolNeck()(x)
    assert aux == {}
    torch.testing.assert_close(mean, x.mean(dim=(2, 3, 4)))
    torch.manual_seed(0)
    neck = VideoPoolNeck(pool=dict(type='GridPoolProjection', in_dims=8,
                                   grid=(2, 2, 2)))
    ref = GridPoolProjection(8, (2, 2, 2))
    ref.load_state_dict(neck.pool.state_dict())
    tokens = x.flatten(2).transpose(1, 2)
    torch.testing.assert_close(neck(x)[0], ref(tokens, (2, 4, 4)))
    with pytest.raises(ValueError, match="out_type='featmap'"):
        neck(tokens)
