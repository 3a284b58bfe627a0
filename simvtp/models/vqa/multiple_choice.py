"""Multiple-choice video QA through the pre-trained VTM head."""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F

from ...registry import MODELS
from .base import BaseVideoQA
from .joint import embed_clip, joint_features, pooled_dims


@MODELS.register_module()
class VideoQAMultipleChoice(BaseVideoQA):
    """Score each ``[video ; question + option]`` pair by the VTM head.

    All ``K`` options of a question are encoded in one batch: the clip is
    embedded once and its tokens are repeated for each option (the joint
    pass itself has to be per option: every text attends to the video). The
    score of option ``k`` is the VTM head's positive (matched) logit;
    training is cross-entropy over the ``K`` scores of a question,
    prediction their argmax.

    Args:
        backbone: the unified encoder (``UnifiedViT``) config.
        vtm_head: the matching head (``VTMHead``); initialise both from a
            pre-training checkpoint (``init_cfg=dict(type='SimVTPPretrained',
            ..., prefix_map={'backbone.': 'backbone.', 'vtm_head.':
            'vtm_head.'})``).
        pooling: as the pre-training model's (``'mean'``: padding
            excluded), or another of :data:`~.joint.POOLINGS`.
        data_preprocessor: defaults to ``VideoTextDataPreprocessor``.
    """

    def __init__(self,
                 backbone: dict,
                 vtm_head: dict = dict(type='VTMHead'),
                 pooling: str = 'mean',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone, pooling, data_preprocessor, init_cfg)
        self.vtm_head = MODELS.build(vtm_head)
        width = pooled_dims(pooling, self.backbone.embed_dims)
        if self.vtm_head.embed_dims != width:
            raise ValueError(f'vtm_head.embed_dims={self.vtm_head.embed_dims}'
                             f' != {width}, the width of pooling='
                             f'{pooling!r} on this backbone')

    # ---------------------------------------------------------------- scores
    @staticmethod
    def _counts(inputs: dict) -> List[int]:
        counts = inputs.get('text_counts')
        if counts is None:
            raise ValueError('multiple-choice inputs need K option texts per '
                             'clip (TokenizeText on a list of options gives '
                             '(K, L) ids; the preprocessor stacks them with '
                             'text_counts)')
        return list(counts)

    def pair_logits(self, inputs: dict) -> torch.Tensor:
        """VTM logits ``(sum K_b, 2)`` of every (clip, option) pair."""
        video = embed_clip(self.backbone, inputs)
        pooled = joint_features(self.backbone, video, inputs['input_ids'],
                                inputs.get('attention_mask'),
                                self._counts(inputs), self.pooling)
        return self.vtm_head(pooled).float()

    @staticmethod
    def per_question(values: torch.Tensor, counts: List[int],
                     fill: float = float('-inf')) -> torch.Tensor:
        """``(sum K_b,)`` -> ``(B, max K)``, questions with fewer options
        padded with ``fill``."""
        rows = torch.split(values, counts)
        out = values.new_full((len(counts), max(counts)), fill)
        for b, row in enumerate(rows):
            out[b, :len(row)] = row
        return out

    def option_scores(self, inputs: dict) -> torch.Tensor:
        """``(B, K)`` positive VTM logits (padding options ``-inf``)."""
        logits = self.pair_logits(inputs)
        return self.per_question(logits[:, 1], self._counts(inputs))

    def scores(self, inputs: dict) -> torch.Tensor:
        """``mode='tensor'``: :meth:`option_scores`."""
        return self.option_scores(inputs)

    def loss(self, inputs: dict, data_samples: List) -> Dict[str, torch.Tensor]:
        """Cross entropy over each question's options; ``acc`` is logged."""
        scores = self.option_scores(inputs)
        labels = self.gt_labels(data_samples, scores.device)
        return dict(loss=F.cross_entropy(scores, labels),
                    acc=(scores.argmax(1) == labels).float().mean().detach())

    @torch.no_grad()
    def predict(self, inputs: dict, data_samples: List) -> List:
        """Each sample gets ``pred_label`` (an int: mmaction2's
        ``VQAMCACC`` compares plain labels) and ``pred_scores`` (K,)."""
        scores = self.option_scores(inputs)
        for sample, row, count in zip(data_samples, scores,
                                      self._counts(inputs)):
            sample.pred_label = int(row.argmax())
            sample.pred_scores = row[:count].cpu()
        return data_samples
