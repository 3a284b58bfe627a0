"""Multiple choice by contrastive similarity and matching probability: the
zero-training protocol of MSRVTT-MC (no training set), and the same scores
trained."""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F

from ...registry import MODELS
from ..utils.pooling import pool_text, pool_video
from .multiple_choice import VideoQAMultipleChoice


@MODELS.register_module()
class MatchingSimilarityMultipleChoice(VideoQAMultipleChoice):
    """Scores options by a contrastive similarity and the VTM head.

    Scores per option, each reported under its own name:

    * ``sim``: ``softmax_k(sim_k / temperature)``, ``sim_k`` the cosine
      similarity of the pooled video-only and option-only encodings (two
      single-modality passes: no joint pass per option);
    * ``vtm`` (``vtm_weight > 0``): ``softmax(VTM logits)[matched]``
      (ClipBERT's protocol);
    * ``vtm_sim`` (``vtm_weight > 0``): ``vtm_weight * vtm + (1 -
      vtm_weight) * sim`` (mmaction2's VindLU MC and Unmasked Teacher use
      weight 0.7 with a retrieval-trained encoder and no MC training).

    ``pred_label`` is the argmax of ``vtm_sim`` (of ``sim`` when
    ``vtm_weight=0``: the VTM head is then never run). It can also be trained
    (:meth:`loss`): cross-entropy over the options of ``vtm_sim``
    normalised over the options; with ``vtm_weight=0`` that is an InfoNCE
    of the clip against its own distractor captions, and no joint pass is
    computed in training. With ``in_batch_negatives`` the similarity is
    trained instead as a contrastive loss over the whole batch (below).
    :class:`VideoQAMultipleChoice` is the paper's VTM-only model.

    Args:
        vtc_head: the contrastive head (``VTCHead``) whose projections (if
            any) and temperature give the similarity; load it from the
            checkpoint with the encoder (``'vtc_head.'`` in prefix_map).
        vtm_weight: weight of the matching probability (0.7).
        temperature: similarity temperature; None uses the head's.
        video_pool: None (the video feature is the mean of the clip's
            tokens) or the pre-training's pooling module config (e.g.
            ``GridPoolProjection``; add ``'video_pool.'`` to prefix_map):
            the similarity then uses the pre-trained video feature. The
            clips must then be whole (no tube masking).
        in_batch_negatives: train the similarity as retrieval is trained,
            with each clip's distractors as extra hard negatives:
            ``loss_sim`` = mean of clip-to-text cross-entropy over every
            option text of the batch (the clip's own distractors and all
            other clips' options) and text-to-clip cross-entropy of the true
            captions over the batch's clips; a text identical to the clip's
            true caption is not counted as its negative. ``loss_vtm`` (with
            ``vtm_weight > 0``) is the VTM cross-entropy over the clip's own
            options, as :class:`VideoQAMultipleChoice` trains. Option-only
            cross-entropy of the similarity (the default) sees 4 negatives a
            clip and forgets the batch-wide alignment the checkpoint has.
        **kwargs: see :class:`VideoQAMultipleChoice`.
    """

    SCORE_NAMES = ('sim', 'vtm', 'vtm_sim')

    def __init__(self, *args, vtc_head: dict = dict(type='VTCHead'),
                 vtm_weight: float = 0.7,
                 temperature: Optional[float] = None,
                 video_pool: Optional[dict] = None,
                 in_batch_negatives: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not 0 <= vtm_weight <= 1:
            raise ValueError(f'vtm_weight must be in [0, 1], got '
                             f'{vtm_weight}')
        if temperature is not None and temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.vtc_head = MODELS.build(vtc_head)
        self.vtm_weight = float(vtm_weight)
        self.temperature = temperature
        self.video_pool = None if video_pool is None else MODELS.build(
            dict(dict(in_dims=self.backbone.embed_dims), **video_pool))
        self.in_batch_negatives = in_batch_negatives

    def embeddings(self, inputs: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        """Normalised ``(B, E)`` clip and ``(sum K_b, E)`` option
        embeddings (video-only and text-only passes)."""
        video = pool_video(self.backbone, inputs['video'], self.video_pool)
        text = pool_text(self.backbone, inputs['input_ids'],
                         inputs.get('attention_mask'))
        return self.vtc_head(video, text)

    def _scale(self):
        """``1 / temperature``: the head's (a tensor) or the fixed one."""
        return self.vtc_head.scale() if self.temperature is None else \
            1.0 / self.temperature

    def similarity(self, inputs: dict) -> torch.Tensor:
        """``(sum K_b,)`` cosine / temperature of each (clip, option)."""
        video, text = self.embeddings(inputs)
        counts = torch.as_tensor(self._counts(inputs), device=video.device)
        video = video.repeat_interleave(counts, dim=0)
        return (video * text).sum(-1) * self._scale()

    def in_batch_loss(self, inputs: dict,
                      labels: torch.Tensor) -> torch.Tensor:
        """Contrastive loss of ``in_batch_negatives`` (see the class)."""
        video, text = self.embeddings(inputs)
        counts = torch.as_tensor(self._counts(inputs), device=video.device)
        starts = torch.cumsum(counts, 0) - counts
        truth = starts + labels  # (B,) row of each clip's true caption
        logits_v2t = self._scale() * video @ text.t()  # (B, sum K)
        ids = inputs['input_ids']
        mask = inputs.get('attention_mask')
        if mask is not None:
            ids = ids * mask.to(ids.dtype)
        same_text = (ids[truth][:, None, :] == ids[None, :, :]).all(-1)
        same_text[torch.arange(len(truth)), truth] = False
        logits_v2t = logits_v2t.masked_fill(same_text, float('-inf'))
        logits_t2v = self._scale() * text[truth] @ video.t()  # (B, B)
        same_clip = same_text[:, truth]  # clips whose truth is identical
        logits_t2v = logits_t2v.masked_fill(same_clip, float('-inf'))
        return 0.5 * (F.cross_entropy(logits_v2t, truth) + F.cross_entropy(
            logits_t2v, torch.arange(len(truth), device=video.device)))

    def named_scores(self, inputs: dict) -> Dict[str, torch.Tensor]:
        """``sim`` and (``vtm_weight > 0``) ``vtm`` and ``vtm_sim`` scores,
        each ``(B, K)``."""
        counts = self._counts(inputs)
        sim = self.per_question(self.similarity(inputs), counts).softmax(-1)
        if self.vtm_weight == 0:
            return dict(sim=sim)
        vtm = self.per_question(self.pair_logits(inputs).softmax(-1)[:, 1],
                                counts, fill=-1.0)
        mixed = self.vtm_weight * vtm + (1 - self.vtm_weight) * sim
        return dict(sim=sim, vtm=vtm, vtm_sim=mixed)

    def loss(self, inputs: dict, data_samples: List) -> Dict[str, torch.Tensor]:
        """With ``in_batch_negatives``: ``loss_sim`` (and ``loss_vtm``), see
        the class. Otherwise the cross entropy of ``vtm_sim / sum_k
        vtm_sim_k`` at the true option; ``acc`` (its argmax) is logged."""
        counts = self._counts(inputs)
        labels = self.gt_labels(data_samples, inputs['video'].device)
        if self.in_batch_negatives:
            losses = dict(loss_sim=self.in_batch_loss(inputs, labels))
            if self.vtm_weight > 0:
                vtm = self.per_question(self.pair_logits(inputs)[:, 1],
                                        counts)
                losses['loss_vtm'] = F.cross_entropy(vtm, labels)
            return losses
        sim = self.per_question(self.similarity(inputs), counts)
        log_p = sim.float().log_softmax(-1)
        if self.vtm_weight > 0:
            vtm = self.per_question(
                self.pair_logits(inputs).softmax(-1)[:, 1], counts, fill=0.0)
            mixed = self.vtm_weight * vtm + (1 - self.vtm_weight) * \
                log_p.exp()
            log_p = (mixed / mixed.sum(-1, keepdim=True)).clamp_min(
                1e-12).log()
        return dict(loss=F.nll_loss(log_p, labels),
                    acc=(log_p.argmax(1) == labels).float().mean().detach())

    @torch.no_grad()
    def predict(self, inputs: dict, data_samples: List) -> List:
        """Samples get ``pred_label`` (argmax of ``vtm_sim``, or of ``sim``
        with ``vtm_weight=0``) and ``option_scores = {name: (K,)}``."""
        scores = self.named_scores(inputs)
        chosen = scores['vtm_sim' if self.vtm_weight > 0 else 'sim']
        for b, (sample, count) in enumerate(zip(data_samples,
                                                self._counts(inputs))):
            sample.option_scores = {k: v[b, :count].cpu()
                                    for k, v in scores.items()}
            sample.pred_label = int(chosen[b].argmax())
        return data_samples
