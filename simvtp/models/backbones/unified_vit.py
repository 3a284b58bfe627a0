"""SimVTP's unified ViT: one encoder over ``[visible video tubes ; text]``.

Video goes through a cube embedding (``Conv3d`` with kernel = stride =
``(tubelet, patch, patch)``) plus a fixed 1-D sin-cos table over the
flattened ``(t', h', w')`` token index (or an optional learnable table).
Text goes through BERT-style embeddings (word + learned absolute position +
token type, LayerNorm eps 1e-12, dropout). Both are concatenated and run
through the same pre-norm blocks with a key-padding mask for text padding,
then a final LayerNorm, and split back per modality.

As a backbone of another framework (e.g. mmaction2's ``Recognizer3D``),
``out_type`` turns the video tokens into what a classification head takes
(:mod:`.video_outputs`); the default ``'tuple'`` is the pre-training output.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from simvtp.registry import MODELS
from ..layers.position import SinCosCache, interpolate_pos_embed, sincos_table
from ..layers.tokens import gather_visible, visible_index
from ..layers.packed import run_blocks_packed
from ..layers.transformer import (build_blocks, build_key_padding_mask,
                                  reference_init_, run_blocks)
from .video_outputs import OUT_TYPES, POOLED_OUT_TYPES, format_video_tokens

__all__ = ['UnifiedViT', 'CubeEmbed', 'TextEmbeddings']


def _pair(x: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(x, int):
        return (x, x)
    x = tuple(int(v) for v in x)
    if len(x) != 2:
        raise ValueError(f'expected an int or an (H, W) pair, got {x}')
    return x


class CubeEmbed(nn.Module):
    """Non-overlapping tube embedding.

    Args:
        in_channels (int): Input channels ``C``.
        embed_dims (int): Output channels ``D``.
        patch_size (int): Spatial patch size ``p``.
        tubelet_size (int): Temporal tube length ``t``.
    """

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int,
                 tubelet_size: int):
        super().__init__()
        kernel = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Conv3d(in_channels, embed_dims, kernel_size=kernel,
                              stride=kernel)

    def forward(self, video: torch.Tensor
                ) -> Tuple[torch.Tensor, Tuple[int, int, int]]:
        """``(B, C, T, H, W)`` -> ``((B, T'*H'*W', D), (T', H', W'))``.

        Token order is the ``Conv3d`` output flattened over ``(t', h', w')``.
        """
        x = self.proj(video)
        grid = tuple(x.shape[2:])
        return x.flatten(2).transpose(1, 2), grid


class TextEmbeddings(nn.Module):
    """BERT embeddings: word + absolute position + token type, LN, dropout.

    Args:
        vocab_size (int): Vocabulary size ``V``.
        embed_dims (int): Channels ``D``.
        max_len (int): Number of learned positions.
        type_vocab_size (int): Number of token types.
        pad_token_id (int): Padding index of the word embedding.
        dropout (float): Dropout after the LayerNorm.
        eps (float): LayerNorm epsilon (BERT: 1e-12).
    """

    def __init__(self,
                 vocab_size: int,
                 embed_dims: int,
                 max_len: int = 512,
                 type_vocab_size: int = 2,
                 pad_token_id: int = 0,
                 dropout: float = 0.1,
                 eps: float = 1e-12):
        super().__init__()
        self.max_len = max_len
        self.word_embeddings = nn.Embedding(vocab_size, embed_dims,
                                            padding_idx=pad_token_id)
        self.position_embeddings = nn.Embedding(max_len, embed_dims)
        self.token_type_embeddings = nn.Embedding(type_vocab_size,
                                                  embed_dims)
        self.LayerNorm = nn.LayerNorm(embed_dims, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer('position_ids',
                             torch.arange(max_len)[None, :],
                             persistent=False)

    def forward(self,
                input_ids: torch.Tensor,
                token_type_ids: Optional[torch.Tensor] = None
                ) -> torch.Tensor:
        """``(B, L)`` long ids (+ optional ``(B, L)`` types) -> ``(B, L, D)``.

        Positions are ``0 .. L-1``; token type defaults to 0.
        """
        length = input_ids.shape[1]
        if length > self.max_len:
            raise ValueError(f'text length {length} exceeds max_text_len='
                             f'{self.max_len}')
        x = self.word_embeddings(input_ids)
        x = x + self.position_embeddings(self.position_ids[:, :length])
        if token_type_ids is None:
            x = x + self.token_type_embeddings.weight[0]
        else:
            x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


@MODELS.register_module()
class UnifiedViT(BaseModule):
    """Unified video-text ViT encoder of SimVTP.

    Args:
        arch (str | dict): Preset name (``'tiny'``, ``'small'``, ``'base'``,
            ``'large'``) or a dict with ``embed_dims``, ``num_layers``,
            ``num_heads`` and optionally ``mlp_ratio`` (default 4).
        img_size (int | tuple): Configured frame size ``H`` (= ``W`` if int).
        patch_size (int): Spatial patch size (16).
        num_frames (int): Configured clip length ``T``.
        tubelet_size (int): Temporal tube length (2).
        in_channels (int): Video channels (3).
        vocab_size (int): Text vocabulary size (BERT: 30522).
        max_text_len (int): Learned text positions (512).
        type_vocab_size (int): Token types (2).
        pad_token_id (int): Padding id of the word embedding (0).
        learnable_video_pos (bool): Learnable ``video_pos_embed`` (1, N, D)
            instead of the fixed sin-cos table.
        qkv_bias (bool): Use ``q_bias`` / ``v_bias`` in attention.
        drop_rate (float): Dropout after the video position add and the
            block projections.
        attn_drop_rate (float): Attention-probability dropout.
        drop_path_rate (float): Max stochastic depth (linear over depth).
        text_dropout (float): Dropout in the text embeddings (0.1).
        norm_eps (float): LayerNorm epsilon of blocks and final norm.
        attn_impl (str): ``'sdpa'`` (default), ``'math'`` (reference
            hand-written attention with an additive -10000 mask) or
            ``'auto'`` (SDPA, but the hand-written path for bf16/fp16 on
            CPU, where it is faster; see ``layers/transformer.py``).
        with_cp (bool): Gradient checkpointing per block while training.
        skip_padding (bool): :meth:`encode` computes only real tokens when a
            text key mask is given (:mod:`~simvtp.models.layers.packed`):
            the same outputs up to rounding at real tokens, fewer FLOPs the
            more the captions of a batch differ in length; padded positions
            come out as meaningless values, so only for callers that never
            read them (pooling that excludes padding). Counting the real
            tokens reads one number on the host per pass.
        out_type (str): what :meth:`forward` returns. ``'tuple'`` (default,
            pre-training): ``(video_out, text_out)``. As a video backbone
            (:mod:`.video_outputs`): ``'raw'`` tokens ``(B, N, C)``,
            ``'featmap'`` ``(B, C, T', H', W')``, ``'avg_featmap'`` the mean
            token ``(B, C)``, ``'grid_featmap'`` the means over the cells of
            a coarse ``pool_grid`` concatenated ``(B, t*h*w*C)``.
        pool_grid (tuple): ``(t, h, w)`` cells of ``'grid_featmap'``
            (adaptive average pooling of the token map; None keeps the
            token grid's size on that axis). Default ``(None, 1, 1)``: one
            mean per time step.
        final_norm (bool): LayerNorm every token after the blocks (True).
            mmaction2's vit_mae with mean pooling has none (False) and
            normalises the pooled feature instead (``fc_norm``).
        fc_norm (bool): a LayerNorm (eps ``norm_eps``) on the pooled
            feature, ``fc_norm.*`` like vit_mae's; only with a pooled
            ``out_type``.
        with_text (bool): build the text embeddings (True). A video-only
            fine-tuning model can drop them (False): no unused parameters,
            and a pre-training checkpoint reports them as unused.
        init_cfg (dict | list, optional): mmengine init config (e.g.
            ``dict(type='Pretrained', checkpoint=...)``).
    """

    arch_zoo: Dict[str, dict] = {
        'tiny': dict(embed_dims=192, num_layers=12, num_heads=3,
                     mlp_ratio=4.0),
        'small': dict(embed_dims=384, num_layers=12, num_heads=6,
                      mlp_ratio=4.0),
        'base': dict(embed_dims=768, num_layers=12, num_heads=12,
                     mlp_ratio=4.0),
        'large': dict(embed_dims=1024, num_layers=24, num_heads=16,
                      mlp_ratio=4.0),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 img_size: Union[int, Sequence[int]] = 224,
                 patch_size: int = 16,
                 num_frames: int = 16,
                 tubelet_size: int = 2,
                 in_channels: int = 3,
                 vocab_size: int = 30522,
                 max_text_len: int = 512,
                 type_vocab_size: int = 2,
                 pad_token_id: int = 0,
                 learnable_video_pos: bool = False,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0,
                 text_dropout: float = 0.1,
                 norm_eps: float = 1e-6,
                 attn_impl: str = 'sdpa',
                 with_cp: bool = False,
                 skip_padding: bool = False,
                 out_type: str = 'tuple',
                 pool_grid: Sequence[Optional[int]] = (None, 1, 1),
                 final_norm: bool = True,
                 fc_norm: bool = False,
                 with_text: bool = True,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(init_cfg=init_cfg)
        if out_type not in OUT_TYPES:
            raise ValueError(f'out_type must be one of {OUT_TYPES}, got '
                             f'{out_type!r}')
        if fc_norm and out_type not in POOLED_OUT_TYPES:
            raise ValueError(f'fc_norm normalises a pooled feature: it needs '
                             f'out_type in {POOLED_OUT_TYPES}, got '
                             f'{out_type!r}')
        self.out_type = out_type
        if len(pool_grid) != 3 or any(
                p is not None and int(p) < 1 for p in pool_grid):
            raise ValueError(f'pool_grid must be (t, h, w) of positive ints '
                             f'or None, got {pool_grid}')
        self.pool_grid = tuple(None if p is None else int(p)
                               for p in pool_grid)
        arch_cfg = self._parse_arch(arch)
        self.arch = arch if isinstance(arch, str) else 'custom'
        self.embed_dims = arch_cfg['embed_dims']
        self.num_layers = arch_cfg['num_layers']
        self.num_heads = arch_cfg['num_heads']
        self.mlp_ratio = arch_cfg['mlp_ratio']
        self.patch_size = int(patch_size)
        self.tubelet_size = int(tubelet_size)
        self.in_channels = int(in_channels)
        self.img_size = _pair(img_size)
        self.num_frames = int(num_frames)
        self.max_text_len = int(max_text_len)
        self.pad_token_id = int(pad_token_id)
        self.attn_impl = attn_impl
        self.with_cp = bool(with_cp)
        self.skip_padding = bool(skip_padding)
        self.learnable_video_pos = bool(learnable_video_pos)
        self.grid_size = (self.num_frames // self.tubelet_size,
                          self.img_size[0] // self.patch_size,
                          self.img_size[1] // self.patch_size)
        if min(self.grid_size) <= 0:
            raise ValueError(f'num_frames={num_frames} / img_size={img_size} '
                             f'are smaller than one tube '
                             f'({tubelet_size}, {patch_size}, {patch_size})')
        self.num_patches = (self.grid_size[0] * self.grid_size[1] *
                            self.grid_size[2])

        dims = self.embed_dims
        self.patch_embed = CubeEmbed(in_channels, dims, self.patch_size,
                                     self.tubelet_size)
        if self.learnable_video_pos:
            self.video_pos_embed = nn.Parameter(
                sincos_table(self.num_patches, dims)[None])
        else:
            self.register_parameter('video_pos_embed', None)
        self._sincos = SinCosCache(dims)
        self.pos_drop = nn.Dropout(drop_rate)
        self.with_text = bool(with_text)
        self.text_embeddings = TextEmbeddings(
            vocab_size, dims, max_len=self.max_text_len,
            type_vocab_size=type_vocab_size, pad_token_id=self.pad_token_id,
            dropout=text_dropout) if self.with_text else None
        self.blocks = build_blocks(
            dims, self.num_layers, self.num_heads, self.mlp_ratio, qkv_bias,
            drop_rate, attn_drop_rate, drop_path_rate, norm_eps, attn_impl)
        self.norm = nn.LayerNorm(dims, eps=norm_eps) if final_norm \
            else nn.Identity()
        self.fc_norm = nn.LayerNorm(dims, eps=norm_eps) if fc_norm else None

    @classmethod
    def _parse_arch(cls, arch: Union[str, dict]) -> dict:
        if isinstance(arch, str):
            key = arch.lower()
            if key not in cls.arch_zoo:
                raise KeyError(f'unknown arch {arch!r}; choose one of '
                               f'{sorted(cls.arch_zoo)} or pass a dict')
            return dict(cls.arch_zoo[key])
        if not isinstance(arch, dict):
            raise TypeError(f'arch must be a str or dict, got {type(arch)}')
        required = {'embed_dims', 'num_layers', 'num_heads'}
        missing = required - set(arch)
        if missing:
            raise KeyError(f'custom arch is missing {sorted(missing)}')
        unknown = set(arch) - required - {'mlp_ratio'}
        if unknown:
            raise KeyError(f'custom arch has unknown keys {sorted(unknown)}')
        cfg = dict(mlp_ratio=4.0)
        cfg.update(arch)
        if cfg['embed_dims'] % cfg['num_heads'] != 0:
            raise ValueError(f"embed_dims {cfg['embed_dims']} is not "
                             f"divisible by num_heads {cfg['num_heads']}")
        return cfg

    # ------------------------------------------------------------------ init
    def init_weights(self) -> None:
        """Reference init, then ``init_cfg`` (e.g. Pretrained) if given.

        Linear: xavier-uniform, zero bias. Conv3d: xavier-uniform on the
        flattened ``(D, C*t*p*p)`` weight, zero bias. LayerNorm: (1, 0).
        q/v biases: 0. Text embeddings: normal(std=0.02), padding row 0.
        Learnable video positions: the sin-cos table.
        """
        reference_init_(self)
        emb = self.text_embeddings
        if emb is not None:
            for table in (emb.word_embeddings, emb.position_embeddings,
                          emb.token_type_embeddings):
                nn.init.normal_(table.weight, mean=0.0, std=0.02)
        with torch.no_grad():
            if emb is not None:
                emb.word_embeddings.weight[self.pad_token_id].zero_()
            if self.video_pos_embed is not None:
                self.video_pos_embed.copy_(
                    sincos_table(self.num_patches, self.embed_dims)[None])
        if self.init_cfg is not None:
            super().init_weights()

    def no_weight_decay(self) -> set:
        """Names of parameters that must not be weight-decayed.

        Only the learnable video position table (if any); the optimizer
        constructor additionally skips every 1-D parameter (biases, norms,
        q/v biases).
        """
        return {'video_pos_embed'} if self.learnable_video_pos else set()

    def get_layer_depth(self, param_name: str, prefix: str = ''
                        ) -> Tuple[int, int]:
        """Depth of a parameter for layer-wise lr decay (mmpretrain's API).

        Args:
            param_name (str): full parameter name in the model.
            prefix (str): this encoder's prefix in the model (e.g.
                ``'backbone.'``).

        Returns:
            tuple: ``(layer_id, max_layer_id)`` with ``max_layer_id =
            num_layers + 2``: the embeddings (cube, positions, text) are
            layer 0, ``blocks.i`` is ``i + 1``, the final norm and anything
            else ``num_layers + 1``.
        """
        max_layer_id = self.num_layers + 2
        if not param_name.startswith(prefix):
            raise ValueError(f'{param_name!r} does not start with the '
                             f'encoder prefix {prefix!r}')
        name = param_name[len(prefix):]
        if name.startswith(('patch_embed.', 'video_pos_embed',
                            'text_embeddings.')):
            return 0, max_layer_id
        if name.startswith('blocks.'):
            return int(name.split('.')[1]) + 1, max_layer_id
        return self.num_layers + 1, max_layer_id

    # ------------------------------------------------------------- embedding
    def _video_pos(self, grid: Tuple[int, int, int],
                   ref: torch.Tensor) -> torch.Tensor:
        """Position table ``(1, N, D)`` for ``grid`` matching ``ref``."""
        num = grid[0] * grid[1] * grid[2]
        if self.video_pos_embed is not None:
            pos = interpolate_pos_embed(self.video_pos_embed, self.grid_size,
                                        grid)
            return pos.to(ref.dtype)
        return self._sincos(num, ref.device, ref.dtype)[None]

    def embed_video(self, video: torch.Tensor) -> torch.Tensor:
        """Cube embedding plus video positions.

        Args:
            video (torch.Tensor): ``(B, C, T, H, W)`` float clip. Other
                ``T/H/W`` than configured are allowed: the fixed table is
                rebuilt for the new ``N`` (it is 1-D over the token index);
                a learnable table is trilinearly resized to the new grid.

        Returns:
            torch.Tensor: ``(B, N, D)`` with ``N = T'*H'*W'``,
            ``T' = T // tubelet``, ``H' = H // patch``, ``W' = W // patch``,
            tokens ordered ``(t', h', w')``.
        """
        if video.dim() != 5:
            raise ValueError(f'video must be (B, C, T, H, W), got '
                             f'{tuple(video.shape)}')
        if video.shape[1] != self.in_channels:
            raise ValueError(f'video has {video.shape[1]} channels, expected '
                             f'{self.in_channels} (layout (B, C, T, H, W))')
        x, grid = self.patch_embed(video)
        x = x + self._video_pos(grid, x)
        return self.pos_drop(x)

    def token_grid(self, video: torch.Tensor) -> Tuple[int, int, int]:
        """``(T', H', W')`` tube grid of a ``(B, C, T, H, W)`` clip (the
        order of :meth:`embed_video`'s tokens)."""
        return (video.shape[2] // self.tubelet_size,
                video.shape[3] // self.patch_size,
                video.shape[4] // self.patch_size)

    def embed_video_visible(self, video: torch.Tensor, mask: torch.Tensor,
                            num_visible: Optional[int] = None
                            ) -> torch.Tensor:
        """Cube-embed only the visible tubes (plus their positions).

        Equals ``gather_visible(self.embed_video(video), mask)`` up to fp32
        rounding, at a fraction of the cost under heavy masking: the cube
        embedding is linear per tube (kernel = stride), so the clip is viewed
        as ``(B, T', H', W', C, t, p, p)`` tubes (no copy), only the visible
        tubes are gathered, and the ``Conv3d`` weight is applied as one
        matmul; the backward pass likewise touches only those tubes.

        Args:
            video (torch.Tensor): ``(B, C, T, H, W)``.
            mask (torch.Tensor): ``(B, N)`` bool, True = hidden, same count
                per sample, ``N`` the clip's token count.
            num_visible (int, optional): visible tubes per sample; given, no
                host sync is needed (see :func:`visible_index`).

        Returns:
            torch.Tensor: ``(B, N_vis, D)``, ascending token index.
        """
        if video.dim() != 5 or video.shape[1] != self.in_channels:
            raise ValueError(f'video must be (B, {self.in_channels}, T, H, '
                             f'W), got {tuple(video.shape)}')
        batch, chans, frames, height, width = video.shape
        t, p = self.tubelet_size, self.patch_size
        grid = (frames // t, height // p, width // p)
        num = grid[0] * grid[1] * grid[2]
        if tuple(mask.shape) != (batch, num):
            raise ValueError(f'mask {tuple(mask.shape)} does not match the '
                             f'clip\'s {num} tubes (B={batch})')
        # crop what Conv3d's stride would drop, then a strided tube view
        video = video[:, :, :grid[0] * t, :grid[1] * p, :grid[2] * p]
        tubes = video.unflatten(4, (grid[2], p)).unflatten(3, (grid[1], p))
        tubes = tubes.unflatten(2, (grid[0], t))  # B C T' t H' p W' p
        tubes = tubes.permute(0, 2, 4, 6, 1, 3, 5, 7)  # B T' H' W' C t p p
        idx = visible_index(mask, num_visible)  # (B, N_vis)
        plane = grid[1] * grid[2]
        rows = torch.arange(batch, device=idx.device)[:, None]
        picked = tubes[rows, idx // plane, (idx // grid[2]) % grid[1],
                       idx % grid[2]]  # (B, N_vis, C, t, p, p)
        proj = self.patch_embed.proj
        x = F.linear(picked.flatten(2), proj.weight.flatten(1), proj.bias)
        pos = self._video_pos(grid, x)[0]  # (N, D)
        return self.pos_drop(x + pos[idx])

    def embed_text(self,
                   input_ids: torch.Tensor,
                   token_type_ids: Optional[torch.Tensor] = None
                   ) -> torch.Tensor:
        """BERT text embeddings.

        Args:
            input_ids (torch.Tensor): ``(B, L)`` long token ids.
            token_type_ids (torch.Tensor, optional): ``(B, L)`` long; 0 if
                omitted.

        Returns:
            torch.Tensor: ``(B, L, D)``.

        Raises:
            ValueError: if ``L > max_text_len``.
        """
        self._require_text()
        if input_ids.dim() != 2:
            raise ValueError(f'input_ids must be (B, L), got '
                             f'{tuple(input_ids.shape)}')
        if input_ids.shape[1] > self.max_text_len:
            raise ValueError(f'text length {input_ids.shape[1]} exceeds '
                             f'max_text_len={self.max_text_len}')
        return self.text_embeddings(input_ids, token_type_ids)

    def text_positions(self, length: int) -> torch.Tensor:
        """The learned text position embeddings ``(length, D)``."""
        self._require_text()
        return self.text_embeddings.position_embeddings.weight[:length]

    def _require_text(self) -> None:
        if self.text_embeddings is None:
            raise RuntimeError('this UnifiedViT was built with with_text='
                               'False: it has no text embeddings')

    # -------------------------------------------------------------- encoding
    def encode(self,
               video_tokens: Optional[torch.Tensor] = None,
               text_tokens: Optional[torch.Tensor] = None,
               text_attention_mask: Optional[torch.Tensor] = None,
               skip_padding: Optional[bool] = None,
               text_outputs_only: bool = False
               ) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Run the shared blocks over ``[video ; text]`` and the final norm.

        Args:
            video_tokens (torch.Tensor, optional): ``(B, Nv, D)`` embedded
                (visible) video tokens; always attended to.
            text_tokens (torch.Tensor, optional): ``(B, L, D)`` embedded text.
            text_attention_mask (torch.Tensor, optional): ``(B, L)``; 1/True
                = real token, 0 = padding (padding keys are ignored).
            skip_padding (bool, optional): do not compute the padded
                positions (:func:`run_blocks_packed`): real tokens' outputs
                are the same up to rounding, padded positions' outputs are
                meaningless. None: the backbone's ``skip_padding``; pass
                False where padded outputs are read.
            text_outputs_only (bool): only the text tokens' outputs are
                wanted (e.g. matching pooled over the caption): the last
                block computes queries, output projection and MLP for them
                alone, the video tokens serving as its keys and values;
                ``video_out`` is then None. Text outputs equal the full
                pass's up to rounding.

        Returns:
            tuple: ``(video_out (B, Nv, D) or None, text_out (B, L, D) or
            None)``.
        """
        if video_tokens is None and text_tokens is None:
            raise ValueError('encode needs video_tokens and/or text_tokens')
        if text_tokens is None and text_attention_mask is not None:
            raise ValueError('text_attention_mask given without text_tokens')
        parts = [t for t in (video_tokens, text_tokens) if t is not None]
        for t in parts:
            if t.dim() != 3 or t.shape[-1] != self.embed_dims:
                raise ValueError(f'tokens must be (B, S, {self.embed_dims}), '
                                 f'got {tuple(t.shape)}')
        batch = parts[0].shape[0]
        if len(parts) == 2 and parts[1].shape[0] != batch:
            raise ValueError(f'video batch {batch} != text batch '
                             f'{parts[1].shape[0]}')
        num_video = 0 if video_tokens is None else video_tokens.shape[1]
        key_mask = None
        if text_tokens is not None and text_attention_mask is not None:
            if tuple(text_attention_mask.shape) != tuple(
                    text_tokens.shape[:2]):
                raise ValueError(
                    f'text_attention_mask {tuple(text_attention_mask.shape)}'
                    f' does not match text tokens '
                    f'{tuple(text_tokens.shape[:2])}')
            key_mask = build_key_padding_mask(num_video, text_attention_mask,
                                              batch, parts[0].device)
        if text_outputs_only and text_tokens is None:
            raise ValueError('text_outputs_only needs text_tokens')
        x = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        if skip_padding is None:
            skip_padding = self.skip_padding
        start = num_video if text_outputs_only else None
        if skip_padding and key_mask is not None:
            x = run_blocks_packed(self.blocks, x, key_mask, self.with_cp,
                                  self.norm, query_start=start)
        else:
            x = self.norm(run_blocks(self.blocks, x, key_mask, self.with_cp,
                                     query_start=start))
        if text_outputs_only:
            return None, x
        video_out = x[:, :num_video] if video_tokens is not None else None
        text_out = x[:, num_video:] if text_tokens is not None else None
        return video_out, text_out

    def forward(self,
                video: Optional[torch.Tensor] = None,
                text_ids: Optional[torch.Tensor] = None,
                text_attention_mask: Optional[torch.Tensor] = None,
                video_mask: Optional[torch.Tensor] = None
                ) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Embed, keep visible video tokens, encode.

        Args:
            video (torch.Tensor, optional): ``(B, C, T, H, W)``.
            text_ids (torch.Tensor, optional): ``(B, L)`` long.
            text_attention_mask (torch.Tensor, optional): ``(B, L)``,
                1 = real token.
            video_mask (torch.Tensor, optional): ``(B, N)`` bool, True =
                hidden; every sample must hide the same number of tokens.

        Returns:
            tuple | torch.Tensor: with ``out_type='tuple'``: ``(video_out
            (B, N_vis, D) or None, text_out (B, L, D) or None)``; ``N_vis =
            N`` without ``video_mask``; visible tokens in ascending token
            index. Otherwise the video tokens formatted by
            :func:`~.video_outputs.format_video_tokens` (a video is
            required; ``'raw'`` alone accepts a ``video_mask``).
        """
        if self.out_type != 'tuple':
            if video is None:
                raise ValueError(f'out_type={self.out_type!r} formats video '
                                 'tokens: a video is required')
            if video_mask is not None and self.out_type != 'raw':
                raise ValueError(f'out_type={self.out_type!r} needs every '
                                 'token; video_mask is only allowed with '
                                 "out_type='raw'")
        video_tokens = text_tokens = None
        if video is not None:
            video_tokens = self.embed_video(video)
            if video_mask is not None:
                video_tokens = gather_visible(video_tokens, video_mask)
        elif video_mask is not None:
            raise ValueError('video_mask given without video')
        if text_ids is not None:
            text_tokens = self.embed_text(text_ids)
        outputs = self.encode(video_tokens, text_tokens, text_attention_mask)
        if self.out_type == 'tuple':
            return outputs
        grid = (video.shape[2] // self.tubelet_size,
                video.shape[3] // self.patch_size,
                video.shape[4] // self.patch_size)
        return format_video_tokens(outputs[0], grid, self.out_type,
                                   self.fc_norm, self.pool_grid)
