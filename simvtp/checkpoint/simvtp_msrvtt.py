"""The authors' MSR-VTT fine-tuned checkpoint -> simvtp backbone weights.

The fine-tuned model (``modeling_finetune.DualVideoTextEncoder``) holds two
copies of the pre-trained encoder, both trained further, under
``video_encoder.*`` and ``text_encoder.*`` (checkpoint entry ``'module'``
(DeepSpeed) or ``'model'``). Each is a ViT with::

    patch_embed.proj.*, blocks.{i}.*, text_embeddings.*,
    fc_norm.*  (default use_mean_pooling: LayerNorm of the pooled feature;
                its per-token norm is an identity)  or  norm.* (--use_cls)

The video tower only ever embeds video and the text tower only ever embeds
text. A simvtp retriever runs one ``UnifiedViT`` for both modalities, so:

* ``backbone.patch_embed`` <- ``video_encoder.patch_embed`` (the text
  tower's copy is unused: dropped);
* ``backbone.text_embeddings`` <- ``text_encoder.text_embeddings`` (the video
  tower's copy is unused: dropped);
* ``backbone.blocks`` (and ``norm``) <- the chosen ``tower``; the other
  tower's blocks are dropped, and if they differ from the chosen ones that
  is reported as lossy (features of the other modality will differ from the
  fine-tuned model's). Convert twice (``tower='video'`` and ``'text'``) to
  keep both.
* ``tower='both'`` keeps both towers for a two-tower
  ``VideoTextRetriever(tied=False)``: ``{video,text}_encoder.*`` (a full
  ``UnifiedViT`` each, every tensor kept) and each ``fc_norm`` as
  ``{video,text}_post_norm.*``; loads strictly into a retriever built with
  ``post_norm=True`` and ``backbone.final_norm=False`` (the towers' per-token
  norm is an identity), nothing lossy.
* single tower: ``fc_norm`` (LayerNorm *after* mean pooling) has no slot in ``UnifiedViT``
  (which normalises every token before pooling): dropped and lossy, and
  ``backbone.norm`` is missing, unless ``fc_norm_as_norm=True`` copies it
  into ``backbone.norm`` as an approximation (still reported lossy).
"""
import math
from typing import Dict, Tuple

import torch

from .common import (KeyMapper, account_top_level, block_indices,
                     convert_blocks, find_state_dict, strip_common_prefix)
from .report import ConversionError, ConversionReport
from .simvtp_reference import (BUFFER_NOTE, TEXT_EMBEDDING_BUFFERS,
                               TEXT_EMBEDDING_TABLES)

__all__ = ['msrvtt_finetuned_to_simvtp']

TOWERS = ('video', 'text')
CHOICES = TOWERS + ('both', )


def _max_diff(state: Dict[str, torch.Tensor], a: str, b: str) -> float:
    """Largest |difference| between the tensors under prefixes a and b."""
    worst = 0.0
    for key, value in state.items():
        if not key.startswith(a):
            continue
        other = state.get(b + key[len(a):])
        if other is None or other.shape != value.shape:
            return float('inf')
        worst = max(worst, float((value.float() - other.float()).abs().max())
                    if value.numel() else 0.0)
    return worst


