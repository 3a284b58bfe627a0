"""Analytic FLOPs of one SimVTP training step, from shapes alone
(``benchmark_train.py``'s model of the work; imported by path).

Conventions (what every benchmark table of this package reports):

* a matmul of ``(m, k) @ (k, n)`` costs ``2 * m * n * k`` FLOPs (a
  multiply-add is 2);
* self-attention over ``S`` tokens of width ``D`` costs ``4 * S**2 * D`` per
  layer (``q @ k^T`` and ``probs @ v``), whatever the heads; padding tokens
  are counted (the kernels compute them);
* a pre-norm block costs its four projections ``qkv`` (D -> 3D), ``proj``
  (D -> D), ``fc1`` / ``fc2`` (D <-> r*D) plus attention: per token
  ``2 * D * (3D + D + 2 r D)`` = ``24 D**2`` for ``r = 4``;
* LayerNorm, GELU, softmax, losses, embeddings lookups and optimizer updates
  are elementwise and not counted (they are O(S*D), not O(S*D**2));
* training = forward + backward = 3x forward (backward computes the input
  gradient and the weight gradient, each as costly as the forward), except
  the cube embedding, whose input (the clip) needs no gradient: 2x.

Everything is per clip: a pass over ``B`` sequences is divided by ``B``.
"""
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Dict, Optional

__all__ = ['PARTS', 'StepShapes', 'matmul_flops', 'attention_flops',
           'transformer_flops', 'simvtp_step_flops', 'shapes_from_model']

#: the parts of a step, in table order
PARTS = ('cube_embedding', 'joint_pass', 'vtc_video_pass', 'vtc_text_pass',
         'vtm_pass', 'video_decoder', 'text_decoder_heads')


def matmul_flops(m: int, n: int, k: int) -> int:
    """``(m, k) @ (k, n)``: ``2 * m * n * k``."""
    return 2 * int(m) * int(n) * int(k)


def attention_flops(seq: int, dims: int) -> int:
    """``softmax(q k^T) v`` over ``seq`` tokens of width ``dims``:
    ``4 * seq**2 * dims`` (all heads together)."""
    return 4 * int(seq) ** 2 * int(dims)


def transformer_flops(seq: int, dims: int, depth: int,
                      mlp_ratio: float = 4.0,
                      tokens: Optional[float] = None) -> float:
    """Forward FLOPs of ``depth`` pre-norm blocks over one sequence.

    ``tokens``: how many of the ``seq`` positions the projections and MLPs
    compute (default all; fewer when padding is skipped); attention always
    covers the ``seq`` positions.
    """
    if depth <= 0 or seq <= 0:
        return 0
    tokens = seq if tokens is None else tokens
    hidden = int(dims * mlp_ratio)
    per_token = (matmul_flops(1, 3 * dims, dims)        # qkv
                 + matmul_flops(1, dims, dims)          # proj
                 + matmul_flops(1, hidden, dims)        # fc1
                 + matmul_flops(1, dims, hidden))       # fc2
    return depth * (tokens * per_token + attention_flops(seq, dims))


def query_subset_flops(seq: int, dims: int, depth: int, queries: float,
                       mlp_ratio: float = 4.0,
                       tokens: Optional[float] = None) -> float:
    """:func:`transformer_flops` when only ``queries`` of the tokens'
    outputs are read: the last block projects keys and values of all
    ``tokens`` but queries, output projection and MLP of the ``queries``
    only, each attending to the ``seq`` positions
    (``UnifiedViT.encode(text_outputs_only=True)``)."""
    if depth <= 0 or seq <= 0:
        return 0
    tokens = seq if tokens is None else tokens
    hidden = int(dims * mlp_ratio)
    per_query = (matmul_flops(1, dims, dims)            # q
                 + matmul_flops(1, dims, dims)          # proj
                 + matmul_flops(1, hidden, dims)        # fc1
                 + matmul_flops(1, dims, hidden))       # fc2
    last = (tokens * matmul_flops(1, 2 * dims, dims)    # k, v
            + queries * per_query + 4 * queries * seq * dims)
    return transformer_flops(seq, dims, depth - 1, mlp_ratio, tokens) + last


