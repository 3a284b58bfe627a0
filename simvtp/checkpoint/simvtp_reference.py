"""The authors' SimVTP pre-training checkpoint <-> a simvtp checkpoint.

Reference layout (``checkpoint-N.pth``: ``{'model', 'optimizer', 'epoch',
'scaler', 'args'}``; see docs/checkpoints.md)::

    encoder.patch_embed.proj.*      -> backbone.patch_embed.proj.*
    encoder.blocks.{i}.*            -> backbone.blocks.{i}.*
    encoder.norm.*                  -> backbone.norm.*
    text_embeddings.*               -> backbone.text_embeddings.*
    decoder.blocks.{i}.* / norm / head -> video_decoder.blocks.{i}.* / ...
    encoder_to_decoder.weight       -> video_decoder.encoder_to_decoder.weight
    mask_token                      -> video_decoder.mask_token
    text_cls.*                      -> text_decoder.head.*
    vtm_head.*                      -> vtm_head.fc.*

plus ``vtc_head.logit_scale = log(1 / 0.05)``, the reference's fixed VTC
temperature, which the reference does not store. The fixed sin-cos tables are
not stored on either side. :func:`simvtp_to_reference` is the inverse.
"""
import math
from typing import Dict, Optional, Tuple

import torch

from .common import (KeyMapper, account_top_level, check_sincos,
                     convert_blocks, find_state_dict, strip_common_prefix)
from .report import ConversionReport

__all__ = ['reference_to_simvtp', 'simvtp_to_reference',
           'convert_video_encoder', 'convert_video_decoder',
           'REFERENCE_TEMPERATURE']

REFERENCE_TEMPERATURE = 0.05
TEXT_EMBEDDING_TABLES = ('word_embeddings.weight',
                         'position_embeddings.weight',
                         'token_type_embeddings.weight', 'LayerNorm.weight',
                         'LayerNorm.bias')
TEXT_EMBEDDING_BUFFERS = ('position_ids', 'token_type_ids')
BUFFER_NOTE = ('a transformers buffer (0..L-1 / zeros), not a weight: '
               "simvtp's TextEmbeddings recomputes it")

# simvtp prefix <-> reference prefix for the non-block tensors
_SINGLE = (
    ('backbone.patch_embed.proj.weight', 'encoder.patch_embed.proj.weight'),
    ('backbone.patch_embed.proj.bias', 'encoder.patch_embed.proj.bias'),
    ('backbone.norm.weight', 'encoder.norm.weight'),
    ('backbone.norm.bias', 'encoder.norm.bias'),
    ('video_decoder.norm.weight', 'decoder.norm.weight'),
    ('video_decoder.norm.bias', 'decoder.norm.bias'),
    ('video_decoder.head.weight', 'decoder.head.weight'),
    ('video_decoder.head.bias', 'decoder.head.bias'),
    ('video_decoder.encoder_to_decoder.weight', 'encoder_to_decoder.weight'),
    ('video_decoder.mask_token', 'mask_token'),
    ('text_decoder.head.weight', 'text_cls.weight'),
    ('text_decoder.head.bias', 'text_cls.bias'),
    ('vtm_head.fc.weight', 'vtm_head.weight'),
    ('vtm_head.fc.bias', 'vtm_head.bias'),
) + tuple((f'backbone.text_embeddings.{n}', f'text_embeddings.{n}')
          for n in TEXT_EMBEDDING_TABLES)


def convert_video_encoder(mapper: KeyMapper, src: str = 'encoder.',
                          dst: str = 'backbone.') -> int:
    """VideoMAE-style encoder ``{src}patch_embed.proj / blocks / norm``.

    Returns the number of blocks. ``{src}pos_embed`` (if stored) is checked
    against the sin-cos table; ``{src}head.*`` is dropped (an identity in
    pre-training).
    """
    for name in ('patch_embed.proj.weight', 'patch_embed.proj.bias',
                 'norm.weight', 'norm.bias'):
        mapper.take_if(src + name, dst + name,
                       f'the source has no {src + name}')
    depth = convert_blocks(mapper, src + 'blocks.', dst + 'blocks.')
    if depth == 0:
        mapper.report.missing[dst + 'blocks.*'] = \
            f'the source has no {src}blocks.*'
    if mapper.has(src + 'pos_embed'):
        check_sincos(mapper, src + 'pos_embed', dst + 'video_pos_embed')
    mapper.drop_prefix(src + 'head.', 'the encoder head is an identity in '
                       'pre-training; a stored one is not used by SimVTP')
    return depth


def convert_video_decoder(mapper: KeyMapper, src: str = 'decoder.',
                          root: str = '', dst: str = 'video_decoder.') -> int:
    """VideoMAE-style pixel decoder plus ``encoder_to_decoder``/``mask_token``.

    ``root`` is the prefix of ``encoder_to_decoder``, ``mask_token`` and the
    (unstored) decoder ``pos_embed``.
    """
    for name in ('norm.weight', 'norm.bias', 'head.weight', 'head.bias'):
        mapper.take_if(src + name, dst + name,
                       f'the source has no {src + name}')
    mapper.take_if(root + 'encoder_to_decoder.weight',
                   dst + 'encoder_to_decoder.weight',
                   f'the source has no {root}encoder_to_decoder.weight')
    mapper.take_if(root + 'mask_token', dst + 'mask_token',
                   f'the source has no {root}mask_token')
    depth = convert_blocks(mapper, src + 'blocks.', dst + 'blocks.')
    for key in (root + 'pos_embed', src + 'pos_embed'):
        if mapper.has(key):
            check_sincos(mapper, key)
    return depth


