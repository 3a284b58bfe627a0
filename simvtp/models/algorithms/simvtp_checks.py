"""Checks of a SimVTP config and of a built SimVTP.

:func:`check_config` validates the options of a ``model`` config dict (used
by ``SimVTP.__init__`` and, before anything is built, by
:func:`simvtp.utils.validate_config` through ``SimVTP.check_config``).
:func:`check_geometry` checks that every part of a built model matches its
backbone: the configs write each part's geometry out (widths, patch and
tube sizes, vocabulary, pixel normalisation), as mmpretrain's MAE configs
do; a part built for another backbone fails here with the keys to change,
instead of a shape error deep inside a forward pass.
"""
from typing import List

OBJECTIVES = ('msm', 'vtc', 'vtm')
POOLINGS = ('mean', 'mean_with_padding')
VTC_TEXTS = ('masked', 'unmasked')
VTC_VIDEOS = ('masked', 'unmasked')
VTM_INPUTS = ('masked', 'unmasked')
VTM_POOLINGS = ('mean', 'mean_with_padding', 'text')
#: options of earlier versions -> where they went
MOVED_OPTIONS = {
    'vtm_reuse_positives': "the reference's flow is its own model: "
                           "model.type='ReferenceFlowSimVTP'",
    'share_video_embedding': "the reference's flow is its own model: "
                             "model.type='ReferenceFlowSimVTP'",
    'embed_visible_only': 'always on now (the same losses up to rounding)',
    'skip_text_padding': 'now model.backbone.skip_padding',
    'sync_free': 'chosen from the device now (on for accelerators)',
}


def _compare(errors: List[str], key: str, value, expected, what: str) -> None:
    if value != expected:
        errors.append(f'model.{key}={value!r} differs from {what}='
                      f'{expected!r}')


def check_geometry(model) -> None:
    """Raise ``ValueError`` listing every mismatch of ``model`` (a built
    ``SimVTP``), each naming its config key."""
    bb = model.backbone
    if not getattr(bb, 'with_text', True):
        raise ValueError('model.backbone.with_text=False builds a video-only '
                         'encoder (for recognition); SimVTP pre-training '
                         'embeds captions: set model.backbone.with_text=True')
    errors: List[str] = []
    width = 'model.backbone embed_dims'
    vocab = bb.text_embeddings.word_embeddings.num_embeddings
    for name in ('video_decoder', 'shared_decoder'):
        dec = getattr(model, name, None)
        if dec is None:
            continue
        _compare(errors, f'{name}.in_dims', dec.in_dims, bb.embed_dims, width)
        for attr in ('patch_size', 'tubelet_size', 'in_channels'):
            _compare(errors, f'{name}.{attr}', getattr(dec, attr),
                     getattr(bb, attr), f'model.backbone.{attr}')
    if model.text_decoder is not None:
        _compare(errors, 'text_decoder.in_dims', model.text_decoder.in_dims,
                 bb.embed_dims, width)
    pool = getattr(model, 'video_pool', None)
    if pool is not None and hasattr(pool, 'in_dims'):
        _compare(errors, 'video_pool.in_dims', pool.in_dims, bb.embed_dims,
                 width)
    for name in ('text_decoder', 'shared_decoder'):
        dec = getattr(model, name, None)
        if dec is not None:
            _compare(errors, f'{name}.vocab_size', dec.vocab_size, vocab,
                     'model.backbone.vocab_size')
    if 'msm' in model.objectives:
        head = model.pixel_head
        for attr in ('patch_size', 'tubelet_size'):
            _compare(errors, f'pixel_head.{attr}', getattr(head, attr),
                     getattr(bb, attr), f'model.backbone.{attr}')
        pre = model.data_preprocessor
        for attr in ('mean', 'std'):
            mine = getattr(head, attr).flatten().tolist()
            theirs = getattr(pre, attr, None)
            if theirs is not None and mine != theirs.flatten().tolist():
                errors.append(f'model.pixel_head.{attr}={mine} differs from '
                              f'model.data_preprocessor.{attr}='
                              f'{theirs.flatten().tolist()}: the pixel '
                              'targets would be un-normalised wrongly')
        if model.drop_masked_text:
            owner = model.shared_decoder or model.text_decoder
            token = getattr(owner, 'text_mask_token', None) \
                if model.shared_decoder is not None else owner.mask_token
            if token is None:
                key = 'shared_decoder.text_mask_token' if \
                    model.shared_decoder is not None else \
                    'text_decoder.mask_token'
                errors.append(f'model.drop_masked_text=True needs '
                              f'model.{key}=True (the decoder fills the '
                              'dropped words)')
    for name in ('vtc_head', 'vtm_head'):
        head = getattr(model, name, None)
        if head is not None:
            _compare(errors, f'{name}.embed_dims', head.embed_dims,
                     bb.embed_dims, width)
    if bb.skip_padding and model.pooling != 'mean':
        errors.append(f'model.backbone.skip_padding=True needs '
                      f"model.pooling='mean'; {model.pooling!r} averages the "
                      'padding outputs it skips')
    if errors:
        raise ValueError('inconsistent model config:\n  ' +
                         '\n  '.join(errors))


def check_config(cfg: dict) -> List[str]:
    """Problems of a ``model`` config (a dict), each naming its key."""
    errors = []
    objectives = cfg.get('objectives', OBJECTIVES)
    objectives = (objectives, ) if isinstance(objectives, str) \
        else tuple(objectives)
    unknown = [o for o in objectives if o not in OBJECTIVES]
    if unknown or not objectives:
        errors.append(f'model.objectives={objectives!r}: unknown or '
                      f'empty {unknown}; choose a non-empty subset of '
                      f'{OBJECTIVES}')
    for key, allowed in (('pooling', POOLINGS), ('vtc_text', VTC_TEXTS),
                         ('vtc_video', VTC_VIDEOS),
                         ('vtm_input', VTM_INPUTS),
                         ('vtm_pooling', VTM_POOLINGS)):
        if cfg.get(key) is not None and cfg[key] not in allowed:
            errors.append(f'model.{key} must be one of {allowed}, got '
                          f'{cfg[key]!r}')
    ratio = cfg.get('decoder_keep_ratio', 1.0)
    if not 0 < ratio <= 1:
        errors.append(f'model.decoder_keep_ratio must be in (0, 1], got '
                      f'{ratio}')
    if cfg.get('video_pool') is not None and \
            cfg.get('vtc_video', 'masked') != 'unmasked':
        errors.append("model.video_pool pools the token map of the whole "
                      "clip: it needs model.vtc_video='unmasked' (a masked "
                      "clip's visible tubes form no grid)")
    pairs = cfg.get('vtm_pairs')
    if pairs is not None and (not isinstance(pairs, int) or pairs < 2):
        errors.append(f'model.vtm_pairs must be an int >= 2 (or None: all '
                      f'pairs of the batch), got {pairs!r}')
    if pairs is not None and cfg.get('vtm_input', 'masked') != 'unmasked':
        errors.append("model.vtm_pairs subsets the whole-pair matching pass:"
                      " it needs model.vtm_input='unmasked'")
    if 'vtm' in objectives and 'vtc' not in objectives and \
            (cfg.get('vtm_head') or {}).get('negative') == 'hard':
        errors.append("model.vtm_head.negative='hard' needs the VTC "
                      "similarities: add 'vtc' to model.objectives="
                      f"{objectives!r} or use negative='random'")
    return errors
