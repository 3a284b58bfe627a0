"""One decoder for both modalities (SimVTP paper, Table 4e)."""
from typing import Optional, Tuple

import torch
import torch.nn as nn

from simvtp.registry import MODELS
from ..layers.transformer import build_key_padding_mask, run_blocks
from .text_decoder import fill_hidden_words
from .video_decoder import VideoMAEDecoder

__all__ = ['SharedVideoTextDecoder']


@MODELS.register_module()
class SharedVideoTextDecoder(VideoMAEDecoder):
    """Joint video-text decoder.

    Sequence: ``[proj(visible) + pos[visible] ; mask_token + pos[target] ;
    proj(text)]`` with one shared ``encoder_to_decoder`` projection and a
    key-padding mask for text padding. After the blocks and ``norm``, the
    pixel ``head`` predicts the hidden video tokens and ``text_head`` the
    vocabulary logits of the text tokens.

    Args:
        vocab_size (int): Vocabulary size ``V``.
        text_mask_token (bool): own a learned ``text_mask_token``
            (1, 1, in_dims) that, plus the word's position, stands in for
            words the encoder never saw (``SimVTP(drop_masked_text=True)``).
        **kwargs: the geometry and blocks, as :class:`VideoMAEDecoder`.
    """

    def __init__(self, vocab_size: int = 30522,
                 text_mask_token: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.text_head = nn.Linear(self.embed_dims, vocab_size)
        self.text_mask_token = None
        if text_mask_token:  # (reference_init_ leaves it as drawn here)
            self.text_mask_token = nn.Parameter(
                nn.init.trunc_normal_(torch.zeros(1, 1, self.in_dims),
                                      std=.02))

    def forward(self,
                visible_tokens: torch.Tensor,
                mask: torch.Tensor,
                text_tokens: torch.Tensor,
                text_attention_mask: Optional[torch.Tensor] = None,
                decode_mask: Optional[torch.Tensor] = None,
                select: Optional[torch.Tensor] = None,
                hidden: Optional[torch.Tensor] = None,
                positions: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Decode both modalities jointly.

        Args:
            visible_tokens (torch.Tensor): ``(B, N_vis, in_dims)``.
            mask (torch.Tensor): ``(B, N)`` bool, True = hidden.
            text_tokens (torch.Tensor): ``(B, L, in_dims)``.
            text_attention_mask (torch.Tensor, optional): ``(B, L)``, 1 =
                real token.
            decode_mask (torch.Tensor, optional): ``(B, N)`` bool subset of
                ``mask`` to predict (default all hidden).
            select (torch.Tensor, optional): ``(B, L)`` bool text positions
                to project to the vocabulary.
            hidden, positions: words the encoder did not see and the text
                position table ``(L, in_dims)``, as :class:`TextDecoder`.

        Returns:
            tuple: ``video_pred (B, N_target, P)`` (ascending token index) and
            ``text_logits (B, L, V)`` (or ``(K, V)`` with ``select``).
        """
        x_video, num_target = self._video_sequence(visible_tokens, mask,
                                                   decode_mask)
        if text_tokens.dim() != 3 or text_tokens.shape[0] != x_video.shape[0]:
            raise ValueError(f'text_tokens must be (B={x_video.shape[0]}, L, '
                             f'{self.in_dims}), got '
                             f'{tuple(text_tokens.shape)}')
        if hidden is not None:
            if self.text_mask_token is None:
                raise ValueError('SharedVideoTextDecoder got hidden words '
                                 'but has no text mask token: set '
                                 'text_mask_token=True')
            text_tokens = fill_hidden_words(text_tokens, hidden,
                                            self.text_mask_token, positions)
        x_text = self.encoder_to_decoder(text_tokens)
        num_video = x_video.shape[1]
        key_mask = build_key_padding_mask(num_video, text_attention_mask,
                                          x_video.shape[0], x_video.device)
        x = torch.cat((x_video, x_text.to(x_video.dtype)), dim=1)
        x = run_blocks(self.blocks, x, key_mask, self.with_cp)
        x = self.norm(x)
        video_pred = self.head(x[:, num_video - num_target:num_video])
        text = x[:, num_video:]
        if select is not None:
            if select.dtype != torch.bool or \
                    tuple(select.shape) != tuple(text.shape[:2]):
                raise ValueError(f'select must be a (B, L) bool tensor '
                                 f'matching {tuple(text.shape[:2])}')
            text = text[select]
        return video_pred, self.text_head(text)
