"""Text decoder for masked language modelling on the unified encoder."""
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from simvtp.registry import MODELS
from ..layers.transformer import (build_blocks, build_key_padding_mask,
                                  reference_init_, run_blocks)

__all__ = ['TextDecoder', 'fill_hidden_words']


def fill_hidden_words(tokens: torch.Tensor, hidden: torch.Tensor,
                      mask_token: torch.Tensor,
                      positions: torch.Tensor) -> torch.Tensor:
    """Put ``mask_token + position`` where words were hidden from the
    encoder (MAE-style decoding of dropped tokens).

    Args:
        tokens: ``(B, L, D)`` encoder text outputs.
        hidden: ``(B, L)`` bool, True where the word was dropped.
        mask_token: ``(1, 1, D)``.
        positions: ``(L, D)`` the text position embeddings.

    Returns:
        ``(B, L, D)``.
    """
    filler = (mask_token + positions[None]).to(tokens.dtype)
    return torch.where(hidden[..., None], filler, tokens)


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
        mask_token (bool): own a learned ``mask_token`` (1, 1, D) that, plus
            the word's position, stands in for words the encoder never saw
            (``SimVTP(drop_masked_text=True)``, paper Table 4d).
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
                 mask_token: bool = False,
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
        self.blocks = build_blocks(in_dims, depth, num_heads, mlp_ratio,
                                   qkv_bias, drop_path_rate=drop_path_rate,
                                   norm_eps=norm_eps, attn_impl=attn_impl)
        self.norm = nn.LayerNorm(in_dims, eps=norm_eps) if depth else None
        self.mask_token = nn.Parameter(torch.zeros(1, 1, in_dims)) \
            if mask_token else None
        self.head = nn.Linear(in_dims, vocab_size)

    def init_weights(self) -> None:
        """Xavier Linear / zero bias / LN (1, 0), mask token trunc-normal
        std 0.02; then ``init_cfg``."""
        reference_init_(self)
        if self.mask_token is not None:
            nn.init.trunc_normal_(self.mask_token, std=.02)
        if self.init_cfg is not None:
            super().init_weights()

    def forward(self,
                text_tokens: torch.Tensor,
                text_attention_mask: Optional[torch.Tensor] = None,
                select: Optional[torch.Tensor] = None,
                hidden: Optional[torch.Tensor] = None,
                positions: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Vocabulary logits.

        Args:
            text_tokens (torch.Tensor): ``(B, L, D)`` encoder text outputs.
            text_attention_mask (torch.Tensor, optional): ``(B, L)``, 1 =
                real token; used as key-padding mask by the blocks.
            select (torch.Tensor, optional): ``(B, L)`` bool; only these
                positions are projected to the vocabulary.
            hidden (torch.Tensor, optional): ``(B, L)`` bool, words the
                encoder did not see: replaced by ``mask_token`` +
                ``positions`` (``(L, D)``) first; needs ``mask_token=True``.

        Returns:
            torch.Tensor: ``(B, L, V)`` logits, or ``(K, V)`` for the
            ``K = select.sum()`` selected positions in row-major order.
        """
        x = text_tokens
        if hidden is not None:
            if self.mask_token is None:
                raise ValueError('TextDecoder got hidden words but has no '
                                 'mask token: set mask_token=True')
            x = fill_hidden_words(x, hidden, self.mask_token, positions)
        if self.depth > 0:
            key_mask = build_key_padding_mask(0, text_attention_mask,
                                              x.shape[0], x.device)
            x = self.norm(run_blocks(self.blocks, x, key_mask, self.with_cp))
        if select is not None:
            if select.dtype != torch.bool or \
                    tuple(select.shape) != tuple(x.shape[:2]):
                raise ValueError(f'select must be a (B, L) bool tensor '
                                 f'matching {tuple(x.shape[:2])}')
            x = x[select]
        return self.head(x)
