"""Tiny SimVTP configs for tests: one place that writes the geometry out."""
import torch
from mmengine.registry import init_default_scope

import simvtp  # noqa: F401
from simvtp.registry import MODELS


def tiny_geometry(dims=32, layers=2, heads=2, mlp_ratio=2, frames=4,
                  size=32, patch=16, vocab=40, max_text_len=16, dec_dims=16,
                  dec_depth=1, dec_heads=1, tubelet=2):
    """The geometry keys of every SimVTP part for a ``dims``-wide backbone,
    without types: merged into a shipped config (``model = dict(...)`` in
    a child config) or completed by :func:`tiny_simvtp_cfg`."""
    return dict(
        backbone=dict(arch=dict(embed_dims=dims, num_layers=layers,
                                num_heads=heads, mlp_ratio=mlp_ratio),
                      img_size=size, patch_size=patch, num_frames=frames,
                      tubelet_size=tubelet, vocab_size=vocab,
                      max_text_len=max_text_len),
        video_decoder=dict(in_dims=dims, embed_dims=dec_dims,
                           depth=dec_depth, num_heads=dec_heads,
                           patch_size=patch, tubelet_size=tubelet),
        text_decoder=dict(in_dims=dims, vocab_size=vocab),
        pixel_head=dict(patch_size=patch, tubelet_size=tubelet),
        vtc_head=dict(embed_dims=dims),
        vtm_head=dict(embed_dims=dims))


def tiny_simvtp_cfg(**overrides):
    """A SimVTP config whose parts all match a small backbone.

    ``overrides``: :func:`tiny_geometry` arguments, and top-level model
    keys: dict values are merged one level deep into the part's config
    (``backbone=dict(attn_impl='math')``), other values replace.
    ``drop_masked_text=True`` also gives the word decoder its mask token.
    """
    geometry_args = tiny_geometry.__code__.co_varnames[
        :tiny_geometry.__code__.co_argcount]
    cfg = tiny_geometry(**{k: overrides.pop(k) for k in list(overrides)
                           if k in geometry_args})
    types = dict(backbone='UnifiedViT', video_decoder='VideoMAEDecoder',
                 text_decoder='TextDecoder',
                 pixel_head='PixelReconstructionHead', vtc_head='VTCHead',
                 vtm_head='VTMHead')
    cfg = dict(type='SimVTP',
               **{k: dict(type=types[k], **v) for k, v in cfg.items()})
    cfg['vtc_head']['learnable_temperature'] = True
    if overrides.get('drop_masked_text'):
        cfg['text_decoder']['mask_token'] = True
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict) and \
                value.get('type', cfg[key]['type']) == cfg[key]['type']:
            cfg[key] = dict(cfg[key], **value)
        else:
            cfg[key] = value
    return cfg


def build_tiny(seed=0, **kwargs):
    """Build and initialise :func:`tiny_simvtp_cfg` (torch seeded)."""
    init_default_scope('simvtp')
    if seed is not None:
        torch.manual_seed(seed)
    model = MODELS.build(tiny_simvtp_cfg(**kwargs))
    model.init_weights()
    return model


def synthetic_eval_config(repo, tokenizer, model, clip_len, frame_interval,
                          size):
    """Config text: the synthetic pre-training config with ``model`` (a
    dict), the tests' ``tokenizer`` folder and a test pipeline that reads
    ``clip_len`` frames every ``frame_interval`` at ``size`` px (what the
    API's encode_videos / encode_texts use). Callers append their own
    ``test_dataloader`` (a line naming ``pipeline=test_pipeline``)."""
    return f"""
_base_ = ['{repo}/configs/simvtp/pretrain_synthetic.py']
synthetic_data = None
tokenizer = '{tokenizer}'
model = {model!r}
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len={clip_len},
         frame_interval={frame_interval}, num_clips=1, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=({size}, {size}), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='TokenizeText', tokenizer=tokenizer, max_length=16),
    dict(type='PackVideoTextInputs'),
]
"""
