"""A classification head that starts as the zero-shot classifier of a
video-text pre-training.

The logits are cosine similarities between the L2-normalised video feature
and one weight row per class, times a fixed ``logit_scale`` (the
contrastive temperature's inverse). With ``text_init`` the rows start as the
prompt-ensembled text features of the class names
(:func:`simvtp.apis.class_prompts.class_text_features`), so with the video
feature VTC was trained on (:class:`~simvtp.models.necks.VideoPoolNeck`)
the untrained model already is the zero-shot classifier, and fine-tuning
starts from there instead of from a random linear layer (the text-initialised
classifier of CLIP-style few-shot fine-tuning). Without ``text_init`` the
rows are random (``trunc_normal`` like mmaction2's ``TimeSformerHead``):
the same model from scratch.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmaction.models.heads.base import BaseHead
from mmengine.logging import print_log
from mmengine.model.weight_init import trunc_normal_

from ...registry import MODELS

__all__ = ['TextPromptClsHead']


@MODELS.register_module()
class TextPromptClsHead(BaseHead):
    """``(B, in_channels)`` video features -> ``(B, num_classes)`` scaled
    cosine logits; an mmaction2 head (loss, label smoothing, clip averaging
    of ``BaseHead``).

    Args:
        num_classes (int): classes.
        in_channels (int): feature width ``D`` (the text feature's width
            when ``text_init`` is used).
        logit_scale (float): multiplier of the cosine similarities; 20 is
            the inverse of SimVTP's VTC temperature 0.05.
        text_init (dict, optional): where the initial rows come from, keys
            ``checkpoint`` (a video-text checkpoint), ``class_names`` (list
            or a file of one name a line, label order), ``templates``
            (prompts with one ``{}``; default ``('{}',)``) and ``config``
            (default: the config stored in the checkpoint). Read once, by
            :meth:`init_weights` (training); testing a fine-tuned checkpoint
            does not need it.
        init_std (float): std of the random rows without ``text_init``.
        dropout_ratio (float): dropout on the feature before normalising.
        **kwargs: ``BaseHead``'s (``loss_cls``, ``label_smooth_eps``,
            ``average_clips``, ``topk``, ...).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 logit_scale: float = 20.0,
                 text_init: Optional[dict] = None,
                 init_std: float = 0.02,
                 dropout_ratio: float = 0.0,
                 **kwargs) -> None:
        super().__init__(num_classes, in_channels, **kwargs)
        if logit_scale <= 0:
            raise ValueError(f'logit_scale must be > 0, got {logit_scale}')
        if text_init is not None:
            missing = {'checkpoint', 'class_names'} - set(text_init)
            if missing:
                raise KeyError(f'text_init needs {sorted(missing)}; got '
                               f'{sorted(text_init)}')
        self.logit_scale = float(logit_scale)
        self.text_init = None if text_init is None else dict(text_init)
        self.init_std = init_std
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio else None
        self.fc_cls = nn.Linear(in_channels, num_classes, bias=False)

    def init_weights(self) -> None:
        """Class-name text features (``text_init``) or random rows."""
        if self.text_init is None:
            trunc_normal_(self.fc_cls.weight, std=self.init_std)
            return
        from simvtp.apis.class_prompts import class_text_features
        cfg = self.text_init
        templates = cfg.get('templates', ('{}', ))
        rows = class_text_features(cfg['checkpoint'], cfg['class_names'],
                                   templates, cfg.get('config'))
        if tuple(rows.shape) != tuple(self.fc_cls.weight.shape):
            raise ValueError(
                f'text_init: {rows.shape[0]} class names with {rows.shape[1]}'
                f'-d text features from {cfg["checkpoint"]}, but the head is '
                f'{self.num_classes} classes x {self.in_channels} channels')
        with torch.no_grad():
            self.fc_cls.weight.copy_(rows)
        print_log(f'TextPromptClsHead: {rows.shape[0]} class rows from the '
                  f'text features of {cfg["checkpoint"]} '
                  f'({len(templates)} templates)',
                  logger='current')

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        """``x`` ``(B, in_channels)`` -> logits ``(B, num_classes)``."""
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(f'TextPromptClsHead expects (B, '
                             f'{self.in_channels}) features, got '
                             f'{tuple(x.shape)}')
        if self.dropout is not None:
            x = self.dropout(x)
        return self.logit_scale * F.linear(
            F.normalize(x, dim=-1), F.normalize(self.fc_cls.weight, dim=-1))

    def extra_repr(self) -> str:
        return (f'logit_scale={self.logit_scale}, '
                f'text_init={self.text_init is not None}')
