"""Queries encoded by the text side of a pre-trained simvtp encoder."""
import os.path as osp
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.model import BaseModule

from ...registry import MODELS
from ..utils.pooling import masked_mean

__all__ = ['SimVTPTextQueryEncoder']


@MODELS.register_module()
class SimVTPTextQueryEncoder(BaseModule):
    """Text-only pass of a ``UnifiedViT``, mean-pooled over real tokens.

    ``embed_text`` then ``encode(None, text_tokens, attention_mask)`` (the
    text view of pre-training's VTC), averaged over non-padding tokens.

    Args:
        encoder: the encoder: a simvtp config file (its ``model.backbone``
            is built) or a ``UnifiedViT`` config dict.
        checkpoint: pre-trained weights (a SimVTP checkpoint), loaded by
            ``init_weights`` (when training starts) through the safe
            loader; None keeps the random initialisation.
        prefix: key prefix of the encoder in ``checkpoint``.
        frozen: no gradient into the encoder, kept in eval mode (default;
            the pre-trained text features are the query).
    """

    def __init__(self, encoder: Union[str, dict],
                 checkpoint: Optional[str] = None,
                 prefix: str = 'backbone.',
                 frozen: bool = True,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(encoder, str):
            if not osp.isfile(encoder):
                raise FileNotFoundError(f'encoder config {encoder!r} does '
                                        'not exist')
            encoder = Config.fromfile(encoder).model.backbone
        self.encoder = MODELS.build(encoder)
        self.checkpoint = checkpoint or None  # '' from an unset env var
        self.prefix = prefix
        self.frozen = bool(frozen)
        self.out_dims = self.encoder.embed_dims
        if self.frozen:
            self.encoder.requires_grad_(False)

    def init_weights(self) -> None:
        if self.checkpoint is None:
            self.encoder.init_weights()
            return
        if not osp.isfile(self.checkpoint):
            raise FileNotFoundError(
                f'the pre-trained checkpoint {self.checkpoint!r} of the '
                'query encoder does not exist. Pre-train first (e.g. python '
                'tools/train.py configs/simvtp/pretrain_synthetic.py writes '
                'work_dirs/pretrain_synthetic/epoch_14.pth) or point the '
                'config at it (model.query_encoder.checkpoint=PATH, or the '
                'environment variable the config reads, e.g. '
                'SIMVTP_PRETRAINED=PATH)')
        from ...apis.inference import load_weights
        load_weights(self.encoder, self.checkpoint, prefix=self.prefix)
        self._is_init = True

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen:
            self.encoder.eval()  # no text dropout on fixed features
        return self

    def forward(self, input_ids: torch.Tensor,
                attention_mask: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` ids + mask -> ``(B, D)``."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and
                                    not self.frozen):
            tokens = self.encoder.embed_text(input_ids)
            _, text = self.encoder.encode(None, tokens, attention_mask)
            return masked_mean(text, attention_mask)
