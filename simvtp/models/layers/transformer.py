"""The pre-norm transformer shared by the unified encoder and the decoders.

One :class:`Attention` and one :class:`Block`, in the shape of timm's
``vision_transformer.Block``; the MLP and stochastic depth are timm's
(``timm.layers.Mlp``, ``timm.layers.DropPath``). Reference facts
reproduced here: pre-norm blocks, LayerNorm eps 1e-6, exact (erf) GELU,
MLP ratio 4, no layer scale. Attention keeps one bias-free ``qkv``
projection plus separate ``q_bias`` / ``v_bias`` parameters; the effective
qkv bias is ``cat(q_bias, 0, v_bias)`` (keys have no bias).

Key-padding masks are ``(B, S)`` bool with ``True`` = attend (real token).
The attention implementation (timm's ``fused_attn``, three-valued here):

* ``'sdpa'`` (default): ``F.scaled_dot_product_attention`` with the boolean
  mask broadcast as ``(B, 1, 1, S)``; without a mask SDPA may pick its
  fused kernels.
* ``'math'``: the reference's hand-written path: ``q * head_dim ** -0.5``,
  ``q @ k^T + (1 - mask) * -10000``, softmax, dropout, ``@ v``.
* ``'auto'``: ``'sdpa'``, except for bf16/fp16 (e.g. autocast) on CPU, where
  the hand-written path is used: its two matmuls run on the CPU's bf16
  matrix units while SDPA's CPU flash kernel does not (measured 3-6x slower
  forward + backward at SimVTP's short sequences on an AMX Xeon). The two
  agree up to rounding whenever no sample has every key masked (which
  :func:`build_key_padding_mask` never produces).

Where only the text tokens' outputs of a joint pass are read (matching
pooled over the caption), the last block computes queries, output
projection and MLP for those tokens only (``query_start``).

Computing only the real tokens of a padded batch is
:mod:`~simvtp.models.layers.packed`'s job; it reuses the pieces of these
classes (:meth:`Attention.project`, :meth:`Attention.attend`,
:meth:`Attention.output`).
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import DropPath, Mlp
from torch.utils.checkpoint import checkpoint

__all__ = ['Attention', 'Block', 'ATTN_IMPLS', 'build_blocks',
           'build_key_padding_mask', 'run_blocks', 'reference_init_']

ATTN_IMPLS = ('sdpa', 'math', 'auto')
_LOW_PRECISION = (torch.bfloat16, torch.float16)


class Attention(nn.Module):
    """Multi-head self-attention with the reference q/v-only qkv bias.

    Args:
        dim (int): Token channels ``D``.
        num_heads (int): Heads; ``D`` must be divisible by it.
        qkv_bias (bool): Create ``q_bias`` and ``v_bias`` (zero-init).
        attn_drop (float): Dropout on attention probabilities.
        proj_drop (float): Dropout after the output projection.
        attn_impl (str): ``'sdpa'``, ``'math'`` or ``'auto'`` (see the
            module docstring).
    """

    def __init__(self,
                 dim: int,
                 num_heads: int = 8,
                 qkv_bias: bool = True,
                 attn_drop: float = 0.0,
                 proj_drop: float = 0.0,
                 attn_impl: str = 'sdpa'):
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f'dim {dim} is not divisible by num_heads '
                             f'{num_heads}')
        if attn_impl not in ATTN_IMPLS:
            raise ValueError(f'attn_impl must be one of {ATTN_IMPLS}, '
                             f'got {attn_impl!r}')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.attn_impl = attn_impl
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        if qkv_bias:
            self.q_bias = nn.Parameter(torch.zeros(dim))
            self.v_bias = nn.Parameter(torch.zeros(dim))
        else:
            self.q_bias = self.v_bias = None
        self.attn_drop = float(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., D)`` -> ``(..., 3D)`` q/k/v with bias
        ``cat(q_bias, 0, v_bias)``."""
        bias = None
        if self.q_bias is not None:
            bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias),
                              self.v_bias))
        return F.linear(x, self.qkv.weight, bias)

    def attend(self, qkv: torch.Tensor,
               key_padding_mask: Optional[torch.Tensor]) -> torch.Tensor:
        """``(B, S, 3D)`` projected q/k/v -> ``(B, S, D)`` attention output
        (before the output projection); ``key_padding_mask`` ``(B, S)``
        bool, True = may be attended to."""
        dim = qkv.shape[2] // 3
        return self.attend_queries(qkv[..., :dim], qkv[..., dim:],
                                   key_padding_mask)

    def project_queries(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., D)`` -> ``(..., D)`` queries (with ``q_bias``): the first
        third of :meth:`project`, for tokens whose output is needed."""
        dim = x.shape[-1]
        return F.linear(x, self.qkv.weight[:dim], self.q_bias)

    def project_keys_values(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., D)`` -> ``(..., 2D)`` keys and values (bias
        ``cat(0, v_bias)``): the last two thirds of :meth:`project`."""
        dim = x.shape[-1]
        bias = None if self.v_bias is None else torch.cat(
            (torch.zeros_like(self.v_bias), self.v_bias))
        return F.linear(x, self.qkv.weight[dim:], bias)

    def attend_queries(self, q: torch.Tensor, kv: torch.Tensor,
                       key_padding_mask: Optional[torch.Tensor]
                       ) -> torch.Tensor:
        """``(B, Sq, D)`` queries over ``(B, S, 2D)`` keys/values ->
        ``(B, Sq, D)`` (before the output projection); the mask is over the
        ``S`` keys."""
        batch, num_q, dim = q.shape
        q = q.reshape(batch, num_q, self.num_heads,
                      self.head_dim).transpose(1, 2)  # (B, h, Sq, hd)
        k, v = kv.reshape(batch, kv.shape[1], 2, self.num_heads,
                          self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        dropout_p = self.attn_drop if self.training else 0.0
        impl = self.attn_impl
        if impl == 'auto':
            impl = 'math' if (q.device.type == 'cpu' and
                              q.dtype in _LOW_PRECISION) else 'sdpa'
        if impl == 'sdpa':
            mask = None if key_padding_mask is None else \
                key_padding_mask.bool()[:, None, None, :]
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                                 dropout_p=dropout_p)
        else:
            scores = (q * self.scale) @ k.transpose(-2, -1)
            if key_padding_mask is not None:
                additive = (1.0 - key_padding_mask.to(scores.dtype)) * -10000.0
                scores = scores + additive[:, None, None, :]
            probs = F.dropout(scores.softmax(dim=-1), p=dropout_p,
                              training=self.training)
            out = probs @ v
        return out.transpose(1, 2).reshape(batch, num_q, dim)

    def output(self, x: torch.Tensor) -> torch.Tensor:
        """The output projection (+ dropout), ``(..., D)`` -> ``(..., D)``."""
        return self.proj_drop(self.proj(x))

    def forward(self, x: torch.Tensor,
                key_padding_mask: Optional[torch.Tensor] = None
                ) -> torch.Tensor:
        """``(B, S, D)`` (+ optional ``(B, S)`` bool mask) -> ``(B, S, D)``."""
        return self.output(self.attend(self.project(x), key_padding_mask))

    def extra_repr(self) -> str:
        return (f'num_heads={self.num_heads}, attn_impl={self.attn_impl!r}, '
                f'attn_drop={self.attn_drop}')


