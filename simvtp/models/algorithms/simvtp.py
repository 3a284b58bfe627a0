"""SimVTP: masked video-text autoencoding with one unified encoder + VTC + VTM.

The algorithm is a thin composition of registered parts: a
:class:`~simvtp.models.backbones.UnifiedViT`, a video and a text decoder (or
one shared decoder), and one head per objective. Per training step
(``B`` clips, ``N`` tubes of which ``N_vis`` visible, ``L`` text tokens):

1. embed: the visible tubes of each clip (only those are cube-embedded)
   and the masked caption, once for every pass below;
2. joint pass over ``[visible video ; text]`` -> MSM (pixels of the hidden
   tubes, masked words) and, pooled, the positive VTM pairs (the paper notes
   they can be reused);
3. VTC: the same encoder on video-only and on text-only tokens, pooled,
   symmetric InfoNCE over features gathered across ranks;
4. VTM: one joint pass over ``B`` negative pairs (each text with another
   clip of the batch, random or similarity-weighted); with
   ``vtm_input='unmasked'`` instead one joint pass over the whole clips and
   captions of ``B`` positive and ``B`` negative pairs.

The reference's slower flow (a cube embedding per pass, positives encoded
again with the negatives, negatives drawn in a Python loop) is
:class:`~.reference_flow.ReferenceFlowSimVTP`.
"""
import logging
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.structures import InstanceData

from ...registry import MODELS
from ..layers.tokens import gather_visible
from ..utils.pooling import encode_joint, masked_mean, pool_joint
from .simvtp_checks import (MOVED_OPTIONS, OBJECTIVES, check_config,
                            check_geometry)

