"""Queries encoded by the text side of a pre-trained simvtp encoder."""
import os.path as osp
from typing import Dict, Optional, Union

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
        cache: with a frozen encoder, remember each query's feature (keyed
            by its real token ids) so every query is encoded once per run
            instead of once per epoch; cleared whenever weights are
            (re)loaded. Ignored when not frozen.
    """

    def __init__(self, encoder: Union[str, dict],
                 checkpoint: Optional[str] = None,
                 prefix: str = 'backbone.',
                 frozen: bool = True,
                 cache: bool = True,
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
        self.cache = bool(cache) and self.frozen
        self._cache: Dict[bytes, torch.Tensor] = {}
        # any change of the weights makes the cached features stale
        self.register_load_state_dict_post_hook(
            lambda module, keys: module._cache.clear())

    def init_weights(self) -> None:
        self._cache.clear()
        if self.checkpoint is None:
            self.encoder.init_weights()
            return
        if not osp.isfile(self.checkpoint):
            raise FileNotFoundError(
                f'the pre-trained checkpoint {self.checkpoint!r} of the '
                'query encoder does not exist. Pre-train first (e.g. python '
                'tools/train.py configs/simvtp/pretrain_synthetic.py writes '
                'work_dirs/pretrain_synthetic/epoch_4.pth) or point the '
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

    def _encode(self, input_ids: torch.Tensor,
                attention_mask: torch.Tensor) -> torch.Tensor:
        with torch.set_grad_enabled(torch.is_grad_enabled() and
                                    not self.frozen):
            tokens = self.encoder.embed_text(input_ids)
            _, text = self.encoder.encode(None, tokens, attention_mask)
            return masked_mean(text, attention_mask)

    def forward(self, input_ids: torch.Tensor,
                attention_mask: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` ids + mask -> ``(B, D)``."""
        if not self.cache:
            return self._encode(input_ids, attention_mask)
        ids = input_ids.cpu().numpy()
        real = attention_mask.bool().cpu().numpy()
        keys = [row[keep].tobytes() for row, keep in zip(ids, real)]
        todo = [i for i, k in enumerate(keys) if k not in self._cache]
        if todo:
            idx = torch.tensor(todo, device=input_ids.device)
            # padding is masked out of attention and pooling, so a query's
            # feature does not depend on the batch it first came in
            new = self._encode(input_ids[idx], attention_mask[idx])
            for i, feat in zip(todo, new.detach()):
                self._cache[keys[i]] = feat
        return torch.stack([self._cache[k] for k in keys])