@dataclass
class StepShapes:
    """What a step's FLOPs depend on (per clip unless said otherwise).

    Attributes:
        num_tubes: ``N`` tubes of the clip.
        num_visible: ``N_vis`` visible tubes.
        text_len: ``L`` text tokens of the (padded) batch.
        text_tokens: real (unpadded) text tokens per clip, mean over the
            batch (default ``L``).
        num_masked_words: masked words per clip (mean over the batch).
        embed_dims / depth / mlp_ratio: encoder.
        tube_dims: ``C * t * p * p`` inputs of one tube.
        dec_dims / dec_depth / dec_mlp_ratio: video decoder (0 depth = none).
        num_decoded: hidden tubes the video decoder predicts per clip.
        text_dec_depth / vocab_size: text decoder blocks and vocabulary.
        vtc_proj_dims: VTC projection width (0 = none).
        vtc_batch: clips each caption is contrasted with (``world * B``).
        vtc_video_tubes: tubes the VTC video-only pass reads (default
            ``N_vis``; ``N`` with ``vtc_video='unmasked'``).
        vtm_pair_share: with ``vtm_input='unmasked'``, the share of the
            batch's pairs matched on the whole clip and caption
            (``min(vtm_pairs, B) / B``); None = VTM on the masked pair.
        vtm_text_only: the VTM passes read only the caption's outputs
            (``vtm_pooling='text'``), so SimVTP's last block computes those
            alone (the reference flow computes every output).
        objectives: subset of ``('msm', 'vtc', 'vtm')``.
        shared_decoder: the shared two-head decoder instead of two decoders.
    """
    num_tubes: int
    num_visible: int
    text_len: int
    num_masked_words: float
    embed_dims: int
    depth: int
    mlp_ratio: float
    tube_dims: int
    dec_dims: int
    dec_depth: int
    dec_mlp_ratio: float
    num_decoded: int
    text_dec_depth: int
    vocab_size: int
    vtc_proj_dims: int = 0
    vtc_batch: int = 1
    text_tokens: Optional[float] = None
    objectives: tuple = ('msm', 'vtc', 'vtm')
    shared_decoder: bool = False
    vtc_video_tubes: Optional[int] = None
    vtm_pair_share: Optional[float] = None
    vtm_text_only: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def simvtp_step_flops(shapes: StepShapes,
                      reference_flow: bool = False,
                      skip_text_padding: bool = False,
                      training: bool = True) -> Dict[str, int]:
    """FLOPs per clip of one step, by part (see the module docstring).

    Args:
        shapes: the step's shapes.
        reference_flow: the flow of ``ReferenceFlowSimVTP`` (the whole clip
            cube-embedded for each pass that reads video: joint, VTC video,
            VTM; VTM encodes the ``B`` positives again with the negatives,
            ``2B`` sequences) instead of ``SimVTP``'s (the visible tubes
            embedded once; VTM encodes the ``B`` negatives only).
        skip_text_padding: the encoder passes project only real tokens
            (attention still spans the padded length).
        training: forward + backward (default) or forward only.

    Returns:
        ``OrderedDict`` over :data:`PARTS` plus ``'total'``.
    """
    s = shapes
    obj = set(s.objectives)
    d, nv, seq_l = s.embed_dims, s.num_visible, s.text_len
    real_l = seq_l if (s.text_tokens is None or not skip_text_padding) \
        else s.text_tokens
    joint = transformer_flops(nv + seq_l, d, s.depth, s.mlp_ratio,
                              nv + real_l)
    whole_vtm = 'vtm' in obj and s.vtm_pair_share is not None
    need_joint = 'msm' in obj or ('vtm' in obj and not reference_flow
                                  and not whole_vtm)
    video_passes = int(need_joint) + int('vtc' in obj) + int('vtm' in obj)
    embed = matmul_flops(s.num_tubes if reference_flow else nv, d,
                         s.tube_dims)
    embeds = video_passes if reference_flow else 1
    vtc_tubes = nv if s.vtc_video_tubes is None else s.vtc_video_tubes
    extra_embed = 0
    if not reference_flow and (('vtc' in obj and vtc_tubes != nv)
                               or whole_vtm):
        # SimVTP embeds the whole clip once more, shared by the VTC video
        # pass and the whole-pair VTM pass (the reference flow embeds the
        # whole clip for every pass anyway)
        extra_embed = matmul_flops(s.num_tubes, d, s.tube_dims)

    parts = OrderedDict((k, 0) for k in PARTS)
    parts['cube_embedding'] = embeds * embed + extra_embed
    parts['joint_pass'] = joint if need_joint else 0
    if 'vtc' in obj:
        parts['vtc_video_pass'] = transformer_flops(vtc_tubes, d, s.depth,
                                                    s.mlp_ratio)
        parts['vtc_text_pass'] = transformer_flops(seq_l, d, s.depth,
                                                   s.mlp_ratio, real_l)
    heads = 0
    text_only = s.vtm_text_only and not reference_flow

    def vtm_joint(tubes):  # one VTM joint pass over `tubes` + the caption
        if text_only:
            return query_subset_flops(tubes + seq_l, d, s.depth, real_l,
                                      s.mlp_ratio, tubes + real_l)
        return transformer_flops(tubes + seq_l, d, s.depth, s.mlp_ratio,
                                 tubes + real_l)

    if whole_vtm:  # [positives ; negatives] of whole clips and captions
        share = s.vtm_pair_share
        parts['vtm_pass'] = 2 * share * vtm_joint(s.num_tubes)
        heads += 2 * share * matmul_flops(1, 2, d)
    elif 'vtm' in obj:
        # the negatives (SimVTP pools the positives from the MSM pass; the
        # reference flow encodes them again with the negatives)
        parts['vtm_pass'] = joint if reference_flow else vtm_joint(nv)
        if reference_flow:
            parts['vtm_pass'] *= 2
        heads += 2 * matmul_flops(1, 2, d)  # one positive + one negative
    if 'vtc' in obj:
        width = s.vtc_proj_dims or d
        if s.vtc_proj_dims:
            heads += 2 * matmul_flops(1, s.vtc_proj_dims, d)
        # text-to-video and video-to-text logits of this clip's rows
        heads += 2 * matmul_flops(1, s.vtc_batch, width)
    if 'msm' in obj:
        e = s.dec_dims
        dec_seq = nv + s.num_decoded
        video_dec = (matmul_flops(nv, e, d)  # encoder_to_decoder
                     + matmul_flops(s.num_decoded, s.tube_dims, e))  # head
        if s.shared_decoder:  # one stack over [video ; text] at width e
            video_dec += transformer_flops(dec_seq + seq_l, e, s.dec_depth,
                                           s.dec_mlp_ratio)
            heads += matmul_flops(seq_l, e, d)  # text -> decoder width
            heads += matmul_flops(s.num_masked_words, s.vocab_size, e)
        else:
            video_dec += transformer_flops(dec_seq, e, s.dec_depth,
                                           s.dec_mlp_ratio)
            heads += transformer_flops(seq_l, d, s.text_dec_depth,
                                       s.mlp_ratio)
            heads += matmul_flops(s.num_masked_words, s.vocab_size, d)
        parts['video_decoder'] = video_dec
    parts['text_decoder_heads'] = heads
    parts = OrderedDict((k, int(round(v))) for k, v in parts.items())
    if training:
        for k in parts:
            parts[k] *= 2 if k == 'cube_embedding' else 3
    parts['total'] = sum(parts.values())
    return parts


