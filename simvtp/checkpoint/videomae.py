"""VideoMAE checkpoints (the paper's initialisation) -> simvtp.

Two layouts of the VideoMAE code base are recognised:

* pre-training (``checkpoint-N.pth`` of ``run_mae_pretraining.py``, e.g. the
  K400 ViT-B 1600-epoch model SimVTP starts from): ``'model'`` with
  ``encoder.{patch_embed.proj, blocks.{i}, norm}.*``,
  ``decoder.{blocks.{i}, norm, head}.*``, ``encoder_to_decoder.weight`` and
  ``mask_token`` -> ``backbone.*`` and ``video_decoder.*``;
* fine-tuning (classification): bare ``patch_embed.proj / blocks / norm or
  fc_norm / head`` -> ``backbone.*`` (the classifier head and the post-pool
  ``fc_norm`` have no counterpart).

The text side (``backbone.text_embeddings``, ``text_decoder``, ``vtm_head``) is
not part of VideoMAE; initialise the text embeddings from BERT
(:func:`simvtp.checkpoint.bert.bert_to_simvtp`).
"""
from typing import Dict, Tuple

import torch

from .common import (KeyMapper, account_top_level, check_sincos,
                     convert_blocks, find_state_dict, strip_common_prefix)
from .report import ConversionReport
from .simvtp_reference import convert_video_decoder, convert_video_encoder

__all__ = ['videomae_to_simvtp', 'TEXT_SIDE_NOTE', 'FC_NORM_REASON']

TEXT_SIDE_NOTE = (
    'backbone.text_embeddings.*, text_decoder.*, vtm_head.* (and '
    'vtc_head.logit_scale) are not part of this format: add BERT embeddings '
    'with tools/model_converters/bert_to_simvtp.py --base OUT, the rest '
    'keeps its initialisation')
FC_NORM_REASON = ('post-pooling LayerNorm of a classifier (norm=Identity, '
                  'use_mean_pooling); the pre-training UnifiedViT has no slot '
                  'for it (keep it for a fc_norm=True encoder with '
                  'keep_fc_norm)')


def videomae_to_simvtp(checkpoint: Dict, source: str = ''
                       ) -> Tuple[Dict[str, torch.Tensor], ConversionReport]:
    """A VideoMAE pre-training (or fine-tuning) checkpoint -> simvtp.

    Args:
        checkpoint: the loaded file (``'model'``/``'module'`` entry) or a
            bare state dict.
        source: a description of where it came from.

    Returns:
        ``(state_dict, report)`` with ``backbone.*`` (and ``video_decoder.*``
        for pre-training checkpoints).
    """
    report = ConversionReport('videomae', 'simvtp', source)
    state, container, extras = find_state_dict(checkpoint,
                                               ('model', 'module'))
    account_top_level(report, container, extras)
    state = strip_common_prefix(state, 'module.', report)
    mapper = KeyMapper(state, report)
    if any(k.startswith('encoder.') for k in state):
        report.source_format = 'videomae-pretrain'
        convert_video_encoder(mapper, 'encoder.', 'backbone.')
        convert_video_decoder(mapper, 'decoder.', '', 'video_decoder.')
    else:
        report.source_format = 'videomae-finetune'
        for name in ('patch_embed.proj.weight', 'patch_embed.proj.bias'):
            mapper.take_if(name, 'backbone.' + name,
                           f'the source has no {name}')
        if convert_blocks(mapper, 'blocks.', 'backbone.blocks.') == 0:
            report.missing['backbone.blocks.*'] = 'the source has no blocks.*'
        _final_norm(mapper, '', 'backbone.')
        if mapper.has('pos_embed'):
            check_sincos(mapper, 'pos_embed', 'backbone.video_pos_embed')
        mapper.drop_prefix('head.', 'classification head (no counterpart '
                           'in SimVTP)')
        report.notes.append('a fine-tuned (classification) checkpoint: only '
                            'the encoder is converted; video_decoder.* keeps '
                            'its initialisation')
    report.notes.append(TEXT_SIDE_NOTE)
    out = mapper.finish('not part of the VideoMAE layout')
    return out, report


def _final_norm(mapper: KeyMapper, src: str, dst: str,
                keep_fc_norm: bool = False) -> None:
    """``{src}norm`` -> ``{dst}norm``; ``{src}fc_norm`` is dropped (lossy),
    or with ``keep_fc_norm`` kept as ``{dst}fc_norm`` (for a UnifiedViT
    built with ``final_norm=False, fc_norm=True`` and a pooled out_type)."""
    has_norm = mapper.has(src + 'norm.weight')
    if has_norm:
        mapper.take(src + 'norm.weight', dst + 'norm.weight')
        mapper.take_if(src + 'norm.bias', dst + 'norm.bias',
                       f'the source has no {src}norm.bias')
    has_fc_norm = mapper.has(src + 'fc_norm.weight') or \
        mapper.has(src + 'fc_norm.bias')
    if has_fc_norm and keep_fc_norm:
        for name in ('weight', 'bias'):
            mapper.take_if(f'{src}fc_norm.{name}', f'{dst}fc_norm.{name}',
                           f'the source has no {src}fc_norm.{name}')
        if not has_norm:
            mapper.report.notes.append(
                'post-pool fc_norm kept: build the encoder with '
                "final_norm=False, fc_norm=True, out_type='avg_featmap' "
                "(vit_mae's use_mean_pooling)")
        return
    if has_fc_norm:
        mapper.drop_prefix(src + 'fc_norm.', FC_NORM_REASON)
        mapper.report.lossy.append(
            f'{src}fc_norm.* dropped: the source normalises the mean-pooled '
            'feature, simvtp normalises every token before pooling')
    if not has_norm:
        for name in ('norm.weight', 'norm.bias'):
            mapper.report.missing[dst + name] = (
                'the source has no final per-token norm (it uses fc_norm '
                'after pooling); it keeps its initialisation')
