"""Open-ended video QA as classification over an answer vocabulary."""
from typing import Dict, List, Optional

import torch

from ...datasets.vqa.answer_vocab import AnswerVocabulary
from ...registry import MODELS
from ..utils.pooling import pool_joint
from .base import BaseVideoQA
from .joint import embed_clip, joint_features, pooled_dims


@MODELS.register_module()
class VideoQAClassifier(BaseVideoQA):
    """``[video ; question]`` through the unified encoder, pooled, then an
    answer classifier (:class:`~simvtp.models.heads.QAClassifierHead`).

    Args:
        backbone: the unified encoder (``UnifiedViT``) config.
        answer_vocab: ``dict(ann_file=TRAIN file, layout=..., top_k=1500,
            answer_list=None)``, the same dict as the datasets': the
            classes are the ``top_k`` most frequent training answers
            (:class:`~simvtp.datasets.vqa.AnswerVocabulary`); the head is
            sized to them and predictions are mapped back to answers.
        head: the classifier config; ``in_channels`` and ``num_classes``
            are filled in when absent.
        pooling: ``'mean'`` (pre-training's, padding excluded), ``'text'``
            or ``'video_text'`` (:func:`~.joint.joint_features`).
        video_pool: None, or a pooling module config for the joint pass's
            video outputs (e.g. the pre-training's ``GridPoolProjection``;
            load it with ``'video_pool.': 'video_pool.'`` in the
            ``prefix_map``), concatenated to the pooled feature: the
            classifier then also sees where things are and how they move,
            which a mean over the question's tokens may not carry. Needs
            whole clips (no tube masking).
        data_preprocessor: defaults to ``VideoTextDataPreprocessor``.
    """

    def __init__(self,
                 backbone: dict,
                 answer_vocab: dict,
                 head: dict = dict(type='QAClassifierHead'),
                 pooling: str = 'mean',
                 video_pool: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone, pooling, data_preprocessor, init_cfg)
        self.vocab = AnswerVocabulary.from_train_file(**answer_vocab)
        width = self.backbone.embed_dims
        self.video_pool = None if video_pool is None else MODELS.build(
            dict(dict(in_dims=width), **video_pool))
        in_channels = pooled_dims(self.pooling, width)
        if self.video_pool is not None:
            in_channels += self.video_pool.out_dims
        head = dict(head)
        head.setdefault('in_channels', in_channels)
        head.setdefault('num_classes', len(self.vocab))
        if head['num_classes'] != len(self.vocab):
            raise ValueError(f"head.num_classes={head['num_classes']} but "
                             f'the answer vocabulary has {len(self.vocab)} '
                             'answers; leave num_classes out')
        self.head = MODELS.build(head)

    def answer_logits(self, inputs: dict) -> torch.Tensor:
        """``(B, A)`` answer logits."""
        backbone = self.backbone
        video = embed_clip(backbone, inputs)
        mask = inputs.get('attention_mask')
        if self.video_pool is None:
            return self.head(joint_features(backbone, video,
                                            inputs['input_ids'], mask,
                                            pooling=self.pooling))
        if 'video_mask' in inputs:
            raise ValueError('video_pool needs whole clips: remove '
                             'TubeMasking from the pipeline')
        video_out, text_out = backbone.encode(
            video, backbone.embed_text(inputs['input_ids']), mask)
        grid = backbone.token_grid(inputs['video'])
        return self.head(torch.cat([
            pool_joint(video_out, text_out, mask, self.pooling),
            self.video_pool(video_out, grid)], dim=1))

    def scores(self, inputs: dict) -> torch.Tensor:
        """``mode='tensor'``: :meth:`answer_logits`."""
        return self.answer_logits(inputs)

    def loss(self, inputs: dict, data_samples: List) -> Dict[str, torch.Tensor]:
        logits = self.answer_logits(inputs)
        return self.head.loss(
            logits, self.gt_labels(data_samples, logits.device))

    @torch.no_grad()
    def predict(self, inputs: dict, data_samples: List) -> List:
        """Samples get ``pred_answer`` (str) and ``pred_label`` (int)."""
        logits = self.answer_logits(inputs)
        for sample, label in zip(data_samples, logits.argmax(1).tolist()):
            sample.pred_label = label
            sample.pred_answer = self.vocab.answers[label]
        return data_samples
