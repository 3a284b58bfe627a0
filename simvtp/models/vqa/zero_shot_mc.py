"""The zero-training multiple-choice protocol of MSRVTT-MC (no training set):
matching probability, optionally ensembled with the contrastive
similarity."""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F

from ...registry import MODELS
from ..utils.pooling import masked_mean, pool_video
from .multiple_choice import VideoQAMultipleChoice


@MODELS.register_module()
class MatchingSimilarityMultipleChoice(VideoQAMultipleChoice):
    """Scores options with a retrieval-trained encoder without MC training.

    Two scores per option, each reported under its own name:

    * ``vtm``: ``softmax(VTM logits)[matched]`` (ClipBERT's protocol);
    * ``vtm_sim``: ``vtm_weight * softmax(VTM)[matched] + (1 - vtm_weight) *
      softmax_k(sim_k / temperature)``, ``sim_k`` the cosine similarity of
      the pooled video-only and option-only encodings (mmaction2's VindLU
      MC and Unmasked Teacher use weight 0.7).

    ``pred_label`` is the argmax of ``vtm_sim``. It can also be trained
    (:meth:`loss`): cross-entropy over the options of ``vtm_sim``
    normalised over the options; with ``vtm_weight=0`` that is an InfoNCE
    of the clip against its own distractor captions, and no joint pass is
    computed in training. :class:`VideoQAMultipleChoice` is the paper's
    VTM-only model.

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
        **kwargs: see :class:`VideoQAMultipleChoice`.
    """

    SCORE_NAMES = ('vtm', 'vtm_sim')

    def __init__(self, *args, vtc_head: dict = dict(type='VTCHead'),
                 vtm_weight: float = 0.7,
                 temperature: Optional[float] = None,
                 video_pool: Optional[dict] = None, **kwargs) -> None:
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

    def similarity(self, inputs: dict) -> torch.Tensor:
        """``(sum K_b,)`` cosine / temperature of each (clip, option)."""
        backbone = self.backbone
        video = pool_video(backbone, inputs['video'], self.video_pool)
        mask = inputs.get('attention_mask')
        _, text = backbone.encode(None, backbone.embed_text(
            inputs['input_ids']), mask)
        text = masked_mean(text, mask)
        video, text = self.vtc_head(video, text)
        counts = torch.as_tensor(self._counts(inputs), device=video.device)
        video = video.repeat_interleave(counts, dim=0)
        scale = self.vtc_head.scale() if self.temperature is None else \
            1.0 / self.temperature
        return (video * text).sum(-1) * scale

    def named_scores(self, inputs: dict) -> Dict[str, torch.Tensor]:
        """``vtm`` and ``vtm_sim`` scores, each ``(B, K)``."""
        counts = self._counts(inputs)
        vtm = self.per_question(self.pair_logits(inputs).softmax(-1)[:, 1],
                                counts, fill=-1.0)
        sim = self.per_question(self.similarity(inputs), counts)
        mixed = self.vtm_weight * vtm + (1 - self.vtm_weight) * \
            sim.softmax(-1)
        return dict(vtm=vtm, vtm_sim=mixed)

    def loss(self, inputs: dict, data_samples: List) -> Dict[str, torch.Tensor]:
        """Cross entropy of ``vtm_sim / sum_k vtm_sim_k`` at the true
        option; ``acc`` (its argmax) is logged."""
        counts = self._counts(inputs)
        labels = self.gt_labels(data_samples, inputs['video'].device)
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
        """Samples get ``pred_label`` (argmax of ``vtm_sim``) and
        ``option_scores = {name: (K,)}``."""
        scores = self.named_scores(inputs)
        for b, (sample, count) in enumerate(zip(data_samples,
                                                self._counts(inputs))):
            sample.option_scores = {k: v[b, :count].cpu()
                                    for k, v in scores.items()}
            sample.pred_label = int(scores['vtm_sim'][b].argmax())
        return data_samples
