"""mmaction2's VideoMAE ``VisionTransformer`` checkpoints -> simvtp backbone.

mmaction2 1.x (``mmaction/models/backbones/vit_mae.py``) names the tensors of
its recogniser checkpoints (``{'state_dict': ...}``) as::

    backbone.patch_embed.projection.{weight,bias}   (Conv3d cube embedding)
    backbone.pos_embed                              (sin-cos buffer, stored)
    backbone.blocks.{i}.norm1 / norm2 .{weight,bias}
    backbone.blocks.{i}.attn.{qkv.weight, q_bias, v_bias, proj.*}
    backbone.blocks.{i}.mlp.layers.0.0.*            (FFN fc1)
    backbone.blocks.{i}.mlp.layers.1.*              (FFN fc2)
    backbone.blocks.{i}.gamma_1 / gamma_2           (only with init_values)
    backbone.fc_norm.*  (use_mean_pooling)  or  backbone.norm.*
    cls_head.fc_cls.{weight,bias}

They are fine-tuned classifiers: the head has no counterpart, there is no
pixel decoder, and the post-pool ``fc_norm`` is dropped (the pre-training
encoder normalises tokens) unless ``keep_fc_norm`` keeps it for a
recognition encoder (``UnifiedViT(final_norm=False, fc_norm=True,
out_type='avg_featmap')``, which then computes what vit_mae computes).
"""
from typing import Dict, Tuple

import torch

from .common import (MMACTION_BLOCK_RENAMES, KeyMapper, account_top_level,
                     check_sincos, convert_blocks, find_state_dict,
                     strip_common_prefix)
from .report import ConversionReport
from .videomae import TEXT_SIDE_NOTE, _final_norm

__all__ = ['mmaction_vit_to_simvtp']


def mmaction_vit_to_simvtp(checkpoint: Dict, source: str = '',
                           keep_fc_norm: bool = False
                           ) -> Tuple[Dict[str, torch.Tensor],
                                      ConversionReport]:
    """An mmaction2 VideoMAE ViT checkpoint -> simvtp ``backbone.*``.

    Args:
        checkpoint: the loaded mmaction2 checkpoint (``'state_dict'``) or a
            state dict, with or without the recogniser's ``backbone.``
            prefix.
        source: a description of where it came from.
        keep_fc_norm: map ``fc_norm.*`` to ``backbone.fc_norm.*`` instead
            of dropping it (see the module docstring).
    """
    report = ConversionReport('mmaction2-vit-mae', 'simvtp', source)
    state, container, extras = find_state_dict(checkpoint,
                                               ('state_dict', 'model'))
    account_top_level(report, container, extras)
    state = strip_common_prefix(state, 'module.', report)
    src = 'backbone.' if any(k.startswith('backbone.') for k in state) \
        else ''
    mapper = KeyMapper(state, report)
    for name in ('weight', 'bias'):
        mapper.take_if(f'{src}patch_embed.projection.{name}',
                       f'backbone.patch_embed.proj.{name}',
                       f'the source has no {src}patch_embed.projection.'
                       f'{name}')
    if convert_blocks(mapper, src + 'blocks.', 'backbone.blocks.',
                      renames=MMACTION_BLOCK_RENAMES) == 0:
        report.missing['backbone.blocks.*'] = \
            f'the source has no {src}blocks.*'
    _final_norm(mapper, src, 'backbone.', keep_fc_norm)
    if mapper.has(src + 'pos_embed'):
        check_sincos(mapper, src + 'pos_embed', 'backbone.video_pos_embed')
    if src:
        mapper.drop_prefix('cls_head.', 'classification head (no '
                           'counterpart in SimVTP)')
        mapper.drop_prefix('data_preprocessor.', 'normalisation buffers of '
                           "the recogniser's data preprocessor")
    report.notes.append('a recogniser checkpoint: only the encoder is '
                        'converted; video_decoder.* keeps its initialisation')
    report.notes.append(TEXT_SIDE_NOTE)
    out = mapper.finish('not part of mmaction2 VisionTransformer (vit_mae)')
    return out, report
