"""Pre-norm transformer pieces shared by the unified encoder and decoders.

Reference facts reproduced here: pre-norm blocks, LayerNorm eps 1e-6, exact
(erf) GELU, MLP ratio 4, no layer scale. Attention keeps one bias-free
``qkv`` projection plus separate ``q_bias`` / ``v_bias`` parameters; the
effective qkv bias is ``cat(q_bias, 0, v_bias)`` (keys have no bias).

Key-padding masks are ``(B, S)`` bool with ``True`` = attend (real token).
Two attention implementations are available:

* ``'sdpa'`` (default): ``F.scaled_dot_product_attention`` with the boolean
  mask broadcast as ``(B, 1, 1, S)``; when no mask is given SDPA may pick
  its fused kernels.
* ``'math'``: the reference's hand-written path: ``q * head_dim ** -0.5``,
  ``q @ k^T + (1 - mask) * -10000``, softmax, dropout, ``@ v``.
* ``'auto'``: ``'sdpa'``, except for bf16/fp16 (e.g. autocast) on CPU, where
  the hand-written path is used: its two matmuls run on the CPU's bf16
  matrix units while SDPA's CPU flash kernel does not (measured 3-6x slower
  forward + backward at SimVTP's short sequences on an AMX Xeon). The two
  agree up to rounding whenever no sample has every key masked (which
  :func:`build_key_padding_mask` never produces).
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

__all__ = ['DropPath', 'Attention', 'Mlp', 'Block', 'ATTN_IMPLS',
           'build_key_padding_mask', 'run_blocks', 'run_blocks_packed',
           'drop_path_rates',
           'reference_init_']

ATTN_IMPLS = ('sdpa', 'math', 'auto')
_LOW_PRECISION = (torch.bfloat16, torch.float16)


def _check_attn_impl(attn_impl: str) -> str:
    if attn_impl not in ATTN_IMPLS:
        raise ValueError(f'attn_impl must be one of {ATTN_IMPLS}, '
                         f'got {attn_impl!r}')
    return attn_impl


class DropPath(nn.Module):
    """Stochastic depth on the residual branch, per sample.

    Args:
        drop_prob (float): Probability of dropping a sample's branch.
    """

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = float(drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, ...)`` -> ``(B, ...)``; identity in eval or if p == 0."""
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        shape = (x.shape[0], ) + (1, ) * (x.dim() - 1)
        noise = x.new_empty(shape).bernoulli_(keep)
        return x * noise / keep

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}'


