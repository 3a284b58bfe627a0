"""Text decoder for masked language modelling on the unified encoder."""
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from simvtp.registry import MODELS
from ..layers.transformer import (Block, build_key_padding_mask,
                                  drop_path_rates, reference_init_,
                                  run_blocks)
from .video_decoder import _default_heads

__all__ = ['TextDecoder']


@MODELS.register_module()
class TextDecoder(BaseModule):
    """Vocabulary decoder over the encoder's text tokens.

    ``depth=0`` is the reference linear text decoder (a single ``head``
    Linear); ``depth > 0`` adds that many blocks plus ``norm`` before the
    head (paper Table 4b).

    Args:
        in_dims (int): Encoder width ``D``.
        vocab_size (int): Vocabulary size ``V``.
        depth (int): Transformer blocks before the head.
        num_heads (int, optional): Heads (default ``in_dims // 64``, >= 1).
        mlp_ratio (float): MLP ratio.
        norm_eps (float): LayerNorm epsilon.
        qkv_bias (bool): q/v biases in attention.
        attn_impl (str): ``'sdpa'``, ``'math'`` or ``'auto'``.
        with_cp (bool): Gradient checkpointing per block while training.
        drop_path_rate (float): Max stochastic depth.
        init_cfg (dict | list, optional): mmengine init config.
    """

    def __init__(self,
                 in_dims: int = 768,
                 vocab_size: int = 30522,
                 depth: int = 0,
                 num_heads: Optional[int] = None,
                 mlp_ratio: float = 4.0,
                 norm_eps: float = 1e-6,
                 qkv_bias: bool = True,
                 attn_impl: str = 'sdpa',
                 with_cp: bool = False,
                 drop_path_rate: float = 0.0,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.in_dims = in_dims
        self.vocab_size = vocab_size
        self.depth = depth
        self.with_cp = with_cp
        if depth > 0:
            self.num_heads = _default_heads(in_dims, num_heads)
            dpr = drop_path_rates(drop_path_rate, depth)
            self.blocks = nn.ModuleList([
                Block(in_dims, self.num_heads, mlp_ratio=mlp_ratio,
                      qkv_bias=qkv_bias, drop_path=dpr[i], norm_eps=norm_eps,
                      attn_impl=attn_impl) for i in range(depth)
            ])
            self.norm = nn.LayerNorm(in_dims, eps=norm_eps)
        else:
            self.num_heads = None
            self.blocks = nn.ModuleList()
            self.norm = None
        self.head = nn.Linear(in_dims, vocab_size)

    def init_weights(self) -> None:
        """Xavier Linear / zero bias / LN (1, 0); then ``init_cfg``."""
        reference_init_(self)
        if self.init_cfg is not None:
            super().init_weights()

    def forward(self,
                text_tokens: torch.Tensor,
                text_attention_mask: Optional[torch.Tensor] = None,
                select: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Vocabulary logits.

        Args:
            text_tokens (torch.Tensor): ``(B, L, D)`` encoder text outputs.
            text_attention_mask (torch.Tensor, optional): ``(B, L)``, 1 =
                real token; used as key-padding mask by the blocks.
            select (torch.Tensor, optional): ``(B, L)`` bool; only these
                positions are projected to the vocabulary.

        Returns:
            torch.Tensor: ``(B, L, V)`` logits, or ``(K, V)`` for the
            ``K = select.sum()`` selected positions in row-major order.
        """
        x = text_tokens
        if self.depth > 0:
            key_mask = build_key_padding_mask(0, text_attention_mask,
                                              x.shape[0], x.device)
            x = run_blocks(self.blocks, x, key_mask, self.with_cp)
            x = self.norm(x)
        if select is not None:
            if select.dtype != torch.bool or \
                    tuple(select.shape) != tuple(x.shape[:2]):
                raise ValueError(f'select must be a (B, L) bool tensor '
                                 f'matching {tuple(x.shape[:2])}')
            x = x[select]
        return self.head(x)