def shapes_from_model(model, inputs: dict,
                      decoder_keep_ratio: Optional[float] = None
                      ) -> StepShapes:
    """Read a :class:`StepShapes` off a built ``SimVTP`` and a batch.

    Args:
        model: a ``SimVTP``.
        inputs: preprocessed ``inputs`` (``video``, ``video_mask``,
            ``input_ids``, ``mlm_labels``).
        decoder_keep_ratio: overrides ``model.decoder_keep_ratio``.
    """
    bb = model.backbone
    video, mask = inputs['video'], inputs['video_mask']
    batch, num = mask.shape
    num_visible = int((~mask[0]).sum())
    num_hidden = num - num_visible
    ratio = getattr(model, 'decoder_keep_ratio', 1.0) \
        if decoder_keep_ratio is None else decoder_keep_ratio
    num_decoded = num_hidden
    if ratio < 1:
        num_decoded = min(num_hidden, max(1, int(round(ratio * num_hidden))))
    labels = inputs.get('mlm_labels')
    words = float((labels != -100).sum()) / batch if labels is not None \
        else 0.0
    t, p = bb.tubelet_size, bb.patch_size
    dec = model.shared_decoder or model.video_decoder
    text_dec = model.text_decoder
    vocab = bb.text_embeddings.word_embeddings.num_embeddings
    if dec is not None:
        dec_dims, dec_depth = dec.embed_dims, len(dec.blocks)
        dec_ratio = (dec.blocks[0].mlp.fc1.out_features / dec_dims
                     if dec_depth else 4.0)
    else:
        dec_dims = dec_depth = 0
        dec_ratio = 4.0
    world = 1
    vtc = getattr(model, 'vtc_head', None)
    if vtc is not None and getattr(vtc, 'gather', False):
        from simvtp.models.utils import get_rank_and_world
        world = get_rank_and_world()[1]
    proj = getattr(vtc, 'proj_dims', None) or 0
    return StepShapes(
        num_tubes=num, num_visible=num_visible,
        text_len=int(inputs['input_ids'].shape[1]),
        text_tokens=(float(inputs['attention_mask'].sum()) / batch
                     if 'attention_mask' in inputs else None),
        num_masked_words=words, embed_dims=bb.embed_dims,
        depth=bb.num_layers, mlp_ratio=bb.mlp_ratio,
        tube_dims=video.shape[1] * t * p * p, dec_dims=dec_dims,
        dec_depth=dec_depth, dec_mlp_ratio=dec_ratio,
        num_decoded=num_decoded,
        text_dec_depth=text_dec.depth if text_dec is not None else 0,
        vocab_size=vocab, vtc_proj_dims=proj, vtc_batch=batch * world,
        objectives=tuple(model.objectives),
        shared_decoder=model.shared_decoder is not None,
        vtc_video_tubes=(num if getattr(model, 'vtc_video', 'masked')
                         == 'unmasked' else num_visible),
        vtm_pair_share=_vtm_pair_share(model, batch),
        vtm_text_only=getattr(model, 'vtm_pooling', None) == 'text')


def _vtm_pair_share(model, batch: int) -> Optional[float]:
    """The share of pairs a whole-pair VTM pass matches, or None."""
    if 'vtm' not in model.objectives or \
            getattr(model, 'vtm_input', 'masked') != 'unmasked':
        return None
    pairs = getattr(model, 'vtm_pairs', None)
    return 1.0 if pairs is None else min(pairs, batch) / batch