class Block(nn.Module):
    """Pre-norm block: ``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``.

    Args:
        dim (int): Token channels ``D``.
        num_heads (int): Attention heads.
        mlp_ratio (float): MLP hidden size / ``D``.
        qkv_bias (bool): Use ``q_bias`` / ``v_bias``.
        drop (float): Dropout after projections.
        attn_drop (float): Attention-probability dropout.
        drop_path (float): Stochastic depth rate.
        norm_eps (float): LayerNorm epsilon.
        attn_impl (str): ``'sdpa'``, ``'math'`` or ``'auto'``.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 mlp_ratio: float = 4.0,
                 qkv_bias: bool = True,
                 drop: float = 0.0,
                 attn_drop: float = 0.0,
                 drop_path: float = 0.0,
                 norm_eps: float = 1e-6,
                 attn_impl: str = 'sdpa'):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(dim, num_heads=num_heads, qkv_bias=qkv_bias,
                              attn_drop=attn_drop, proj_drop=drop,
                              attn_impl=attn_impl)
        self.drop_path = DropPath(drop_path) if drop_path > 0 \
            else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)

    def forward(self, x: torch.Tensor,
                key_padding_mask: Optional[torch.Tensor] = None
                ) -> torch.Tensor:
        """``(B, S, D)`` (+ optional ``(B, S)`` bool mask) -> ``(B, S, D)``."""
        x = x + self.drop_path(self.attn(self.norm1(x), key_padding_mask))
        return x + self.drop_path(self.mlp(self.norm2(x)))

    def forward_queries(self, x: torch.Tensor, start: int,
                        key_padding_mask: Optional[torch.Tensor] = None
                        ) -> torch.Tensor:
        """:meth:`forward`'s outputs of the tokens ``start:`` only:
        ``(B, S, D)`` -> ``(B, S - start, D)``. The other tokens serve as
        keys and values; their queries, output projection and MLP are not
        computed (a last block whose other outputs nobody reads)."""
        h = self.norm1(x)
        out = self.attn.attend_queries(
            self.attn.project_queries(h[:, start:]),
            self.attn.project_keys_values(h), key_padding_mask)
        # DropPath draws one value per sample: the same draws as forward
        x = x[:, start:] + self.drop_path(self.attn.output(out))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def build_blocks(dims: int, depth: int, num_heads: Optional[int] = None,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, norm_eps: float = 1e-6,
                 attn_impl: str = 'sdpa') -> nn.ModuleList:
    """``depth`` :class:`Block` s with stochastic depth rising linearly from
    0 to ``drop_path_rate``; ``num_heads`` defaults to ``dims // 64`` (at
    least 1)."""
    if num_heads is None:
        num_heads = max(1, dims // 64)
    if dims % num_heads != 0:
        raise ValueError(f'embed_dims {dims} is not divisible by num_heads '
                         f'{num_heads}')
    rates = [drop_path_rate * i / (depth - 1) if depth > 1 else 0.0
             for i in range(depth)]
    return nn.ModuleList([
        Block(dims, num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
              drop=drop_rate, attn_drop=attn_drop_rate, drop_path=rate,
              norm_eps=norm_eps, attn_impl=attn_impl) for rate in rates
    ])


def build_key_padding_mask(num_prefix: int,
                           text_attention_mask: Optional[torch.Tensor],
                           batch_size: int,
                           device: Optional[torch.device] = None
                           ) -> Optional[torch.Tensor]:
    """Key-padding mask for ``[prefix tokens (always valid) ; text tokens]``.

    Args:
        num_prefix (int): Leading always-valid tokens (e.g. video tokens).
        text_attention_mask (torch.Tensor, optional): ``(B, L)``; nonzero /
            True = real token, 0 = padding.
        batch_size (int): ``B``.
        device: Device of the returned mask.

    Returns:
        Optional[torch.Tensor]: ``(B, num_prefix + L)`` bool (True = attend),
        or None when there is no text mask. Pass None for a batch without
        padding (SDPA's fast kernels need no mask): whether a mask has
        padding is not read here, as that would wait for the device
        (:class:`VideoTextDataPreprocessor` reports it as ``text_padded``,
        known on the host). With ``num_prefix == 0``, a row
        without any real token attends to every key (what the reference's
        additive mask amounts to) rather than to none.
    """
    if text_attention_mask is None:
        return None
    text_mask = text_attention_mask.bool()
    if text_mask.dim() != 2 or text_mask.shape[0] != batch_size:
        raise ValueError(f'text_attention_mask must be (B={batch_size}, L), '
                         f'got {tuple(text_mask.shape)}')
    if device is not None:
        text_mask = text_mask.to(device)
    if num_prefix == 0:
        # A sample with no real token at all: the reference's additive
        # -10000 mask then shifts every score equally, i.e. attends to all
        # keys; do the same instead of letting SDPA return NaN.
        empty = ~text_mask.any(dim=1, keepdim=True)
        return text_mask | empty
    prefix = text_mask.new_ones(batch_size, num_prefix)
    return torch.cat((prefix, text_mask), dim=1)


def run_blocks(blocks: Sequence[nn.Module],
               x: torch.Tensor,
               key_padding_mask: Optional[torch.Tensor] = None,
               with_cp: bool = False,
               query_start: Optional[int] = None) -> torch.Tensor:
    """Apply ``blocks`` in order, optionally with gradient checkpointing.

    Checkpointing (``torch.utils.checkpoint``, ``use_reentrant=False``) is
    used only when ``with_cp`` is set, the blocks are in training mode and
    autograd is enabled.

    Args:
        blocks: Iterable of :class:`Block`.
        x (torch.Tensor): ``(B, S, D)``.
        key_padding_mask (torch.Tensor, optional): ``(B, S)`` bool.
        with_cp (bool): Checkpoint each block.
        query_start (int, optional): return only the tokens
            ``query_start:``, the last block computing only their outputs
            (:meth:`Block.forward_queries`).

    Returns:
        torch.Tensor: ``(B, S, D)``, or ``(B, S - query_start, D)``.
    """
    last = len(blocks) - 1
    for i, blk in enumerate(blocks):
        cp = with_cp and blk.training and torch.is_grad_enabled()
        if query_start is not None and i == last:
            args = (x, query_start, key_padding_mask)
            fn = blk.forward_queries
        else:
            args, fn = (x, key_padding_mask), blk
        x = checkpoint(fn, *args, use_reentrant=False) if cp else fn(*args)
    if query_start is not None and last < 0:
        x = x[:, query_start:]
    return x


def reference_init_(module: nn.Module) -> None:
    """Reference initialisation, applied to every submodule of ``module``.

    ``nn.Linear``: xavier-uniform weight, zero bias. ``nn.Conv3d`` /
    ``nn.Conv2d``: xavier-uniform on the weight viewed as
    ``(out, in * prod(kernel))`` (like a Linear), zero bias. ``nn.LayerNorm``:
    weight 1, bias 0. :class:`Attention` ``q_bias`` / ``v_bias``: zero.
    Embeddings and other parameters are left untouched.
    """
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.Conv2d, nn.Conv3d)):
            w = m.weight
            with torch.no_grad():
                flat = torch.empty(w.shape[0], w[0].numel(), dtype=w.dtype,
                                   device=w.device)
                nn.init.xavier_uniform_(flat)
                w.copy_(flat.view_as(w))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            if m.weight is not None:
                nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, Attention) and m.q_bias is not None:
            nn.init.zeros_(m.q_bias)
            nn.init.zeros_(m.v_bias)
