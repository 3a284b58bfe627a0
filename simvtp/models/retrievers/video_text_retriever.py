"""Text-video retrieval fine-tuning on SimVTP's unified encoder.

Two ways to hold the encoder:

* ``tied=True`` (the paper: the encoder is shared between modalities): one
  ``UnifiedViT`` at ``backbone`` encodes videos and captions;
* ``tied=False`` (the authors' code, ``DualVideoTextEncoder``): two copies,
  ``video_encoder`` (only ever embeds video) and ``text_encoder`` (only ever
  embeds text), both initialised from the same pre-trained encoder and
  trained apart. The parts a tower never uses (the video tower's text
  embeddings, the text tower's cube embedding) are frozen.

A feature is the mean of the encoder's output tokens (text padding excluded
unless ``pooling='mean_with_padding'``, the authors' pooling) followed by
an optional LayerNorm (``post_norm``: ``video_post_norm`` /
``text_post_norm``, the authors' ``fc_norm``). The loss is
:class:`~simvtp.models.heads.VTCHead`'s symmetric InfoNCE over features
gathered across ranks (the authors contrast the local batch only; with one
process the two agree).

Testing: an item may carry ``V`` views ``(V, C, T, H, W)`` (S temporal
clips x C spatial crops of one decoded video); the ``V`` features are
reduced by ``view_reduce``. With ``rerank`` set, each sample also carries
what :class:`~simvtp.evaluation.VTMRerankRetrievalMetric` needs to re-score
a text's top-k videos with the pre-trained VTM head (see :meth:`vtm_scores`).
"""
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import InstanceData

from ...registry import MODELS
from ..utils.pooling import encode_joint, pool_text, pool_video

POOLINGS = ('mean', 'mean_with_padding')
VIEW_REDUCTIONS = ('mean', 'unit_mean')