def reference_to_simvtp(checkpoint: Dict,
                        temperature: Optional[float] = REFERENCE_TEMPERATURE,
                        source: str = ''
                        ) -> Tuple[Dict[str, torch.Tensor], ConversionReport]:
    """The authors' pre-training checkpoint -> a simvtp state dict.

    Args:
        checkpoint: the loaded ``checkpoint-N.pth`` (with ``'model'``) or its
            bare ``'model'`` state dict.
        temperature: write ``vtc_head.logit_scale = log(1 / temperature)``
            (the reference's fixed 0.05); None leaves it out.
        source: a description of where ``checkpoint`` came from.

    Returns:
        ``(state_dict, report)``; the state dict loads into ``SimVTP`` built
        with the matching architecture (see docs/checkpoints.md).
    """
    report = ConversionReport('simvtp-reference-pretrain', 'simvtp', source)
    state, container, extras = find_state_dict(checkpoint,
                                               ('model', 'module'))
    account_top_level(report, container, extras)
    state = strip_common_prefix(state, 'module.', report)
    mapper = KeyMapper(state, report)
    convert_video_encoder(mapper, 'encoder.', 'backbone.')
    convert_video_decoder(mapper, 'decoder.', '', 'video_decoder.')
    for sim, ref in _SINGLE:
        if not ref.startswith(('text_embeddings.', 'text_cls.',
                               'vtm_head.')):
            continue  # handled above
        mapper.take_if(ref, sim, f'the source has no {ref}')
    for buf in TEXT_EMBEDDING_BUFFERS:
        key = f'text_embeddings.{buf}'
        if mapper.has(key):
            mapper.drop(key, BUFFER_NOTE)
    if temperature is not None:
        mapper.put('vtc_head.logit_scale',
                   torch.tensor([math.log(1.0 / temperature)]),  # (1,)
                   f'<fixed temperature {temperature}>')
        report.notes.append(
            f'vtc_head.logit_scale = log(1/{temperature}): the reference '
            f'uses a fixed VTC temperature of {temperature} and does not '
            'store it')
    out = mapper.finish('not part of the reference pre-training layout')
    return out, report


def simvtp_to_reference(checkpoint: Dict, qkv_bias: str = 'split',
                        source: str = ''
                        ) -> Tuple[Dict[str, torch.Tensor], ConversionReport]:
    """A simvtp (pre-training) state dict -> the authors' ``'model'`` layout.

    Args:
        checkpoint: a simvtp checkpoint (``{'state_dict': ...}``, e.g. one
            written by mmengine) or a bare state dict.
        qkv_bias: ``'split'`` (the reference: ``attn.q_bias``/``attn.v_bias``)
            or ``'fused'`` (one ``attn.qkv.bias`` = ``cat(q, 0, v)``, for
            timm-style code).
        source: a description of where ``checkpoint`` came from.

    Parts the reference cannot hold (a learnable temperature other than
    0.05, VTC projections, a deeper text decoder, a shared decoder, a
    learnable video position table) are reported as lossy or unexpected.
    """
    if qkv_bias not in ('split', 'fused'):
        raise ValueError(f"qkv_bias must be 'split' or 'fused', got "
                         f'{qkv_bias!r}')
    report = ConversionReport('simvtp', 'simvtp-reference-pretrain', source)
    state, container, extras = find_state_dict(checkpoint,
                                               ('state_dict', 'model'))
    account_top_level(report, container, extras)
    state = strip_common_prefix(state, 'module.', report)
    mapper = KeyMapper(state, report)
    for sim, ref in _SINGLE:
        mapper.take_if(sim, ref, f'the simvtp checkpoint has no {sim}')
    for sim, ref in (('backbone.blocks.', 'encoder.blocks.'),
                     ('video_decoder.blocks.', 'decoder.blocks.')):
        if convert_blocks(mapper, sim, ref, dst_bias=qkv_bias) == 0:
            report.missing[ref + '*'] = f'the simvtp checkpoint has no {sim}*'
    if mapper.has('backbone.video_pos_embed'):
        check_sincos(mapper, 'backbone.video_pos_embed')
    if mapper.has('vtc_head.logit_scale'):
        scale = float(mapper.get('vtc_head.logit_scale').exp())
        mapper.drop('vtc_head.logit_scale', 'the reference has a fixed VTC '
                    'temperature of 0.05 and stores none')
        if abs(1.0 / scale - REFERENCE_TEMPERATURE) > 1e-6:
            report.lossy.append(
                f'vtc_head.logit_scale: temperature {1.0 / scale:.6g} != the '
                f"reference's fixed {REFERENCE_TEMPERATURE}")
    for prefix, why in (
            ('vtc_head.video_proj.', 'the reference VTC has no projection'),
            ('vtc_head.text_proj.', 'the reference VTC has no projection'),
            ('text_decoder.blocks.', 'the reference text decoder is one '
             'Linear (text_cls)'),
            ('text_decoder.norm.', 'the reference text decoder is one '
             'Linear (text_cls)'),
            ('shared_decoder.', 'the reference has separate decoders'),
            ('text_decoder.mask_token', 'the reference keeps [MASK] tokens '
             'in the encoder (drop_masked_text=False)'),
            ('text_mask_token', 'the reference keeps [MASK] tokens in the '
             'encoder (drop_masked_text=False)')):
        for key in mapper.keys_with_prefix(prefix):
            report.unexpected[key] = why
            mapper.mark_used(key)
    out = mapper.finish('not part of a SimVTP pre-training model')
    return out, report
