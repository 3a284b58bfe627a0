"""The pre-training's pooled video feature as an mmaction2 neck.

A SimVTP pre-training contrasts captions with one pooled vector per clip,
made by its ``video_pool`` module (a
:class:`~simvtp.models.layers.GridPoolProjection` on the synthetic
default). A recogniser that classifies that same vector (rather than a new
pooling of the token map) starts from the feature the text side was aligned
with: the class-name text features then classify it zero-shot
(:class:`~simvtp.models.heads.TextPromptClsHead`). The module's weights
load from the pre-training's ``video_pool.*`` keys
(``init_cfg=dict(type='SimVTPPretrained', checkpoint=...,
prefix_map={'video_pool.': 'pool.'})``).

mmaction2's ``Recognizer3D`` calls a neck as ``x, loss_aux = neck(x,
data_samples=...)`` while training and ``x, _ = neck(x)`` while testing;
this neck adds no loss (``loss_aux = {}``).
"""
from typing import Optional, Tuple

import torch
from mmengine.model import BaseModule

from ...registry import MODELS

__all__ = ['VideoPoolNeck']


@MODELS.register_module()
class VideoPoolNeck(BaseModule):
    """``(B, C, T', H', W')`` token map -> ``(B, D)`` pooled feature.

    Args:
        pool (dict): the pooling module, called as ``pool(tokens (B, N, C),
            (T', H', W'))``: the pre-training's ``video_pool`` config, e.g.
            ``dict(type='GridPoolProjection', in_dims=C, grid=(4, 2, 2))``.
            None: the mean over all tokens (the paper's VTC feature).
        init_cfg (dict, optional): e.g. ``SimVTPPretrained`` as above.
    """

    def __init__(self, pool: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.pool = MODELS.build(pool) if pool is not None else None

    def forward(self, x: torch.Tensor, data_samples=None
                ) -> Tuple[torch.Tensor, dict]:
        """``x`` ``(B, C, T', H', W')`` (the backbone's ``out_type=
        'featmap'``) -> ``((B, D), {})``."""
        if x.dim() != 5:
            raise ValueError(f'VideoPoolNeck expects the (B, C, T, H, W) '
                             f"token map (backbone out_type='featmap'), got "
                             f'{tuple(x.shape)}')
        tokens = x.flatten(2).transpose(1, 2)  # (B, T'*H'*W', C)
        if self.pool is None:
            return tokens.mean(dim=1), {}
        return self.pool(tokens, tuple(x.shape[2:])), {}