@MODELS.register_module()
class SimVTP(BaseModel):
    """The SimVTP pre-training model.

    Args:
        backbone: config of the unified encoder (``UnifiedViT``).
        video_decoder, text_decoder: configs of the pixel decoder
            (``VideoMAEDecoder``) and the word decoder (``TextDecoder``).
        shared_decoder: a ``SharedVideoTextDecoder`` used *instead* of the
            two decoders (paper Table 4e).
        pixel_head, mlm_head, vtc_head, vtm_head: head configs; each carries
            its ``loss_weight``. Geometry (widths, patch sizes, vocabulary)
            is written out in each config and checked against the backbone.
        objectives: any non-empty subset of ``('msm', 'vtc', 'vtm')``
            (paper Table 5). Parts of unused objectives are not built.
        pooling: ``'mean'`` excludes text padding from every mean pool;
            ``'mean_with_padding'`` averages padding too (the reference).
        vtc_text: ``'masked'`` (the paper: contrast the masked caption) or
            ``'unmasked'``.
        vtc_video: ``'masked'`` (the paper: contrast the visible tubes) or
            ``'unmasked'`` (the video-only VTC pass reads every tube of the
            clip, as retrieval does at test; costs that pass ``1 / (1 -
            mask_ratio)`` times the tokens).
        drop_masked_text: paper Table 4d. False keeps [MASK] tokens in the
            encoder sequence; True hides them from attention in every joint
            pass (no token reads them, which equals dropping them) and the
            word decoder fills them with its mask token plus position
            (needs ``text_decoder.mask_token=True``).
        video_pool: how VTC and retrieval pool the video-only pass: None
            (the paper: the mean of the tokens) or a pooling module config,
            e.g. ``dict(type='GridPoolProjection', grid=(4, 2, 2))``
            (grid-cell means projected; keeps where and when; needs
            ``vtc_video='unmasked'``; ``in_dims`` defaults to the backbone
            width).
        vtm_input: ``'masked'`` (the paper: the positives are the joint
            pass's pooled tokens, the negatives pair the same masked
            inputs) or ``'unmasked'`` (positives and negatives are encoded
            in one extra joint pass over every tube and the unmasked
            caption, as matching is used downstream: re-ranking, multiple
            choice; costs that pass ``2 * (N + L)`` tokens per pair).
        vtm_pairs: with ``vtm_input='unmasked'``, match only the first
            ``vtm_pairs`` pairs of the batch (their negatives still come
            from the whole batch); None = all ``B``. The cost knob of that
            pass: the batch order is random, so this is a random subset.
        vtm_pooling: how the VTM head's joint tokens are pooled: None (as
            ``pooling``), ``'mean'``, ``'mean_with_padding'`` or ``'text'``
            (the caption tokens only, after they attended to the clip;
            :func:`~simvtp.models.utils.pooling.pool_joint`). Downstream
            models that reuse the head must pool the same way.
        decoder_keep_ratio: VideoMAE V2 decoder masking: decode (and
            reconstruct in the pixel loss) a random ``round(ratio *
            N_hidden)`` of each clip's hidden tubes (at least 1). 1.0
            (default) decodes all hidden tubes.
        data_preprocessor: defaults to ``VideoTextDataPreprocessor``.
    """

    def __init__(self,
                 backbone: dict,
                 video_decoder: dict = dict(type='VideoMAEDecoder'),
                 text_decoder: dict = dict(type='TextDecoder'),
                 shared_decoder: Optional[dict] = None,
                 pixel_head: dict = dict(type='PixelReconstructionHead'),
                 mlm_head: dict = dict(type='MLMHead'),
                 vtc_head: dict = dict(type='VTCHead'),
                 vtm_head: dict = dict(type='VTMHead'),
                 objectives: Sequence[str] = OBJECTIVES,
                 pooling: str = 'mean',
                 vtc_text: str = 'masked',
                 vtc_video: str = 'masked',
                 vtm_input: str = 'masked',
                 vtm_pooling: Optional[str] = None,
                 vtm_pairs: Optional[int] = None,
                 drop_masked_text: bool = False,
                 decoder_keep_ratio: float = 1.0,
                 video_pool: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 **moved) -> None:
        if moved:
            raise TypeError('; '.join(
                f'model.{k}: {MOVED_OPTIONS.get(k, "unknown option")}'
                for k in moved))
        errors = self.check_config(dict(
            objectives=objectives, pooling=pooling, vtc_text=vtc_text,
            vtc_video=vtc_video, vtm_input=vtm_input,
            vtm_pooling=vtm_pooling, vtm_pairs=vtm_pairs,
            decoder_keep_ratio=decoder_keep_ratio, vtm_head=vtm_head,
            video_pool=video_pool))
        if errors:
            raise ValueError('; '.join(errors))
        super().__init__(data_preprocessor=data_preprocessor or dict(
            type='VideoTextDataPreprocessor'), init_cfg=init_cfg)
        self.objectives = tuple(objectives)
        self.pooling = pooling
        self.vtc_text = vtc_text
        self.vtc_video = vtc_video
        self.vtm_input = vtm_input
        self.vtm_pooling = vtm_pooling or pooling
        self.vtm_pairs = vtm_pairs
        self.drop_masked_text = drop_masked_text
        self.decoder_keep_ratio = float(decoder_keep_ratio)
        self.backbone = MODELS.build(backbone)
        self.shared_decoder = self.video_decoder = self.text_decoder = None
        if 'msm' in self.objectives:
            if shared_decoder is not None:
                self.shared_decoder = MODELS.build(shared_decoder)
            else:
                self.video_decoder = MODELS.build(video_decoder)
                self.text_decoder = MODELS.build(text_decoder)
            self.pixel_head = MODELS.build(pixel_head)
            self.mlm_head = MODELS.build(mlm_head)
        if 'vtc' in self.objectives:
            self.vtc_head = MODELS.build(vtc_head)
        # the pooling's width defaults to the backbone's
        self.video_pool = None if video_pool is None else MODELS.build(
            dict(dict(in_dims=self.backbone.embed_dims), **video_pool))
        if 'vtm' in self.objectives:
            self.vtm_head = MODELS.build(vtm_head)
        check_geometry(self)

    check_config = staticmethod(check_config)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # checkpoints before the text decoder owned its mask token
        old = prefix + 'text_mask_token'
        if old in state_dict:
            owner = 'shared_decoder.text_mask_token' if \
                self.shared_decoder is not None else 'text_decoder.mask_token'
            state_dict[prefix + owner] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------ helpers
    def _pool_video(self, tokens: torch.Tensor,
                    video: torch.Tensor) -> torch.Tensor:
        """The pooled ``(B, D)`` feature of a video-only pass: the mean of
        ``tokens`` ``(B, N, D)``, or ``video_pool`` on the token grid of
        ``video`` ``(B, C, T, H, W)``."""
        if self.video_pool is None:
            return tokens.mean(dim=1)
        return self.video_pool(tokens, self.backbone.token_grid(video))

    def _pool_text(self, tokens: torch.Tensor,
                   text_valid: Optional[torch.Tensor]) -> torch.Tensor:
        """Mean over a text-only pass's tokens ``(B, L, D)`` -> ``(B, D)``,
        excluding padding unless ``pooling='mean_with_padding'``."""
        if self.pooling == 'mean_with_padding':
            return masked_mean(tokens)
        return masked_mean(tokens, text_valid)

    @staticmethod
    def _text_keys(inputs: dict, hide_masked_words: bool) -> Optional[
            torch.Tensor]:
        """The text key mask ``(B, L)``: padding and, if asked, [MASK]ed
        words; None when nothing is hidden (``text_padded`` is known on the
        host: no device read)."""
        if hide_masked_words and 'mlm_labels' in inputs:
            return inputs['attention_mask'] * (inputs['mlm_labels'] == -100)
        if inputs.get('text_padded', True) is False:
            return None
        return inputs.get('attention_mask')

    def _warn_once(self, key: str, message: str) -> None:
        warned = self.__dict__.setdefault('_warned', set())
        if key not in warned:
            warned.add(key)
            print_log(f'{type(self).__name__}: {message}', logger='current',
                      level=logging.WARNING)

    # ------------------------------------------------------------ forward
    def forward(self, inputs: dict, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':  # joint encoder outputs
            video, text = self.backbone(
                video=inputs.get('video'), text_ids=inputs.get('input_ids'),
                text_attention_mask=inputs.get('attention_mask'),
                video_mask=inputs.get('video_mask'))
            return dict(video=video, text=text)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, '
                           'predict and tensor mode')

    def loss(self, inputs: dict, data_samples=None) -> Dict[str, torch.Tensor]:
        """All selected objectives on one batch.

        Args:
            inputs: from :class:`VideoTextDataPreprocessor`: ``video``
                (B, C, T, H, W) normalised, ``video_mask`` (B, N) bool,
                ``num_visible`` (int), ``input_ids`` (B, L) masked ids,
                ``attention_mask`` (B, L), ``mlm_labels`` (B, L) and, for
                ``vtc_text='unmasked'``, ``input_ids_unmasked`` (B, L).
        """
        video = self.backbone.embed_video_visible(
            inputs['video'], inputs['video_mask'], inputs.get('num_visible'))
        text = self.backbone.embed_text(inputs['input_ids'])
        keys = self._text_keys(inputs, self.drop_masked_text)
        whole = _WholeInputs(self.backbone, inputs)
        use_vtm = 'vtm' in self.objectives
        losses, joint, sim = {}, None, None
        if 'msm' in self.objectives or (use_vtm and
                                        self.vtm_input == 'masked'):
            joint = self.backbone.encode(video, text, keys)
        if 'msm' in self.objectives:
            losses.update(self._reconstruction_losses(*joint, inputs))
        if 'vtc' in self.objectives:
            vtc, sim = self._contrastive_loss(
                whole.video() if self.vtc_video == 'unmasked' else video,
                whole.text() if self.vtc_text == 'unmasked' else text,
                inputs)
            losses.update(vtc)
        if use_vtm:
            groups = inputs.get('video_group')
            if self.vtm_input == 'unmasked':
                losses.update(self._matching_loss(
                    whole.video(), whole.text(),
                    self._text_keys(inputs, False), None, sim, groups))
            else:
                # pooled over the tokens the encoder saw (padding, and with
                # drop_masked_text the dropped words, are left out)
                positives = self._pool_joint(*joint, keys)
                losses.update(self._matching_loss(video, text, keys,
                                                  positives, sim, groups))
        return losses

    def _reconstruction_losses(self, video_out, text_out, inputs):
        """MSM: pixels of the hidden tubes and the masked words."""
        labels = inputs['mlm_labels']
        select = self._words_to_decode(labels != -100)
        decode_mask = self._decode_mask(inputs['video_mask'],
                                        video_out.shape[1])
        pred, logits = self._decode(video_out, text_out, inputs, decode_mask,
                                    select)
        losses = self.pixel_head.loss(
            pred, inputs['video'],
            inputs['video_mask'] if decode_mask is None else decode_mask)
        losses.update(self.mlm_head.loss(
            logits, labels if select is None else labels[select]))
        return losses

    def _decode(self, video_out, text_out, inputs, decode_mask=None,
                select=None):
        """Both decoders on the joint pass's outputs: pixel predictions
        ``(B, N_dec, P)`` and word logits (at ``select`` or all places).
        With ``drop_masked_text`` the word decoder fills the hidden words
        with its mask token plus their positions."""
        hidden = positions = None
        if self.drop_masked_text:
            hidden = inputs['mlm_labels'] != -100
            positions = self.backbone.text_positions(hidden.shape[1])
        mask, valid = inputs['video_mask'], inputs['attention_mask']
        if self.shared_decoder is not None:
            return self.shared_decoder(
                video_out, mask, text_out, valid, decode_mask=decode_mask,
                select=select, hidden=hidden, positions=positions)
        return (self.video_decoder(video_out, mask, decode_mask),
                self.text_decoder(text_out, valid, select=select,
                                  hidden=hidden, positions=positions))

    @staticmethod
    def _words_to_decode(masked_words: torch.Tensor
                         ) -> Optional[torch.Tensor]:
        """Where to compute word logits: on the CPU only at hidden words
        (less work; their count is read on the host), on accelerators at
        every position with -100 labels ignored (same loss, and the host
        never waits for the device: the step is free of syncs)."""
        return masked_words if masked_words.device.type == 'cpu' else None

    def _decode_mask(self, mask: torch.Tensor,
                     num_visible: int) -> Optional[torch.Tensor]:
        """Random same-size subset of the hidden tubes, or None (all)."""
        num_hidden = mask.shape[1] - num_visible  # from shapes: no sync
        keep = max(1, int(round(self.decoder_keep_ratio * num_hidden)))
        if keep >= num_hidden:
            return None
        # visible tubes score 2, hidden ones U[0, 1): the `keep` lowest
        # scores are a uniform random subset of the hidden tubes
        scores = torch.rand(mask.shape, device=mask.device)
        chosen = scores.masked_fill(~mask, 2.0).topk(
            keep, dim=1, largest=False).indices
        return torch.zeros_like(mask).scatter_(1, chosen, True)

    def _contrastive_loss(self, video, text, inputs):
        """VTC on video-only and text-only passes of the embedded ``video``
        ``(B, N, D)`` and ``text`` ``(B, L, D)`` (masked or whole, as
        ``vtc_video``/``vtc_text`` say); also returns the (B, B)
        text-to-video logits hard VTM negatives are drawn from."""
        attention_mask = inputs['attention_mask']
        video_feat = self._pool_video(self.backbone.encode(video)[0],
                                      inputs['video'])
        _, text_only = self.backbone.encode(
            None, text, self._text_keys(inputs, False))
        text_feat = self._pool_text(text_only, attention_mask)
        losses = self.vtc_head.loss(video_feat, text_feat,
                                    groups=inputs.get('video_group'))
        sim = None
        if 'vtm' in self.objectives and self.vtm_head.negative == 'hard':
            with torch.no_grad():
                sim = self.vtc_head.similarity(
                    *self.vtc_head(video_feat, text_feat))
        return losses, sim

    def _pool_joint(self, video_out: torch.Tensor, text_out: torch.Tensor,
                    keys: Optional[torch.Tensor]) -> torch.Tensor:
        """The VTM head's input: a joint pass's outputs pooled by
        ``vtm_pooling`` -> ``(B, D)``."""
        return pool_joint(video_out, text_out, keys, self.vtm_pooling)

    def _encode_pooled(self, video: torch.Tensor, text: torch.Tensor,
                       keys: Optional[torch.Tensor]) -> torch.Tensor:
        """A joint pass of embedded ``video`` (B, N, D) and ``text``
        (B, L, D) pooled by ``vtm_pooling`` -> ``(B, D)``; with ``'text'``
        the last block computes the caption's outputs only."""
        return encode_joint(self.backbone, video, text, keys,
                            self.vtm_pooling)

    def _matched_pairs(self, batch, neg, text, keys):
        """``(batch, neg, text, keys)`` cut to the first ``vtm_pairs``
        pairs when the whole-pair pass is subset, else unchanged."""
        pairs = self.vtm_pairs if self.vtm_input == 'unmasked' else None
        if pairs is None or pairs >= batch:
            return batch, neg, text, keys
        return (pairs, neg[:pairs], text[:pairs],
                None if keys is None else keys[:pairs])

    def _matching_loss(self, video, text, keys, positives, sim,
                       groups=None):
        """VTM: matched pairs against one negative pair per text, encoded
        with the same text key mask as the positives (or the attention
        pattern would tell them apart); with ``groups`` (B,) the negative
        clip comes from another video. ``positives`` are the pooled pairs
        of a joint pass already made, or None: then the ``B`` positives
        are encoded together with the ``B`` negatives."""
        batch = video.shape[0]
        if batch < 2:  # no other clip to pair the text with
            self._warn_once('vtm_batch', f'VTM got a batch of {batch} pair '
                            '(e.g. the last, incomplete batch of an epoch '
                            'without drop_last): it contributes a zero loss')
            if positives is None:
                positives = self._encode_pooled(video, text, keys)
            return self.vtm_head.loss_without_negatives(positives)
        neg = self.vtm_head.sample_negatives(
            batch, sim, groups=groups).to(video.device)
        if positives is not None:
            return self.vtm_head.loss(
                positives, self._encode_pooled(video[neg], text, keys))
        return self._paired_pass_loss(video, text, keys, neg)

    def _paired_pass_loss(self, video, text, keys, neg):
        """VTM over one joint pass of ``[positives ; negatives]``: text
        ``i`` with clip ``i`` and with clip ``neg[i]`` (the first
        ``vtm_pairs`` texts when the whole-pair pass is subset)."""
        batch, neg, text, keys = self._matched_pairs(video.shape[0], neg,
                                                     text, keys)
        twice = None if keys is None else torch.cat([keys, keys])
        pooled = self._encode_pooled(torch.cat([video[:batch], video[neg]]),
                                     torch.cat([text, text]), twice)
        return self.vtm_head.loss(pooled[:batch], pooled[batch:])

    # ------------------------------------------------------------ predict
    @torch.no_grad()
    def extract_features(self, inputs: dict) -> Dict[str, torch.Tensor]:
        """Pooled single-modality features for retrieval: ``video_feature``
        (B, D) from the video-only encoder over all tubes (the visible ones
        with a ``video_mask``, unless ``video_pool`` needs the whole grid),
        pooled as VTC pools it, and ``text_feature`` (B, D) from the
        text-only encoder over the (unmasked when available) caption."""
        feats = {}
        if 'video' in inputs:
            tokens = self.backbone.embed_video(inputs['video'])
            if 'video_mask' in inputs and self.video_pool is None:
                tokens = gather_visible(tokens, inputs['video_mask'])
            feats['video_feature'] = self._pool_video(
                self.backbone.encode(tokens)[0], inputs['video'])
        if 'input_ids' in inputs:
            ids = inputs.get('input_ids_unmasked', inputs['input_ids'])
            _, text_only = self.backbone.encode(
                None, self.backbone.embed_text(ids),
                self._text_keys(inputs, False))
            feats['text_feature'] = self._pool_text(
                text_only, inputs['attention_mask'])
        return feats

    @torch.no_grad()
    def predict(self, inputs: dict, data_samples: Optional[List] = None
                ) -> List:
        """Features for retrieval and, for masked inputs, reconstructions.

        Each data sample carries ``features = dict(video_feature (D,),
        text_feature (D,))`` (mmaction2's ``RetrievalMetric`` layout).
        Per-video items (``inputs['text_counts']``: K_i captions of sample i
        stacked as rows) also carry ``caption_features`` (K_i, D) and
        ``features.text_feature`` is the first caption's. With a
        ``video_mask`` and ``mlm_labels`` and MSM decoders, it also carries
        ``reconstruction`` (C, T, H, W) in [0, 1] (hidden tubes predicted,
        un-normalised with the visible pixels' statistics), ``masked_video``
        (C, T, H, W) and ``pred_ids`` (L,) (argmax words at masked places).
        """
        feats = self.extract_features(inputs)
        captions = None
        if inputs.get('text_counts') is not None and 'text_feature' in feats:
            captions = torch.split(feats['text_feature'],
                                   list(inputs['text_counts']))
            feats['text_feature'] = torch.stack([c[0] for c in captions])
        if data_samples is None:
            from mmaction.structures import ActionDataSample
            batch = next(iter(feats.values())).shape[0]
            data_samples = [ActionDataSample() for _ in range(batch)]
        recon = None
        if 'msm' in self.objectives and 'video_mask' in inputs \
                and 'mlm_labels' in inputs:
            recon = self._reconstruct(inputs)
        for i, sample in enumerate(data_samples):
            # InstanceData, as ActionDataSample types this field
            sample.features = InstanceData(
                **{k: v[i] for k, v in feats.items()})
            if captions is not None:
                sample.caption_features = captions[i]
            if recon is not None:
                for key, value in recon.items():
                    setattr(sample, key, value[i])
        return data_samples

    def _reconstruct(self, inputs: dict) -> Dict[str, torch.Tensor]:
        """The joint pass exactly as in training (incl. drop_masked_text)."""
        video, mask = inputs['video'], inputs['video_mask']
        video_out, text_out = self.backbone.encode(
            self.backbone.embed_video_visible(video, mask),
            self.backbone.embed_text(inputs['input_ids']),
            self._text_keys(inputs, self.drop_masked_text))
        pred, logits = self._decode(video_out, text_out, inputs)
        head = self.pixel_head
        patches = head.patchify(head.to_pixels(video))
        patches = patches * (~mask)[..., None].to(patches.dtype)
        return dict(
            reconstruction=head.reconstruct(pred, video, mask),
            masked_video=head.unpatchify(patches, head.grid(video)),
            pred_ids=torch.where(inputs['mlm_labels'] != -100,
                                 logits.argmax(-1), inputs['input_ids']))


class _WholeInputs:
    """The whole clip and the unmasked caption of a batch, embedded on first
    use and then shared by the passes that read them (VTC, VTM)."""

    def __init__(self, backbone, inputs: dict) -> None:
        self._backbone, self._inputs, self._cache = backbone, inputs, {}

    def video(self) -> torch.Tensor:
        """``(B, N, D)`` every tube of each clip."""
        if 'video' not in self._cache:
            self._cache['video'] = self._backbone.embed_video(
                self._inputs['video'])
        return self._cache['video']

    def text(self) -> torch.Tensor:
        """``(B, L, D)`` the caption without [MASK]s."""
        if 'text' not in self._cache:
            self._cache['text'] = self._backbone.embed_text(
                self._inputs['input_ids_unmasked'])
        return self._cache['text']