class Attention(nn.Module):
    """Multi-head self-attention with the reference q/v-only qkv bias.

    Args:
        dim (int): Token channels ``D``.
        num_heads (int): Heads; ``D`` must be divisible by it.
        qkv_bias (bool): Create ``q_bias`` and ``v_bias`` (zero-init).
        attn_drop (float): Dropout on attention probabilities.
        proj_drop (float): Dropout after the output projection.
        attn_impl (str): ``'sdpa'``, ``'math'`` or ``'auto'``.
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
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.attn_impl = _check_attn_impl(attn_impl)
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        if qkv_bias:
            self.q_bias = nn.Parameter(torch.zeros(dim))
            self.v_bias = nn.Parameter(torch.zeros(dim))
        else:
            self.q_bias = None
            self.v_bias = None
        self.attn_drop = float(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def qkv_bias(self) -> Optional[torch.Tensor]:
        """Effective ``(3D,)`` bias ``cat(q_bias, 0, v_bias)`` or None."""
        if self.q_bias is None:
            return None
        return torch.cat(
            (self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))

    def forward(self,
                x: torch.Tensor,
                key_padding_mask: Optional[torch.Tensor] = None
                ) -> torch.Tensor:
        """Self-attention.

        Args:
            x (torch.Tensor): ``(B, S, D)``.
            key_padding_mask (torch.Tensor, optional): ``(B, S)`` bool,
                True = real token that may be attended to.

        Returns:
            torch.Tensor: ``(B, S, D)``.
        """
        batch, seq, dim = x.shape
        qkv = F.linear(x, self.qkv.weight, self.qkv_bias())
        out = self._attend(qkv, key_padding_mask)
        return self.proj_drop(self.proj(out))

    def forward_packed(self, x: torch.Tensor, index: torch.Tensor,
                       batch: int, seq: int,
                       key_padding_mask: torch.Tensor) -> torch.Tensor:
        """Self-attention over the real tokens of a padded batch only.

        The projections run on the ``M`` real tokens; only attention sees the
        padded ``(B, S)`` layout (padded query rows are zeros, padded keys
        are masked), so each real token's output equals :meth:`forward`'s.

        Args:
            x (torch.Tensor): ``(M, D)`` real tokens.
            index (torch.Tensor): ``(M,)`` long, their flat positions in
                ``B * S``.
            batch (int), seq (int): ``B`` and ``S``.
            key_padding_mask (torch.Tensor): ``(B, S)`` bool, True = real.

        Returns:
            torch.Tensor: ``(M, D)``.
        """
        qkv = F.linear(x, self.qkv.weight, self.qkv_bias())
        padded = qkv.new_zeros(batch * seq, qkv.shape[-1])
        padded = padded.index_copy(0, index, qkv).view(batch, seq, -1)
        out = self._attend(padded, key_padding_mask)
        out = out.reshape(batch * seq, -1).index_select(0, index)
        return self.proj_drop(self.proj(out))

    def _attend(self, qkv: torch.Tensor,
                key_padding_mask: Optional[torch.Tensor]) -> torch.Tensor:
        """``(B, S, 3D)`` projected q/k/v -> ``(B, S, D)`` attention."""
        batch, seq, dim = qkv.shape[0], qkv.shape[1], qkv.shape[2] // 3
        qkv = qkv.reshape(batch, seq, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # (B, h, S, hd) each
        dropout_p = self.attn_drop if self.training else 0.0
        impl = self.attn_impl
        if impl == 'auto':
            impl = 'math' if (q.device.type == 'cpu' and
                              q.dtype in _LOW_PRECISION) else 'sdpa'
        if impl == 'sdpa':
            attn_mask = None
            if key_padding_mask is not None:
                attn_mask = key_padding_mask.bool()[:, None, None, :]
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)
        else:
            scores = (q * self.scale) @ k.transpose(-2, -1)
            if key_padding_mask is not None:
                additive = (1.0 - key_padding_mask.to(scores.dtype)) * -10000.0
                scores = scores + additive[:, None, None, :]
            probs = scores.softmax(dim=-1)
            probs = F.dropout(probs, p=dropout_p, training=self.training)
            out = probs @ v
        return out.transpose(1, 2).reshape(batch, seq, dim)

    def extra_repr(self) -> str:
        return (f'num_heads={self.num_heads}, attn_impl={self.attn_impl!r}, '
                f'attn_drop={self.attn_drop}')


class Mlp(nn.Module):
    """``fc1 -> GELU(erf) -> dropout -> fc2 -> dropout``.

    Args:
        in_features (int): Input channels.
        hidden_features (int, optional): Hidden channels (default input).
        out_features (int, optional): Output channels (default input).
        drop (float): Dropout probability.
    """

    def __init__(self,
                 in_features: int,
                 hidden_features: Optional[int] = None,
                 out_features: Optional[int] = None,
                 drop: float = 0.0):
        super().__init__()
        hidden_features = hidden_features or in_features
        out_features = out_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., in_features)`` -> ``(..., out_features)``."""
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


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

    def forward(self,
                x: torch.Tensor,
                key_padding_mask: Optional[torch.Tensor] = None
                ) -> torch.Tensor:
        """``(B, S, D)`` (+ optional ``(B, S)`` bool mask) -> ``(B, S, D)``."""
        x = x + self.drop_path(self.attn(self.norm1(x), key_padding_mask))
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x

    def forward_packed(self, x: torch.Tensor, index: torch.Tensor,
                       batch: int, seq: int,
                       key_padding_mask: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` on the ``(M, D)`` real tokens of a padded batch
        (see :meth:`Attention.forward_packed`)."""
        keep = None
        if isinstance(self.drop_path, DropPath) and self.training and \
                self.drop_path.drop_prob > 0:  # per sample, as forward's
            p = 1.0 - self.drop_path.drop_prob
            rows = torch.div(index, seq, rounding_mode='floor')

            def keep(_p=p, _rows=rows):
                return x.new_empty(batch, 1).bernoulli_(_p)[_rows] / _p
        attn = self.attn.forward_packed(self.norm1(x), index, batch, seq,
                                        key_padding_mask)
        x = x + (attn if keep is None else attn * keep())
        mlp = self.mlp(self.norm2(x))
        return x + (mlp if keep is None else mlp * keep())


def drop_path_rates(drop_path_rate: float, depth: int) -> list:
    """Linearly increasing stochastic-depth rates ``0 .. drop_path_rate``."""
    if depth <= 0:
        return []
    if depth == 1:
        return [0.0]
    return [drop_path_rate * i / (depth - 1) for i in range(depth)]


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
               with_cp: bool = False) -> torch.Tensor:
    """Apply ``blocks`` in order, optionally with gradient checkpointing.

    Checkpointing (``torch.utils.checkpoint``, ``use_reentrant=False``) is
    used only when ``with_cp`` is set, the blocks are in training mode and
    autograd is enabled.

    Args:
        blocks: Iterable of :class:`Block`.
        x (torch.Tensor): ``(B, S, D)``.
        key_padding_mask (torch.Tensor, optional): ``(B, S)`` bool.
        with_cp (bool): Checkpoint each block.

    Returns:
        torch.Tensor: ``(B, S, D)``.
    """
    for blk in blocks:
        if with_cp and blk.training and torch.is_grad_enabled():
            x = checkpoint(blk, x, key_padding_mask, use_reentrant=False)
        else:
            x = blk(x, key_padding_mask)
    return x


def run_blocks_packed(blocks: Sequence[nn.Module],
                      x: torch.Tensor,
                      key_padding_mask: torch.Tensor,
                      with_cp: bool = False,
                      norm: Optional[nn.Module] = None) -> torch.Tensor:
    """:func:`run_blocks` that computes only the real (unpadded) tokens.

    Linear layers, norms and MLPs run on the ``M`` tokens where
    ``key_padding_mask`` is True; attention sees the padded layout with the
    padded keys masked. Real tokens' outputs equal :func:`run_blocks`'s up
    to rounding; padded positions are returned as zeros instead of values no
    one should read (they attend but are never attended to).

    Args:
        blocks: Iterable of :class:`Block`.
        x (torch.Tensor): ``(B, S, D)``.
        key_padding_mask (torch.Tensor): ``(B, S)`` bool, True = real token.
        with_cp (bool): Checkpoint each block (training, autograd on).
        norm (nn.Module, optional): applied to the real tokens after the
            blocks (e.g. the encoder's final LayerNorm).

    Returns:
        torch.Tensor: ``(B, S, D)``.
    """
    batch, seq, dim = x.shape
    index = key_padding_mask.reshape(-1).nonzero().squeeze(1)
    y = x.reshape(batch * seq, dim).index_select(0, index)
    for blk in blocks:
        if with_cp and blk.training and torch.is_grad_enabled():
            y = checkpoint(blk.forward_packed, y, index, batch, seq,
                           key_padding_mask, use_reentrant=False)
        else:
            y = blk.forward_packed(y, index, batch, seq, key_padding_mask)
    if norm is not None:
        y = norm(y)
    out = y.new_zeros(batch * seq, dim).index_copy(0, index, y)
    return out.view(batch, seq, dim)


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