def msrvtt_finetuned_to_simvtp(checkpoint: Dict, tower: str = 'video',
                               fc_norm_as_norm: bool = False,
                               source: str = ''
                               ) -> Tuple[Dict[str, torch.Tensor],
                                          ConversionReport]:
    """Fine-tuned dual encoder -> one simvtp ``backbone.*``.

    Args:
        checkpoint: the loaded file or its model state dict.
        tower: whose transformer blocks become ``backbone.blocks``:
            ``'video'`` (exact video features) or ``'text'``; ``'both'``
            keeps the two towers (see the module docstring).
        fc_norm_as_norm: copy the tower's post-pool ``fc_norm`` into
            ``backbone.norm`` (an approximation) instead of leaving it out.
        source: a description of where it came from.
    """
    if tower not in CHOICES:
        raise ValueError(f'tower must be one of {CHOICES}, got {tower!r}')
    report = ConversionReport('simvtp-reference-msrvtt', 'simvtp', source)
    state, container, extras = find_state_dict(checkpoint,
                                               ('module', 'model'))
    account_top_level(report, container, extras)
    state = strip_common_prefix(state, 'module.', report)
    if not any(k.startswith('video_encoder.') for k in state) or not any(
            k.startswith('text_encoder.') for k in state):
        raise ConversionError(
            f'{source or "state dict"}: not a fine-tuned dual encoder (no '
            'video_encoder.* / text_encoder.* keys)')
    mapper = KeyMapper(state, report)
    if tower == 'both':
        for name in TOWERS:
            _convert_tower(mapper, f'{name}_encoder.', f'{name}_encoder.',
                           f'{name}_post_norm.')
        # the authors' NormSoftmaxLoss: fixed temperature 0.05
        mapper.put('vtc_head.logit_scale', torch.tensor([math.log(1 / 0.05)]),
                   "the authors' fixed contrastive temperature 0.05")
        report.notes.append(
            'both towers kept: build VideoTextRetriever(tied=False, '
            'post_norm=True, backbone=dict(final_norm=False, ...)) '
            "(configs/retrieval/test_msrvtt_authors_finetuned.py)")
        report.notes.append(
            'the fine-tuned model pools every token, padding included: '
            "use model.pooling='mean_with_padding'")
        return mapper.finish('not part of the fine-tuned dual encoder '
                             'layout'), report
    other_tower = TOWERS[1 - TOWERS.index(tower)]
    chosen = f'{tower}_encoder.'
    other = f'{other_tower}_encoder.'

    # embeddings: each from the tower that uses it
    for name in ('weight', 'bias'):
        mapper.take_if(f'video_encoder.patch_embed.proj.{name}',
                       f'backbone.patch_embed.proj.{name}',
                       'the source has no video_encoder.patch_embed.proj')
    mapper.drop_prefix('text_encoder.patch_embed.',
                       'the text tower never embeds video')
    for name in TEXT_EMBEDDING_TABLES:
        mapper.take_if(f'text_encoder.text_embeddings.{name}',
                       f'backbone.text_embeddings.{name}',
                       f'the source has no text_encoder.text_embeddings.'
                       f'{name}')
    for prefix in ('text_encoder.', 'video_encoder.'):
        for buf in TEXT_EMBEDDING_BUFFERS:
            key = f'{prefix}text_embeddings.{buf}'
            if mapper.has(key):
                mapper.drop(key, BUFFER_NOTE)
    mapper.drop_prefix('video_encoder.text_embeddings.',
                       'the video tower never embeds text')

    # transformer: one tower's blocks
    convert_blocks(mapper, chosen + 'blocks.', 'backbone.blocks.')
    diff = _max_diff(state, chosen + 'blocks.', other + 'blocks.')
    if block_indices(state, other + 'blocks.') != block_indices(
            state, chosen + 'blocks.'):
        diff = float('inf')
    if diff == 0.0:
        mapper.drop_prefix(other + 'blocks.',
                           f'identical to {chosen}blocks (shared weights)')
    else:
        mapper.drop_prefix(other + 'blocks.',
                           f'a single UnifiedViT holds one set of blocks; '
                           f'{chosen}blocks were kept (tower={tower!r})')
        report.lossy.append(
            f'{other}blocks differ from {chosen}blocks (max |diff| '
            f'{diff:.3g}): {other_tower} features of this backbone differ '
            f"from the fine-tuned model's; convert with tower="
            f'{other_tower!r} for those')

    # final norms
    if mapper.has(chosen + 'norm.weight'):
        mapper.take(chosen + 'norm.weight', 'backbone.norm.weight')
        mapper.take_if(chosen + 'norm.bias', 'backbone.norm.bias',
                       f'the source has no {chosen}norm.bias')
        mapper.drop_prefix(other + 'norm.', f'the other tower ({other}); '
                           f'{chosen}norm was kept')
    elif mapper.has(chosen + 'fc_norm.weight'):
        if fc_norm_as_norm:
            mapper.take(chosen + 'fc_norm.weight', 'backbone.norm.weight')
            mapper.take(chosen + 'fc_norm.bias', 'backbone.norm.bias')
            report.lossy.append(
                f'{chosen}fc_norm (LayerNorm of the pooled feature) was '
                'copied into backbone.norm (LayerNorm of every token before '
                'pooling): an approximation')
        else:
            report.lossy.append(
                f'{chosen}fc_norm dropped: it normalises the mean-pooled '
                'feature, UnifiedViT has no such slot; the fine-tuned '
                'encoders have no per-token final norm')
            for name in ('weight', 'bias'):
                report.missing[f'backbone.norm.{name}'] = (
                    'the fine-tuned encoders have no per-token final norm '
                    '(Identity); keeps its initialisation (or pass '
                    '--fc-norm-as-norm)')
    mapper.drop_prefix(chosen + 'fc_norm.', 'post-pool LayerNorm: no slot '
                       'in UnifiedViT (see lossy)')
    mapper.drop_prefix(other + 'fc_norm.', 'post-pool LayerNorm of the '
                       'other tower: no slot in UnifiedViT')
    mapper.drop_prefix(other + 'norm.', 'the other tower')
    report.notes.append(
        f'tower={tower!r}: backbone.blocks come from {chosen}blocks; '
        'patch_embed from video_encoder, text_embeddings from text_encoder')
    report.notes.append(
        'the fine-tuned model pools every token, padding included, like the '
        "pre-training reference: use model.pooling='mean_with_padding' to "
        'match its text features')
    out = mapper.finish('not part of the fine-tuned dual encoder layout')
    return out, report


def _convert_tower(mapper: KeyMapper, src: str, dst: str,
                   post_norm: str) -> None:
    """One fine-tuned tower ``src*`` -> a full ``UnifiedViT`` at ``dst*``
    (its fc_norm -> ``post_norm*``; a --use_cls tower's norm -> ``norm``)."""
    for name in ('weight', 'bias'):
        mapper.take_if(f'{src}patch_embed.proj.{name}',
                       f'{dst}patch_embed.proj.{name}',
                       f'the source has no {src}patch_embed.proj')
    for name in TEXT_EMBEDDING_TABLES:
        mapper.take_if(f'{src}text_embeddings.{name}',
                       f'{dst}text_embeddings.{name}',
                       f'the source has no {src}text_embeddings.{name}')
    for buf in TEXT_EMBEDDING_BUFFERS:
        if mapper.has(f'{src}text_embeddings.{buf}'):
            mapper.drop(f'{src}text_embeddings.{buf}', BUFFER_NOTE)
    convert_blocks(mapper, src + 'blocks.', dst + 'blocks.')
    for norm, target in (('norm.', dst + 'norm.'),
                         ('fc_norm.', post_norm)):
        for name in ('weight', 'bias'):
            if mapper.has(f'{src}{norm}{name}'):
                mapper.take(f'{src}{norm}{name}', f'{target}{name}')
