"""SimVTP: masked video-text autoencoding with one unified encoder + VTC + VTM.

The algorithm is a thin composition of registered parts: a
:class:`~simvtp.models.backbones.UnifiedViT`, a video and a text decoder (or
one shared decoder), and one head per objective. Per training step
(``B`` clips, ``N`` tubes of which ``N_vis`` visible, ``L`` text tokens):

1. the clip is cube-embedded once and its visible tubes gathered once; the
   masked caption is embedded once;
2. joint pass over ``[visible video ; text]`` -> MSM (pixels of hidden tubes,
   masked words) and, pooled, the positive VTM pairs (the paper notes they can
   be reused; the reference re-encodes them);
3. VTC: the same encoder on video-only and on text-only tokens, pooled with
   padding excluded, symmetric InfoNCE over features gathered across ranks;
4. VTM: one joint pass over ``B`` negative pairs (each text with another
   clip of the batch, random or similarity-weighted).

Speed options (off by default; ``tools/analysis_tools/benchmark_train.py``
measures them): ``embed_visible_only`` and ``skip_text_padding`` keep the
losses up to rounding; ``decoder_keep_ratio < 1`` changes the pixel
objective (VideoMAE V2 decoder masking). ``share_video_embedding=False``,
``vtm_reuse_positives=False`` (with ``attn_impl='math'`` and
``VTMHead(sampling='loop')``) reproduce the reference's flow as a baseline.
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.structures import InstanceData

from ...registry import MODELS
from ..layers.tokens import gather_visible
from ..utils.pooling import masked_mean

OBJECTIVES = ('msm', 'vtc', 'vtm')
POOLINGS = ('mean', 'mean_with_padding')
VTC_TEXTS = ('masked', 'unmasked')


@MODELS.register_module()
class SimVTP(BaseModel):
    """The SimVTP pre-training model.

    Args:
        backbone: config of the unified encoder (``UnifiedViT``).
        video_decoder: config of the pixel decoder (``VideoMAEDecoder``);
            ``in_dims`` is filled from the backbone when absent.
        text_decoder: config of the word decoder (``TextDecoder``).
        shared_decoder: config of a ``SharedVideoTextDecoder`` used *instead*
            of the two decoders (paper Table 4e).
        pixel_head, mlm_head, vtc_head, vtm_head: head configs; each carries
            its ``loss_weight``.
        objectives: any non-empty subset of ``('msm', 'vtc', 'vtm')``
            (paper Table 5). Parts of unused objectives are not built.
        pooling: ``'mean'`` excludes text padding from every mean pool;
            ``'mean_with_padding'`` averages padding too (the reference).
        vtc_text: ``'masked'`` (the paper: contrast the masked caption) or
            ``'unmasked'``.
        drop_masked_text: paper Table 4d. False (default) keeps [MASK]
            tokens in the encoder sequence; True hides them from attention
            (no token can read them, which equals dropping them) and feeds
            the text decoder a learned mask token plus position at masked
            places, MAE-style.
        vtm_reuse_positives: reuse the joint pass's pooled features as the
            positive VTM pairs (True, the paper) or re-encode the positives
            together with the negatives (False, the reference's flow).
        share_video_embedding: embed the clip and gather its visible tubes
            once per step for every pass (True) or, as the reference does,
            again for each pass that reads video (joint, VTC video-only,
            VTM); False is a benchmark baseline with the same numerics.
        embed_visible_only: cube-embed only the visible tubes (the
            embedding is linear per tube; equal to embedding the full clip
            then gathering, up to fp32 rounding, and ~1/(1-mask ratio)
            cheaper). Default False: the full ``Conv3d``.
        decoder_keep_ratio: VideoMAE V2-style decoder masking: decode (and
            reconstruct in the pixel loss) a random ``round(ratio *
            N_hidden)`` of each clip's hidden tubes (at least 1, the same
            count per clip). 1.0 (default) decodes all hidden tubes.
        skip_text_padding: the encoder passes of the loss compute only real
            tokens (projections and MLPs skip text padding; attention masks
            it as before): same losses up to rounding, fewer FLOPs the more
            the captions of a batch differ in length. Needs
            ``pooling='mean'`` (the reference pooling reads padding).
            Packing reads the token count on the host: one sync per pass.
        sync_free: no device-to-host read in the loss, so the host can
            queue the next step while the device works. The only
            data-dependent size left, the number of hidden words, is
            avoided by computing word logits at every text position (-100
            labels ignored; same loss). The other counts come from shapes
            or, for the video mask, from the preprocessor's ``num_visible``.
            None (default): on for accelerators, off on the CPU. Not covered:
            ``skip_text_padding`` and ``decoder_keep_ratio < 1``, which read
            one count each.
        data_preprocessor: defaults to ``VideoTextDataPreprocessor``.
    """

    def __init__(self,
                 backbone: dict,
                 video_decoder: Optional[dict] = dict(type='VideoMAEDecoder'),
                 text_decoder: Optional[dict] = dict(type='TextDecoder'),
                 shared_decoder: Optional[dict] = None,
                 pixel_head: dict = dict(type='PixelReconstructionHead'),
                 mlm_head: dict = dict(type='MLMHead'),
                 vtc_head: dict = dict(type='VTCHead'),
                 vtm_head: dict = dict(type='VTMHead'),
                 objectives: Sequence[str] = OBJECTIVES,
                 pooling: str = 'mean',
                 vtc_text: str = 'masked',
                 drop_masked_text: bool = False,
                 vtm_reuse_positives: bool = True,
                 share_video_embedding: bool = True,
                 embed_visible_only: bool = False,
                 decoder_keep_ratio: float = 1.0,
                 skip_text_padding: bool = False,
                 sync_free: Optional[bool] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='VideoTextDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        objectives = tuple(objectives)
        unknown = [o for o in objectives if o not in OBJECTIVES]
        if unknown or not objectives:
            raise ValueError(f'model.objectives: unknown or empty {unknown or objectives}; '
                             f'choose a non-empty subset of {OBJECTIVES}')
        if pooling not in POOLINGS:
            raise ValueError(f'model.pooling must be one of {POOLINGS}, got '
                             f'{pooling!r}')
        if vtc_text not in VTC_TEXTS:
            raise ValueError(f'model.vtc_text must be one of {VTC_TEXTS}, '
                             f'got {vtc_text!r}')
        self.objectives = objectives
        self.pooling = pooling
        self.vtc_text = vtc_text
        self.drop_masked_text = drop_masked_text
        self.vtm_reuse_positives = vtm_reuse_positives
        self.share_video_embedding = bool(share_video_embedding)
        self.embed_visible_only = bool(embed_visible_only)
        if not 0 < decoder_keep_ratio <= 1:
            raise ValueError('model.decoder_keep_ratio must be in (0, 1], '
                             f'got {decoder_keep_ratio}')
        self.decoder_keep_ratio = float(decoder_keep_ratio)
        if skip_text_padding and pooling != 'mean':
            raise ValueError("model.skip_text_padding needs pooling='mean'; "
                             f'{pooling!r} averages the padding outputs')
        self.skip_text_padding = bool(skip_text_padding)
        self.sync_free = sync_free

        self.backbone = MODELS.build(backbone)
        dims = self.backbone.embed_dims
        self.shared_decoder = self.video_decoder = self.text_decoder = None
        if 'msm' in objectives:
            if shared_decoder is not None:
                self.shared_decoder = MODELS.build(
                    self._fill(shared_decoder, dims, vocab=True))
            else:
                self.video_decoder = MODELS.build(
                    self._fill(video_decoder, dims))
                self.text_decoder = MODELS.build(
                    self._fill(text_decoder, dims, vocab=True))
            self.pixel_head = MODELS.build(self._video_geometry(pixel_head))
            self.mlm_head = MODELS.build(mlm_head)
            if drop_masked_text:
                self.text_mask_token = torch.nn.Parameter(
                    torch.zeros(1, 1, dims))
                torch.nn.init.trunc_normal_(self.text_mask_token, std=.02)
        if 'vtc' in objectives:
            self.vtc_head = MODELS.build(dict(vtc_head, embed_dims=dims)
                                         if 'embed_dims' not in vtc_head
                                         else vtc_head)
        if 'vtm' in objectives:
            self.vtm_head = MODELS.build(dict(vtm_head, embed_dims=dims)
                                         if 'embed_dims' not in vtm_head
                                         else vtm_head)
            if self.vtm_head.negative == 'hard' and 'vtc' not in objectives:
                raise ValueError(
                    "model.vtm_head.negative='hard' draws negatives from the "
                    'VTC similarities: add \'vtc\' to model.objectives or '
                    "use negative='random'")

    # ----------------------------------------------------------- building
    def _video_geometry(self, cfg: dict) -> dict:
        cfg = dict(cfg)
        cfg.setdefault('patch_size', self.backbone.patch_size)
        cfg.setdefault('tubelet_size', self.backbone.tubelet_size)
        return cfg

    def _fill(self, cfg: dict, dims: int, vocab: bool = False) -> dict:
        cfg = dict(cfg)
        cfg.setdefault('in_dims', dims)
        if vocab:
            cfg.setdefault('vocab_size', self.backbone.text_embeddings
                           .word_embeddings.num_embeddings)
        if cfg['type'].split('.')[-1] != 'TextDecoder':
            cfg = self._video_geometry(cfg)
            cfg.setdefault('in_channels', self.backbone.in_channels)
        return cfg

    # ------------------------------------------------------------ helpers
    def _text_valid(self, attention_mask: torch.Tensor) -> Optional[torch.Tensor]:
        """Which text tokens mean pooling averages: (B, L) or None = all."""
        return None if self.pooling == 'mean_with_padding' else attention_mask

    def _pool_joint(self, video_out: torch.Tensor, text_out: torch.Tensor,
                    attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean over [video ; text] tokens -> (B, D)."""
        tokens = torch.cat([video_out, text_out], dim=1)
        valid = self._text_valid(attention_mask)
        if valid is not None:
            valid = torch.cat([valid.new_ones(video_out.shape[:2]), valid], 1)
        return masked_mean(tokens, valid)

    def _embed_visible(self, video: torch.Tensor, mask: torch.Tensor,
                       num_visible: Optional[int] = None) -> torch.Tensor:
        """Embedded visible tubes ``(B, N_vis, D)`` of a masked clip
        (``num_visible`` known on the host: no sync)."""
        if self.embed_visible_only:
            return self.backbone.embed_video_visible(video, mask, num_visible)
        return gather_visible(self.backbone.embed_video(video), mask,
                              num_visible)

    def _is_sync_free(self, tensor: torch.Tensor) -> bool:
        """sync_free=None: on for accelerators, off on the CPU (where the
        selected-positions path does less work and a "sync" costs nothing)."""
        if self.sync_free is None:
            return tensor.device.type != 'cpu'
        return bool(self.sync_free)

    @staticmethod
    def _padding_mask(inputs: dict) -> Optional[torch.Tensor]:
        """The text key mask for the encoder, or None when the batch has no
        padding (``text_padded``, known on the host, from the preprocessor).
        """
        if inputs.get('text_padded', True) is False:
            return None
        return inputs.get('attention_mask')

    def _decode_mask(self, mask: torch.Tensor,
                     num_visible: int) -> Optional[torch.Tensor]:
        """Random same-size subset of the hidden tubes, or None (all)."""
        if self.decoder_keep_ratio >= 1:
            return None
        num_hidden = mask.shape[1] - num_visible  # from shapes: no sync
        keep = max(1, int(round(self.decoder_keep_ratio * num_hidden)))
        if keep >= num_hidden:
            return None
        # visible tubes score 2, hidden ones U[0, 1): the `keep` lowest
        # scores are a uniform random subset of the hidden tubes
        scores = torch.rand(mask.shape, device=mask.device)
        scores = scores.masked_fill(~mask, 2.0)
        chosen = scores.topk(keep, dim=1, largest=False).indices
        return torch.zeros_like(mask).scatter_(1, chosen, True)

    def _fill_dropped_text(self, text_out: torch.Tensor,
                           select: torch.Tensor) -> torch.Tensor:
        """With drop_masked_text, masked places get mask token + position."""
        if not self.drop_masked_text:
            return text_out
        pos = self.backbone.text_embeddings.position_embeddings.weight[
            :text_out.shape[1]]
        filler = (self.text_mask_token + pos[None]).to(text_out.dtype)
        return torch.where(select[..., None], filler, text_out)

    def _encoder_text_mask(self, inputs: dict) -> Optional[torch.Tensor]:
        """Key mask of the joint pass: padding, and [MASK]s when dropped."""
        if self.drop_masked_text and 'mlm_labels' in inputs:
            return inputs['attention_mask'] * (inputs['mlm_labels'] == -100)
        return self._padding_mask(inputs)

    def _warn_once(self, key: str, message: str) -> None:
        warned = self.__dict__.setdefault('_warned', set())
        if key not in warned:
            warned.add(key)
            print_log(f'SimVTP: {message}', logger='current',
                      level=logging.WARNING)

    # ------------------------------------------------------------ forward
    def forward(self, inputs: dict, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward_tensor(inputs)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, '
                           'predict and tensor mode')

    def _forward_tensor(self, inputs: dict) -> Dict[str, torch.Tensor]:
        """Joint encoder outputs: ``video`` (B, N_vis, D), ``text`` (B, L, D)."""
        video_out, text_out = self.backbone(
            video=inputs.get('video'), text_ids=inputs.get('input_ids'),
            text_attention_mask=inputs.get('attention_mask'),
            video_mask=inputs.get('video_mask'))
        return dict(video=video_out, text=text_out)

    def loss(self, inputs: dict, data_samples=None) -> Dict[str, torch.Tensor]:
        """All selected objectives on one batch.

        Args:
            inputs: from :class:`VideoTextDataPreprocessor`: ``video``
                (B, C, T, H, W) normalised, ``video_mask`` (B, N) bool,
                ``input_ids`` (B, L) masked ids, ``attention_mask`` (B, L),
                ``mlm_labels`` (B, L) and, for ``vtc_text='unmasked'``,
                ``input_ids_unmasked`` (B, L).
        """
        video, mask = inputs['video'], inputs['video_mask']
        attention_mask = inputs['attention_mask']
        num_visible = inputs.get('num_visible')
        losses = {}
        # one cube embedding and one gather per clip, shared by every pass
        # (share_video_embedding=False: the reference's one per pass)
        if self.share_video_embedding:
            shared = self._embed_visible(video, mask, num_visible)
            visible = lambda: shared  # noqa: E731
        else:
            visible = lambda: self._embed_visible(  # noqa: E731
                video, mask, num_visible)
        text = self.backbone.embed_text(inputs['input_ids'])
        need_joint = 'msm' in self.objectives or (
            'vtm' in self.objectives and self.vtm_reuse_positives)
        if need_joint:
            joint_mask = self._encoder_text_mask(inputs)
            video_out, text_out = self.backbone.encode(
                visible(), text, joint_mask,
                skip_padding=self.skip_text_padding)
        if 'msm' in self.objectives:
            losses.update(self._msm_loss(video_out, text_out, video, mask,
                                         inputs))
        sim = None
        if 'vtc' in self.objectives:
            vtc_losses, sim = self._vtc_loss(visible(), text, inputs)
            losses.update(vtc_losses)
        if 'vtm' in self.objectives:
            positives = None
            if self.vtm_reuse_positives:
                positives = self._pool_joint(video_out, text_out,
                                             attention_mask)
            losses.update(self._vtm_loss(visible(), text, attention_mask,
                                         positives, sim,
                                         self._encoder_text_mask(inputs)))
        return losses

    def _msm_loss(self, video_out, text_out, video, mask, inputs):
        labels = inputs['mlm_labels']
        masked_words = labels != -100
        text_out = self._fill_dropped_text(text_out, masked_words)
        # word logits only where a word is hidden (a data-dependent count:
        # one host sync), or everywhere with -100 ignored (sync-free)
        select = None if self._is_sync_free(labels) else masked_words
        decode_mask = self._decode_mask(mask, video_out.shape[1])
        if self.shared_decoder is not None:
            pred, logits = self.shared_decoder(
                video_out, mask, text_out, inputs['attention_mask'],
                decode_mask=decode_mask, select=select)
        else:
            pred = self.video_decoder(video_out, mask, decode_mask)
            logits = self.text_decoder(text_out, inputs['attention_mask'],
                                       select=select)
        target_video = self.data_preprocessor.to_unit_range(video)
        losses = self.pixel_head.loss(
            pred, target_video, mask if decode_mask is None else decode_mask)
        losses.update(self.mlm_head.loss(
            logits, labels if select is None else labels[select]))
        return losses

    def _vtc_loss(self, visible, text, inputs):
        attention_mask = inputs['attention_mask']
        if self.vtc_text == 'unmasked':
            text = self.backbone.embed_text(inputs['input_ids_unmasked'])
        video_only, _ = self.backbone.encode(visible, None, None)
        _, text_only = self.backbone.encode(
            None, text, self._padding_mask(inputs),
            skip_padding=self.skip_text_padding)
        video_feat = masked_mean(video_only)
        text_feat = masked_mean(text_only, self._text_valid(attention_mask))
        losses = self.vtc_head.loss(video_feat, text_feat)
        sim = None
        if 'vtm' in self.objectives and self.vtm_head.negative == 'hard':
            with torch.no_grad():
                sim = self.vtc_head.similarity(
                    *self.vtc_head(video_feat, text_feat))  # rows = text
        return losses, sim

    def _vtm_loss(self, visible, text, attention_mask, positives, sim,
                  key_mask):
        """``key_mask``: the text key mask of the joint pass (padding, and
        hidden [MASK]s with ``drop_masked_text``) or None when nothing is
        masked: positives and negatives must attend alike, or VTM could tell
        them apart by the attention pattern instead of the content."""
        batch = visible.shape[0]
        if batch < 2:  # no other clip to pair the text with
            self._warn_once('vtm_batch', f'VTM got a batch of {batch} pair '
                            '(e.g. the last, incomplete batch of an epoch '
                            'without drop_last): it contributes a zero loss')
            if positives is None:
                v, t = self.backbone.encode(visible, text, key_mask)
                positives = self._pool_joint(v, t, attention_mask)
            return self.vtm_head.loss_without_negatives(positives)
        neg = self.vtm_head.sample_negatives(batch, sim).to(visible.device)
        neg_video = visible[neg]
        if positives is None:  # reference flow: encode 2B pairs together
            v, t = self.backbone.encode(
                torch.cat([visible, neg_video]), torch.cat([text, text]),
                None if key_mask is None else torch.cat([key_mask] * 2),
                skip_padding=self.skip_text_padding)
            pooled = self._pool_joint(v, t, torch.cat([attention_mask] * 2))
            positives, negatives = pooled[:batch], pooled[batch:]
        else:
            v, t = self.backbone.encode(neg_video, text, key_mask,
                                        skip_padding=self.skip_text_padding)
            negatives = self._pool_joint(v, t, attention_mask)
        return self.vtm_head.loss(positives, negatives)

    # ------------------------------------------------------------ predict
    @torch.no_grad()
    def extract_features(self, inputs: dict) -> Dict[str, torch.Tensor]:
        """Pooled single-modality features for retrieval.

        Returns ``video_feature`` (B, D) from the video-only encoder over all
        tubes (or the visible ones when ``video_mask`` is given) and
        ``text_feature`` (B, D) from the text-only encoder over the
        (unmasked when available) caption, padding excluded.
        """
        feats = {}
        if 'video' in inputs:
            tokens = self.backbone.embed_video(inputs['video'])
            if 'video_mask' in inputs:
                tokens = gather_visible(tokens, inputs['video_mask'])
            video_only, _ = self.backbone.encode(tokens, None, None)
            feats['video_feature'] = masked_mean(video_only)
        if 'input_ids' in inputs:
            ids = inputs.get('input_ids_unmasked', inputs['input_ids'])
            mask = inputs['attention_mask']
            _, text_only = self.backbone.encode(
                None, self.backbone.embed_text(ids),
                self._padding_mask(inputs))
            feats['text_feature'] = masked_mean(text_only,
                                                self._text_valid(mask))
        return feats

    @torch.no_grad()
    def predict(self, inputs: dict, data_samples: Optional[List] = None
                ) -> List:
        """Features for retrieval and, for masked inputs, reconstructions.

        Each returned data sample carries ``features`` =
        ``dict(video_feature (D,), text_feature (D,))`` (the layout of
        mmaction2's ``RetrievalMetric``). When the inputs carry a
        ``video_mask`` and ``mlm_labels`` and the model has MSM decoders, it
        also carries ``reconstruction`` (C, T, H, W) in [0, 1] (hidden tubes
        from the prediction, un-normalised with the visible pixels'
        statistics, never the hidden ground truth), ``masked_video`` (C, T,
        H, W) and ``pred_ids`` (L,) (argmax words at masked places, the
        input ids elsewhere).

        Per-video items (``inputs['text_counts']``: K_i captions of sample
        i stacked as rows) also carry ``caption_features`` (K_i, D), every
        caption's feature; ``features.text_feature`` is then the first
        caption's (read by :class:`VideoTextRetrievalMetric`).
        """
        feats = self.extract_features(inputs)
        captions = None
        counts = inputs.get('text_counts')
        if counts is not None and 'text_feature' in feats:
            captions = torch.split(feats['text_feature'], list(counts))
            feats['text_feature'] = torch.stack([c[0] for c in captions])
        batch = next(iter(feats.values())).shape[0]
        if data_samples is None:
            from mmaction.structures import ActionDataSample
            data_samples = [ActionDataSample() for _ in range(batch)]
        recon = None
        if 'msm' in self.objectives and 'video_mask' in inputs \
                and 'mlm_labels' in inputs:
            recon = self._reconstruct(inputs)
        for i, sample in enumerate(data_samples):
            # InstanceData, as ActionDataSample types this field; the
            # evaluator turns it into the dict RetrievalMetric reads
            sample.features = InstanceData(
                **{k: v[i] for k, v in feats.items()})
            if captions is not None:
                sample.caption_features = captions[i]
            if recon is not None:
                sample.reconstruction = recon['video'][i]
                sample.masked_video = recon['masked_video'][i]
                sample.pred_ids = recon['pred_ids'][i]
        return data_samples

    def _reconstruct(self, inputs: dict) -> Dict[str, torch.Tensor]:
        video, mask = inputs['video'], inputs['video_mask']
        labels = inputs['mlm_labels']
        select = labels != -100
        # the joint pass exactly as in training (incl. drop_masked_text)
        video_out, text_out = self.backbone.encode(
            self._embed_visible(video, mask),
            self.backbone.embed_text(inputs['input_ids']),
            self._encoder_text_mask(inputs))
        text_out = self._fill_dropped_text(text_out, select)
        if self.shared_decoder is not None:
            pred, logits = self.shared_decoder(
                video_out, mask, text_out, inputs['attention_mask'])
        else:
            pred = self.video_decoder(video_out, mask)
            logits = self.text_decoder(text_out, inputs['attention_mask'])
        pixels = self.data_preprocessor.to_unit_range(video)
        recon = self.pixel_head.reconstruct(pred, pixels, mask)
        patches = self.pixel_head.patchify(pixels)
        patches = patches * (~mask)[..., None].to(patches.dtype)
        masked_video = self.pixel_head.unpatchify(
            patches, self.pixel_head.grid(pixels))
        pred_ids = torch.where(select, logits.argmax(-1), inputs['input_ids'])
        return dict(video=recon, masked_video=masked_video, pred_ids=pred_ids)
