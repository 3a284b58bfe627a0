"""Open-ended video QA as classification over an answer vocabulary."""
from typing import Dict, List, Optional

import torch
from mmengine.model import BaseModel

from ...datasets.vqa.answer_vocab import AnswerVocabulary
from ...registry import MODELS
from .joint import POOLINGS, embed_clip, joint_features


@MODELS.register_module()
class VideoQAClassifier(BaseModel):
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
        pooling: ``'mean'`` (pre-training's, padding excluded).
        data_preprocessor: defaults to ``VideoTextDataPreprocessor``.
    """

    def __init__(self,
                 backbone: dict,
                 answer_vocab: dict,
                 head: dict = dict(type='QAClassifierHead'),
                 pooling: str = 'mean',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if pooling not in POOLINGS:
            raise ValueError(f'pooling must be one of {POOLINGS}, got '
                             f'{pooling!r}')
        super().__init__(data_preprocessor=data_preprocessor or dict(
            type='VideoTextDataPreprocessor'), init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.vocab = AnswerVocabulary.from_train_file(**answer_vocab)
        head = dict(head)
        head.setdefault('in_channels', self.backbone.embed_dims)
        head.setdefault('num_classes', len(self.vocab))
        if head['num_classes'] != len(self.vocab):
            raise ValueError(f"head.num_classes={head['num_classes']} but "
                             f'the answer vocabulary has {len(self.vocab)} '
                             'answers; leave num_classes out')
        self.head = MODELS.build(head)
        self.pooling = pooling

    def answer_logits(self, inputs: dict) -> torch.Tensor:
        """``(B, A)`` answer logits."""
        video = embed_clip(self.backbone, inputs)
        pooled = joint_features(self.backbone, video, inputs['input_ids'],
                                inputs.get('attention_mask'),
                                pooling=self.pooling)
        return self.head(pooled)

    def forward(self, inputs: dict, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.answer_logits(inputs)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, '
                           'predict and tensor mode')

    def loss(self, inputs: dict, data_samples: List) -> Dict[str, torch.Tensor]:
        logits = self.answer_logits(inputs)
        labels = torch.cat([s.gt_label.reshape(1) for s in data_samples]
                           ).long().to(logits.device)
        return self.head.loss(logits, labels)

    @torch.no_grad()
    def predict(self, inputs: dict, data_samples: List) -> List:
        """Samples get ``pred_answer`` (str) and ``pred_label`` (int)."""
        logits = self.answer_logits(inputs)
        for sample, label in zip(data_samples, logits.argmax(1).tolist()):
            sample.pred_label = label
            sample.pred_answer = self.vocab.answers[label]
        return data_samples
