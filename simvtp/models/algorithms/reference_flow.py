"""The authors' computation flow of a SimVTP step, as its own model.

:class:`ReferenceFlowSimVTP` computes the same objectives as
:class:`~.simvtp.SimVTP` the way the authors' code does (wufeim/SimVTP,
``modeling_pretrain.py``): the whole clip is cube-embedded again for every
pass that reads video (joint, VTC video-only, VTM), the visible tubes
gathered from it each time; VTM encodes the ``B`` positive pairs again
together with the ``B`` negatives (``2B`` sequences); each text's negative
clip is drawn in a Python loop (random: rejection sampling of ``j != i``);
every joint pass computes all its outputs, also where only the caption's
are pooled. With the same weights and the same negatives it gives SimVTP's losses and
gradients up to rounding (tested), at about 1.5x the cost.

Two uses:

* the baseline of ``tools/analysis_tools/benchmark_train.py`` (with
  ``attn_impl='math'``, FP32: the authors' arithmetic);
* parity with the authors' code: with the settings listed in
  ``docs/checkpoints.md`` (reference pooling, summed VTC, all-[MASK]
  Bernoulli text masking, math attention, ...) its four losses match a run
  of their code on converted weights (``tests/test_converters/
  test_parity.py``).

It takes exactly SimVTP's arguments.
"""
from typing import Dict, Optional

import torch

from ...registry import MODELS
from ..layers.tokens import gather_visible
from .simvtp import SimVTP


@MODELS.register_module()
class ReferenceFlowSimVTP(SimVTP):
    """SimVTP computed with the reference's flow (see the module docstring).
    """

    def _encode_pooled(self, video: torch.Tensor, text: torch.Tensor,
                       keys: Optional[torch.Tensor]) -> torch.Tensor:
        """The joint pass with every output computed, then pooled (padded
        positions too where the pooling reads them)."""
        pad = self.vtm_pooling == 'mean_with_padding'
        return self._pool_joint(*self.backbone.encode(
            video, text, keys, skip_padding=False if pad else None), keys)

    def _visible_tokens(self, inputs: dict) -> torch.Tensor:
        """A fresh cube embedding of the whole clip, visible tubes kept:
        ``(B, N_vis, D)``."""
        return gather_visible(self.backbone.embed_video(inputs['video']),
                              inputs['video_mask'], inputs.get('num_visible'))

    def loss(self, inputs: dict, data_samples=None) -> Dict[str, torch.Tensor]:
        if inputs.get('video_group') is not None:
            raise ValueError(
                'ReferenceFlowSimVTP is the authors\' one-clip-per-video flow;'
                ' a batch with video_group (MultiClipDecode: several clips '
                'per video) needs SimVTP, which masks same-video pairs')
        text = self.backbone.embed_text(inputs['input_ids'])
        keys = self._text_keys(inputs, self.drop_masked_text)
        losses, sim = {}, None
        if 'msm' in self.objectives:
            joint = self.backbone.encode(self._visible_tokens(inputs), text,
                                         keys)
            losses.update(self._reconstruction_losses(*joint, inputs))
        if 'vtc' in self.objectives:
            vtc, sim = self._contrastive_loss(
                self.backbone.embed_video(inputs['video'])
                if self.vtc_video == 'unmasked' else
                self._visible_tokens(inputs),
                self._unmasked_text(inputs) if self.vtc_text == 'unmasked'
                else text, inputs)
            losses.update(vtc)
        if 'vtm' in self.objectives:
            if self.vtm_input == 'unmasked':
                losses.update(self._reencoded_matching_loss(
                    self.backbone.embed_video(inputs['video']),
                    self._unmasked_text(inputs),
                    self._text_keys(inputs, False), sim))
            else:
                losses.update(self._reencoded_matching_loss(
                    self._visible_tokens(inputs), text, keys, sim))
        return losses

    def _unmasked_text(self, inputs: dict) -> torch.Tensor:
        """The caption without [MASK]s, embedded again: ``(B, L, D)``."""
        return self.backbone.embed_text(inputs['input_ids_unmasked'])

    def _reencoded_matching_loss(self, video, text, keys, sim):
        """VTM over one joint pass of ``[B positives ; B negatives]``."""
        batch = video.shape[0]
        if batch < 2:
            pooled = self._encode_pooled(video, text, keys)
            return self.vtm_head.loss_without_negatives(pooled)
        neg = self.sample_negatives_loop(batch, sim).to(video.device)
        return self._paired_pass_loss(video, text, keys, neg)

    def sample_negatives_loop(self, batch_size: int,
                              sim: Optional[torch.Tensor] = None
                              ) -> torch.Tensor:
        """One negative clip per text, drawn one at a time as the reference
        does: 'random' redraws ``torch.randint`` until ``j != i``; 'hard'
        draws from :meth:`VTMHead.negative_weights` row by row. Same
        distributions as :meth:`VTMHead.sample_negatives`, another random
        stream. Returns ``(B,)`` long."""
        device = sim.device if sim is not None else torch.device('cpu')
        weights = None
        if self.vtm_head.negative == 'hard':
            weights = self.vtm_head.negative_weights(sim, batch_size)
        picked = []
        for i in range(batch_size):
            if weights is not None:
                j = int(torch.multinomial(weights[i], 1))
            else:
                j = i
                while j == i:  # rejection: redraw until another clip
                    j = int(torch.randint(batch_size, (1, ), device=device))
            picked.append(j)
        return torch.tensor(picked, dtype=torch.long, device=device)
