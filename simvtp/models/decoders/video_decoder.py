"""VideoMAE-style pixel decoder for masked video tokens."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from simvtp.registry import MODELS
from ..layers.position import SinCosCache
from ..layers.tokens import gather_masked, gather_visible
from ..layers.transformer import build_blocks, reference_init_, run_blocks

__all__ = ['VideoMAEDecoder']


@MODELS.register_module()
class VideoMAEDecoder(BaseModule):
    """Predict pixels of hidden tubes from the encoder's visible tokens.

    Decoder input is ``[proj(visible) + pos[visible] ; mask_token +
    pos[target]]`` (each part in ascending token index), where ``pos`` is the
    fixed sin-cos table at ``embed_dims`` and ``target`` is every hidden token
    (or the ``decode_mask`` subset of them). After the blocks, the last
    ``N_target`` tokens go through ``norm`` and ``head``.

    Args:
        in_dims (int): Encoder width.
        embed_dims (int, optional): Decoder width (default ``in_dims // 2``).
        depth (int): Decoder blocks (0 allowed: norm + head only).
        num_heads (int, optional): Heads (default ``embed_dims // 64``,
            at least 1).
        mlp_ratio (float): MLP ratio.
        patch_size (int): Spatial patch size.
        tubelet_size (int): Temporal tube length.
        in_channels (int): Pixel channels.
        norm_eps (float): LayerNorm epsilon.
        qkv_bias (bool): q/v biases in attention.
        attn_impl (str): ``'sdpa'``, ``'math'`` or ``'auto'``.
        with_cp (bool): Gradient checkpointing per block while training.
        drop_path_rate (float): Max stochastic depth.
        init_cfg (dict | list, optional): mmengine init config.
    """

    def __init__(self,
                 in_dims: int = 768,
                 embed_dims: Optional[int] = None,
                 depth: int = 4,
                 num_heads: Optional[int] = None,
                 mlp_ratio: float = 4.0,
                 patch_size: int = 16,
                 tubelet_size: int = 2,
                 in_channels: int = 3,
                 norm_eps: float = 1e-6,
                 qkv_bias: bool = True,
                 attn_impl: str = 'sdpa',
                 with_cp: bool = False,
                 drop_path_rate: float = 0.0,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        embed_dims = in_dims // 2 if embed_dims is None else embed_dims
        self.in_dims = in_dims
        self.embed_dims = embed_dims
        self.depth = depth
        self.patch_size = patch_size
        self.tubelet_size = tubelet_size
        self.in_channels = in_channels
        self.out_dims = tubelet_size * patch_size * patch_size * in_channels
        self.with_cp = with_cp
        self.encoder_to_decoder = nn.Linear(in_dims, embed_dims, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self._sincos = SinCosCache(embed_dims)
        self.blocks = build_blocks(embed_dims, depth, num_heads, mlp_ratio,
                                   qkv_bias, drop_path_rate=drop_path_rate,
                                   norm_eps=norm_eps, attn_impl=attn_impl)
        self.norm = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.head = nn.Linear(embed_dims, self.out_dims)

    def init_weights(self) -> None:
        """Xavier Linear / zero bias / LN (1, 0); mask token trunc-normal
        std 0.02; then ``init_cfg`` if given."""
        reference_init_(self)
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        if self.init_cfg is not None:
            super().init_weights()

    def no_weight_decay(self) -> set:
        """Parameter names exempt from weight decay."""
        return {'mask_token'}

    def _video_sequence(self,
                        visible_tokens: torch.Tensor,
                        mask: torch.Tensor,
                        decode_mask: Optional[torch.Tensor] = None
                        ) -> Tuple[torch.Tensor, int]:
        """Build ``[proj(vis) + pos ; mask_token + pos]``.

        Returns:
            tuple: ``((B, N_vis + N_target, E), N_target)``.
        """
        if mask.dtype != torch.bool or mask.dim() != 2:
            raise ValueError(f'mask must be a (B, N) bool tensor, got '
                             f'{mask.dtype} {tuple(mask.shape)}')
        batch, num = mask.shape
        if visible_tokens.dim() != 3 or visible_tokens.shape[0] != batch:
            raise ValueError(f'visible_tokens must be (B={batch}, N_vis, '
                             f'{self.in_dims}), got '
                             f'{tuple(visible_tokens.shape)}')
        target = mask
        if decode_mask is not None:
            if decode_mask.dtype != torch.bool or \
                    tuple(decode_mask.shape) != tuple(mask.shape):
                raise ValueError('decode_mask must be a bool tensor shaped '
                                 f'like mask {tuple(mask.shape)}')
            # checked on the device: no host sync
            torch._assert_async(~(decode_mask & ~mask).any(),
                                'decode_mask selects visible tokens; it '
                                'must be a subset of the hidden ones')
            target = decode_mask
        x_vis = self.encoder_to_decoder(visible_tokens)
        pos = self._sincos(num, x_vis.device, x_vis.dtype)
        pos = pos[None].expand(batch, -1, -1)
        # counts from shapes (checked asynchronously): no host sync, except
        # for the size of a decode_mask subset
        pos_vis = gather_visible(pos, mask, x_vis.shape[1])
        pos_tgt = gather_masked(
            pos, target, num - x_vis.shape[1] if decode_mask is None else None)
        x = torch.cat(
            (x_vis + pos_vis, self.mask_token.to(x_vis.dtype) + pos_tgt),
            dim=1)
        return x, pos_tgt.shape[1]

    def _predict(self, x: torch.Tensor, num_target: int) -> torch.Tensor:
        x = x[:, x.shape[1] - num_target:]
        return self.head(self.norm(x))

    def forward(self,
                visible_tokens: torch.Tensor,
                mask: torch.Tensor,
                decode_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Predict the pixels of the hidden tubes.

        Args:
            visible_tokens (torch.Tensor): ``(B, N_vis, in_dims)`` encoder
                outputs of the visible tokens, ascending token index.
            mask (torch.Tensor): ``(B, N)`` bool, True = hidden.
            decode_mask (torch.Tensor, optional): ``(B, N)`` bool subset of
                ``mask`` to predict (VideoMAE-V2 decoder masking); same
                count per sample. Default: all hidden tokens.

        Returns:
            torch.Tensor: ``(B, N_target, P)`` with
            ``P = tubelet * patch * patch * in_channels`` and ``N_target``
            the hidden (or ``decode_mask``) tokens in ascending index.
        """
        x, num_target = self._video_sequence(visible_tokens, mask,
                                             decode_mask)
        x = run_blocks(self.blocks, x, None, self.with_cp)
        return self._predict(x, num_target)
