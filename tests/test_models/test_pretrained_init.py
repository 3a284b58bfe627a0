"""Initialising a fine-tuning model from a pre-training checkpoint."""
import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.registry import init_default_scope

from simvtp.checkpoint import load_pretrained
from simvtp.registry import MODELS
from tests.tiny_model import build_tiny, tiny_geometry


class Finetuner(BaseModel):
    def __init__(self, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        geo = tiny_geometry()['backbone']
        self.video_encoder = MODELS.build(dict(type='UnifiedViT', **geo))
        self.text_encoder = MODELS.build(dict(type='UnifiedViT', **geo))
        self.vtm_head = MODELS.build(dict(type='VTMHead', embed_dims=32))
        self.new_head = nn.Linear(32, 3)

    def forward(self, *args, **kwargs):
        raise RuntimeError('not called')


@pytest.fixture
def pretrained(tmp_path):
    model = build_tiny(seed=1)
    path = tmp_path / 'epoch_1.pth'
    torch.save(dict(meta=dict(epoch=1), state_dict=model.state_dict()), path)
    return model, str(path)


def test_init_cfg_loads_after_the_children_init(pretrained):
    source, path = pretrained
    init_default_scope('simvtp')
    prefix_map = {'backbone.': ['video_encoder.', 'text_encoder.'],
                  'vtm_head.': 'vtm_head.'}
    model = Finetuner(init_cfg=dict(type='SimVTPPretrained', checkpoint=path,
                                    prefix_map=prefix_map))
    model.init_weights()
    src = source.state_dict()
    for key, value in model.state_dict().items():
        if key.startswith(('video_encoder.', 'text_encoder.')):
            tail = key.split('.', 1)[1]
            torch.testing.assert_close(value, src['backbone.' + tail],
                                       rtol=0, atol=0)
        elif key.startswith('vtm_head.'):
            torch.testing.assert_close(value, src[key], rtol=0, atol=0)


def test_report_lists_missing_unused_and_mismatch(pretrained):
    source, path = pretrained
    init_default_scope('simvtp')
    model = Finetuner()
    model.init_weights()
    with torch.no_grad():
        model.new_head.weight.fill_(7.0)
    # a source tensor with the wrong shape is reported and left alone
    state = source.state_dict()
    state['vtm_head.fc.weight'] = torch.zeros(5, 5)
    report = load_pretrained(model, state, {'backbone.': 'video_encoder.',
                                            'vtm_head.': 'vtm_head.'})
    assert [d for _, d, _, _ in report.shape_mismatch] == [
        'vtm_head.fc.weight']
    assert 'new_head.weight' in report.missing
    assert any(k.startswith('text_encoder.') for k in report.missing)
    assert any(k.startswith('video_decoder.') for k in report.unused)
    assert torch.all(model.new_head.weight == 7.0)
    text = str(report)
    assert 'shape mismatch' in text and 'not used' in text
    assert 'blocks.{0-1}' in text  # block indices collapsed
    with pytest.raises(RuntimeError, match='strict'):
        load_pretrained(model, state, {'backbone.': 'video_encoder.'},
                        strict=True, logger=None)


def test_missing_file_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match='pretrain_synthetic.py'):
        load_pretrained(nn.Linear(2, 2), str(tmp_path / 'nope.pth'))


def test_layer_depth_of_unified_vit():
    init_default_scope('simvtp')
    vit = MODELS.build(dict(type='UnifiedViT',
                            **tiny_geometry(layers=2)['backbone']))
    assert vit.get_layer_depth('backbone.patch_embed.proj.weight',
                               'backbone.') == (0, 4)
    assert vit.get_layer_depth('backbone.blocks.1.attn.qkv.weight',
                               'backbone.') == (2, 4)
    assert vit.get_layer_depth('backbone.norm.bias', 'backbone.') == (3, 4)
    with pytest.raises(ValueError, match='prefix'):
        vit.get_layer_depth('head.weight', 'backbone.')


def test_checkpoints_with_a_0d_logit_scale_still_load(pretrained, tmp_path):
    """Checkpoints written before VTCHead.logit_scale became (1,) load
    through both loaders (the API's and load_pretrained)."""
    from simvtp.apis.inference import load_weights
    source, _ = pretrained
    state = source.state_dict()
    state['vtc_head.logit_scale'] = state['vtc_head.logit_scale'].reshape(())
    state['vtc_head.logit_scale'].fill_(2.5)
    path = tmp_path / 'old.pth'
    torch.save(dict(state_dict=state), path)
    fresh = build_tiny(seed=3)
    report = load_pretrained(fresh, str(path), logger=None)
    assert not report.shape_mismatch
    assert fresh.vtc_head.logit_scale.shape == (1,)
    assert fresh.vtc_head.logit_scale.item() == 2.5
    fresh = build_tiny(seed=3)
    load_weights(fresh, str(path))
    assert fresh.vtc_head.logit_scale.item() == 2.5