@MODELS.register_module()
class VideoTextRetriever(BaseModel):
    """Dual-encoder (or shared-encoder) video-text retrieval model.

    Args:
        backbone: config of the ``UnifiedViT`` (built once, as
            ``backbone``, when ``tied``; twice, as ``video_encoder`` and
            ``text_encoder``, otherwise).
        tied: one encoder for both modalities (True) or two towers.
        vtc_head: the contrastive head (``VTCHead``); the authors' recipe
            is a fixed temperature of 0.05, no projection, the sum of the
            two directions (``symmetric_sum=True``).
        post_norm: a LayerNorm on each pooled feature (``fc_norm``).
        video_pool: None (the mean of the video tokens) or the pooling
            module of the pre-training (``GridPoolProjection``; load it
            with ``prefix_map={'video_pool.': 'video_pool.', ...}``): it
            pools the whole clip's token grid, so training clips must not
            be tube-masked.
        pooling: ``'mean'`` excludes text padding; ``'mean_with_padding'``
            averages the padded positions too (the authors' towers).
        view_reduce: how the ``V`` views of a test item are combined:
            ``'mean'`` of the features (the authors) or ``'unit_mean'``
            (mean of the L2-normalised features).
        vtm_head: config of the pre-trained ``VTMHead`` (frozen; loaded
            with the pre-training checkpoint). Needed by ``rerank``.
        vtm_pooling: how re-ranking pools the joint pass for the VTM head:
            None (as ``pooling``) or ``'text'`` (the caption tokens only);
            as the pre-training's ``model.vtm_pooling``.
        rerank: ``dict(k=128, batch_size=64)`` to re-score each text's
            top-``k`` videos with the VTM head on a joint pass of the
            (video-side) encoder; None = embedding-only retrieval.
        freeze_encoder: keep the encoder(s) fixed (linear probing of the
            post-pool norms; a diagnostic, not the recipe).
        data_preprocessor: defaults to ``VideoTextDataPreprocessor``.
        init_cfg: e.g. ``dict(type='SimVTPPretrained', checkpoint=...,
            prefix_map={'backbone.': 'backbone.', 'vtm_head.': 'vtm_head.'})``
            (two towers: ``{'backbone.': ['video_encoder.',
            'text_encoder.']}``); loaded after every part's own init.
    """

    def __init__(self,
                 backbone: dict,
                 tied: bool = True,
                 vtc_head: dict = dict(type='VTCHead',
                                       learnable_temperature=False,
                                       temperature=0.05),
                 post_norm: bool = False,
                 video_pool: Optional[dict] = None,
                 pooling: str = 'mean',
                 view_reduce: str = 'mean',
                 vtm_head: Optional[dict] = None,
                 vtm_pooling: Optional[str] = None,
                 rerank: Optional[dict] = None,
                 freeze_encoder: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if pooling not in POOLINGS:
            raise ValueError(f'pooling must be one of {POOLINGS}, got '
                             f'{pooling!r}')
        if vtm_pooling not in (None, ) + POOLINGS + ('text', ):
            raise ValueError(f'vtm_pooling must be None, one of {POOLINGS} '
                             f"or 'text', got {vtm_pooling!r}")
        if view_reduce not in VIEW_REDUCTIONS:
            raise ValueError(f'view_reduce must be one of {VIEW_REDUCTIONS}, '
                             f'got {view_reduce!r}')
        if rerank is not None and vtm_head is None:
            raise ValueError('rerank needs the pre-trained VTM head: set '
                             'model.vtm_head=dict(type=\'VTMHead\', '
                             'embed_dims=...) and load it with the '
                             'pre-training checkpoint')
        super().__init__(data_preprocessor=data_preprocessor or dict(
            type='VideoTextDataPreprocessor'), init_cfg=init_cfg)
        self.tied = bool(tied)
        self.pooling = pooling
        self.vtm_pooling = vtm_pooling or pooling
        self.view_reduce = view_reduce
        if self.tied:
            self.backbone = MODELS.build(backbone)
        else:
            self.video_encoder = MODELS.build(backbone)
            self.text_encoder = MODELS.build(backbone)
            # never used by their tower: frozen (and no DDP unused-grad
            # errors); the video tower's text embeddings serve re-ranking
            self.video_encoder.text_embeddings.requires_grad_(False)
            self.text_encoder.patch_embed.requires_grad_(False)
        dims = self.video_tower.embed_dims
        head_dims = vtc_head.get('embed_dims', dims)
        if head_dims != dims:
            raise ValueError(f'model.vtc_head.embed_dims={head_dims} does not '
                             f'match the encoder width {dims}')
        self.vtc_head = MODELS.build(dict(vtc_head, embed_dims=dims))
        self.video_pool = None if video_pool is None else MODELS.build(
            dict(dict(in_dims=dims), **video_pool))
        if post_norm:
            self.video_post_norm = nn.LayerNorm(dims, eps=1e-6)
            self.text_post_norm = nn.LayerNorm(dims, eps=1e-6)
        else:
            self.video_post_norm = self.text_post_norm = None
        self.vtm_head = None
        if vtm_head is not None:
            self.vtm_head = MODELS.build(vtm_head)
            if self.vtm_head.embed_dims != dims:
                raise ValueError(f'model.vtm_head.embed_dims='
                                 f'{self.vtm_head.embed_dims} does not match '
                                 f'the encoder width {dims}')
            self.vtm_head.requires_grad_(False)  # not trained here
        self.rerank = None if rerank is None else dict(
            dict(k=128, batch_size=64), **rerank)
        if self.rerank is not None and self.rerank['k'] < 1:
            raise ValueError(f"rerank.k must be >= 1, got {rerank['k']}")
        if freeze_encoder:
            for encoder_ in {id(m): m for m in (self.video_tower,
                                                 self.text_tower)}.values():
                encoder_.requires_grad_(False)

    # ------------------------------------------------------------- parts
    @property
    def video_tower(self) -> nn.Module:
        """The ``UnifiedViT`` that encodes videos."""
        return self.backbone if self.tied else self.video_encoder

    @property
    def text_tower(self) -> nn.Module:
        """The ``UnifiedViT`` that encodes captions."""
        return self.backbone if self.tied else self.text_encoder

    # ---------------------------------------------------------- features
    def encode_video(self, video: torch.Tensor,
                     video_mask: Optional[torch.Tensor] = None,
                     num_visible: Optional[int] = None) -> torch.Tensor:
        """``(B, C, T, H, W)`` normalised clips -> pooled ``(B, D)``.

        With a ``video_mask`` ``(B, N)`` (True = hidden, from a
        ``TubeMasking`` step in the training pipeline) only the visible
        tubes are embedded and encoded: as pre-training's VTC saw them, at
        a fraction of the cost (FLIP-style token dropping).
        """
        if self.video_pool is not None and video_mask is not None:
            raise ValueError('video_pool pools the token grid of whole '
                             'clips: remove TubeMasking from the training '
                             'pipeline')
        if video_mask is None:
            feat = pool_video(self.video_tower, video, self.video_pool)
        else:
            encoder = self.video_tower
            tokens = encoder.embed_video_visible(video, video_mask,
                                                 num_visible)
            feat = encoder.encode(tokens)[0].mean(dim=1)
        return feat if self.video_post_norm is None else \
            self.video_post_norm(feat)

    def encode_text(self, input_ids: torch.Tensor,
                    attention_mask: Optional[torch.Tensor]) -> torch.Tensor:
        """``(B, L)`` ids and mask -> pooled ``(B, D)``."""
        feat = pool_text(self.text_tower, input_ids, attention_mask,
                         with_padding=self.pooling == 'mean_with_padding')
        return feat if self.text_post_norm is None else \
            self.text_post_norm(feat)

    @staticmethod
    def _keys(inputs: dict) -> Optional[torch.Tensor]:
        # ``text_padded`` is known on the host: None when nothing is padded
        if inputs.get('text_padded', True) is False:
            return None
        return inputs.get('attention_mask')

    def encode_views(self, video: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` or ``(B, V, C, T, H, W)`` -> ``(B, D)``,
        the ``V`` views' features reduced by ``view_reduce``."""
        if video.dim() == 5:
            return self.encode_video(video)
        if video.dim() != 6:
            raise ValueError('video must be (B, C, T, H, W) or (B, V, C, T, '
                             f'H, W), got {tuple(video.shape)}')
        batch, views = video.shape[:2]
        feats = self.encode_video(video.flatten(0, 1)).view(batch, views, -1)
        if self.view_reduce == 'unit_mean':
            feats = F.normalize(feats, dim=-1)
        return feats.mean(dim=1)

    @torch.no_grad()
    def extract_features(self, inputs: dict) -> Dict[str, torch.Tensor]:
        """``video_feature`` (B, D) for ``inputs['video']`` (views reduced)
        and ``text_feature`` (N, D) for ``input_ids`` / ``attention_mask``
        (the interface of :mod:`simvtp.apis`)."""
        feats = {}
        if 'video' in inputs:
            feats['video_feature'] = self.encode_views(inputs['video'])
        if 'input_ids' in inputs:
            feats['text_feature'] = self.encode_text(inputs['input_ids'],
                                                     self._keys(inputs))
        return feats

    # ----------------------------------------------------------- forward
    def forward(self, inputs: dict, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_features(inputs)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, '
                           'predict and tensor mode')

    def loss(self, inputs: dict, data_samples=None) -> Dict[str, torch.Tensor]:
        """Contrastive loss of a batch of ``B`` (clip, caption) pairs:
        ``video`` (B, C, T, H, W) (and optionally ``video_mask`` (B, N)),
        ``input_ids`` / ``attention_mask`` (B, L). Returns ``loss_vtc`` and
        the (logged) temperature."""
        if inputs['video'].dim() != 5:
            raise ValueError('training takes one clip per sample, (B, C, T, '
                             f"H, W); got {tuple(inputs['video'].shape)}")
        video = self.encode_video(inputs['video'], inputs.get('video_mask'),
                                  inputs.get('num_visible'))
        text = self.encode_text(inputs['input_ids'], self._keys(inputs))
        return self.vtc_head.loss(video, text)

    @torch.no_grad()
    def predict(self, inputs: dict, data_samples: Optional[List] = None
                ) -> List:
        """Features for :class:`VideoTextRetrievalMetric`.

        Each data sample carries ``features = dict(video_feature (D,),
        text_feature (D,))``; per-video items (``inputs['text_counts']``)
        also ``caption_features`` (K_i, D) (``text_feature`` is then the
        first caption's). With ``rerank``: ``rerank_video`` (N, D), the
        embedded tokens of the middle view for the VTM joint pass, and
        ``rerank_ids`` / ``rerank_mask`` (K_i, L) of its captions.
        """
        feats = self.extract_features(inputs)
        counts = inputs.get('text_counts')
        if counts is None and 'input_ids' in inputs:
            counts = [1] * inputs['input_ids'].shape[0]
        if data_samples is None:
            from mmaction.structures import ActionDataSample
            batch = next(iter(feats.values())).shape[0]
            data_samples = [ActionDataSample() for _ in range(batch)]
        captions = ids = masks = None
        if counts is not None and 'text_feature' in feats:
            captions = torch.split(feats['text_feature'], list(counts))
            feats['text_feature'] = torch.stack([c[0] for c in captions])
        rerank_video = None
        if self.rerank is not None and 'video' in inputs:
            video = inputs['video']
            if video.dim() == 6:  # the middle view (S, C odd: centre clip/crop)
                video = video[:, video.shape[1] // 2]
            rerank_video = self.video_tower.embed_video(video)
            if counts is not None:
                ids = torch.split(inputs['input_ids'], list(counts))
                masks = torch.split(inputs['attention_mask'], list(counts))
        for i, sample in enumerate(data_samples):
            # InstanceData, as ActionDataSample types this field
            sample.features = InstanceData(
                **{k: v[i] for k, v in feats.items()})
            if inputs.get('text_counts') is not None:
                sample.caption_features = captions[i]
            if rerank_video is not None:
                sample.rerank_video = rerank_video[i]
                if ids is not None:
                    sample.rerank_ids = ids[i]
                    sample.rerank_mask = masks[i]
        return data_samples

    # -------------------------------------------------------- re-ranking
    @torch.no_grad()
    def vtm_scores(self, video_tokens: torch.Tensor,
                   input_ids: torch.Tensor,
                   attention_mask: torch.Tensor) -> torch.Tensor:
        """Matching log-probabilities of ``P`` (video, caption) pairs.

        Args:
            video_tokens: ``(P, N, D)`` embedded video tokens (as
                :meth:`predict` stores them).
            input_ids, attention_mask: ``(P, L)``.

        Returns:
            ``(P,)`` float32 ``log p(matched)`` from the VTM head on the
            joint pass ``[video ; text]`` of the video tower, pooled by
            ``vtm_pooling`` as in pre-training.
        """
        if self.vtm_head is None:
            raise RuntimeError('vtm_scores needs model.vtm_head')
        encoder = self.video_tower
        param = next(encoder.parameters())
        video_tokens = video_tokens.to(param.device, param.dtype)
        input_ids = input_ids.to(param.device)
        attention_mask = attention_mask.to(param.device)
        logits = self.vtm_head(encode_joint(
            encoder, video_tokens, encoder.embed_text(input_ids),
            attention_mask, self.vtm_pooling)).float()
        return F.log_softmax(logits, dim=-1)[:, 1]
