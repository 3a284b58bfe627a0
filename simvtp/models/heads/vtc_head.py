"""Video-text contrastive (VTC) loss."""
import math
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from simvtp.registry import MODELS
from ..utils import (all_gather_tensor, all_gather_with_grad,
                     get_rank_and_world)


@MODELS.register_module()
class VTCHead(BaseModule):
    """Symmetric InfoNCE between pooled video and text features.

    Features are (optionally) projected, L2-normalised (``x / max(|x|, 1e-8)``,
    the semantics of ``F.cosine_similarity``), gathered from all ranks with
    gradients, and each rank scores its local texts against all videos and its
    local videos against all texts.

    Args:
        embed_dims (int): input feature size. Defaults to 768.
        proj_dims (int, optional): size of the linear projections
            ``video_proj``/``text_proj``; None (SimVTP's reference) = none.
        temperature (float): initial temperature. Defaults to 0.05.
        learnable_temperature (bool): learn ``log(1 / temperature)`` (CLIP
            style, a parameter named ``logit_scale``). Defaults to True.
        max_logit_scale (float): ``1 / temperature`` is clamped to this.
            Defaults to 100.
        gather (bool): gather features across ranks. Defaults to True.
        symmetric_sum (bool): True = the reference's sum of the two
            directions; False = their mean. Defaults to False.
        loss_weight (float): Defaults to 1.0.
        init_cfg (dict, optional): Defaults to None.
    """

    def __init__(self,
                 embed_dims: int = 768,
                 proj_dims: Optional[int] = None,
                 temperature: float = 0.05,
                 learnable_temperature: bool = True,
                 max_logit_scale: float = 100,
                 gather: bool = True,
                 symmetric_sum: bool = False,
                 loss_weight: float = 1.0,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.embed_dims = embed_dims
        self.proj_dims = proj_dims
        if proj_dims is not None:
            self.video_proj = nn.Linear(embed_dims, proj_dims)
            self.text_proj = nn.Linear(embed_dims, proj_dims)
        else:
            self.video_proj = None
            self.text_proj = None
        # shape (1,), not a scalar: FSDP cannot shard 0-d parameters
        init = torch.tensor([math.log(1.0 / temperature)])
        if learnable_temperature:
            self.logit_scale = nn.Parameter(init)
        else:
            self.register_buffer('logit_scale', init)
        self.learnable_temperature = learnable_temperature
        self.max_logit_scale = max_logit_scale
        self.gather = gather
        self.symmetric_sum = symmetric_sum
        self.loss_weight = loss_weight
        self.last_logits_shape: Optional[Tuple[int, ...]] = None

    def scale(self) -> torch.Tensor:
        """``1 / temperature``, clamped to ``max_logit_scale`` (0-d)."""
        return self.logit_scale.clamp(
            max=math.log(self.max_logit_scale)).exp().reshape(())

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # checkpoints (and converters) with a 0-d logit_scale
        key = prefix + 'logit_scale'
        if key in state_dict and state_dict[key].dim() == 0:
            state_dict[key] = state_dict[key].reshape(1)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, video_feat: torch.Tensor,
                text_feat: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Projected, L2-normalised ``(video, text)`` embeddings, float32.

        Computed with autocast off: under AMP a bf16 projection or
        normalisation would round the similarities the loss compares.
        """
        with _no_autocast(video_feat):
            video_feat, text_feat = video_feat.float(), text_feat.float()
            if self.video_proj is not None:
                video_feat = self.video_proj(video_feat)
                text_feat = self.text_proj(text_feat)
            video = F.normalize(video_feat, dim=-1, eps=1e-8)
            text = F.normalize(text_feat, dim=-1, eps=1e-8)
        return video, text

    def similarity(self, video: torch.Tensor,
                   text: torch.Tensor) -> torch.Tensor:
        """Text-to-video logits ``scale * text @ video^T``, float32.

        Args:
            video: ``(N_v, E)`` and text: ``(N_t, E)`` embeddings from
                :meth:`forward`.

        Returns:
            ``(N_t, N_v)``; rows are texts. Autocast is off, so the logits
            stay float32 under AMP (a bf16 matmul keeps ~3 significant
            digits, too few to tell apart logits of scale 20).
        """
        with _no_autocast(video):
            return self.scale() * text.float() @ video.float().t()

    def loss(self, video_feat: torch.Tensor, text_feat: torch.Tensor,
             groups: Optional[torch.Tensor] = None
             ) -> Dict[str, torch.Tensor]:
        """Contrastive loss of ``(B, D)`` video and text features.

        Args:
            video_feat, text_feat: ``(B, D)``; row ``i`` of each is a pair.
            groups: ``(B,)`` ids of the video each pair was cut from
                (several clips per video, ``MultiClipDecode``). A clip and
                a caption of the same video (other than the pair itself)
                are no negative: their logit is left out of both softmaxes.
                None: every other row is a negative.

        Returns:
            ``dict(loss_vtc=..., vtc_temperature=...)``; the temperature is a
            detached scalar for logging.
        """
        if video_feat.shape != text_feat.shape or video_feat.dim() != 2:
            raise ValueError(f'video_feat {tuple(video_feat.shape)} and '
                             f'text_feat {tuple(text_feat.shape)} must both '
                             'be (B, D)')
        video, text = self(video_feat, text_feat)
        batch_size = video.shape[0]
        rank = 0
        if self.gather:
            rank, _ = get_rank_and_world()
            all_video = all_gather_with_grad(video)
            all_text = all_gather_with_grad(text)
        else:
            all_video, all_text = video, text
        logits_t2v = self.similarity(all_video, text)  # (B, world * B)
        logits_v2t = self.similarity(all_text, video)
        self.last_logits_shape = tuple(logits_t2v.shape)
        labels = torch.arange(batch_size, device=video.device) + \
            rank * batch_size
        if groups is not None:
            same = self.same_video(groups, labels)
            logits_t2v = logits_t2v.masked_fill(same, float('-inf'))
            logits_v2t = logits_v2t.masked_fill(same, float('-inf'))
        with _no_autocast(video):
            loss = F.cross_entropy(logits_t2v, labels) + \
                F.cross_entropy(logits_v2t, labels)
        if not self.symmetric_sum:
            loss = loss * 0.5
        return dict(loss_vtc=loss * self.loss_weight,
                    vtc_temperature=(1.0 / self.scale()).detach())


    def same_video(self, groups: torch.Tensor,
                   labels: torch.Tensor) -> torch.Tensor:
        """``(B, world * B)`` bool: column ``j`` (gathered order) comes from
        the video of row ``i`` and is not its pair ``labels[i]``."""
        groups = groups.to(labels.device).reshape(-1)
        if groups.shape[0] != labels.shape[0]:
            raise ValueError(f'groups {tuple(groups.shape)} must be '
                             f'({labels.shape[0]},), one id per pair')
        all_groups = all_gather_tensor(groups) if self.gather else groups
        same = groups[:, None] == all_groups[None, :]
        same[torch.arange(len(labels), device=labels.device), labels] = False
        return same


def _no_autocast(tensor: torch.Tensor):
    """Autocast disabled on ``tensor``'s device type."""
    return torch.autocast(device_type=tensor.device.type, enabled=False)
