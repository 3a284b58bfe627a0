"""Optimizer wrappers that skip steps whose loss is not finite.

A NaN/inf loss (a bad batch, an overflow in bf16/fp32, a diverging run)
poisons every weight through one optimizer step and the run is lost, even
though the checkpoint before it was fine. fp16 AMP with a dynamic loss scale
already skips steps whose *gradients* overflow (``GradScaler``); nothing
protects fp32 or bf16 training, and a loss that is NaN before any scaling
still makes the scaler shrink step after step.

:class:`SkipNonFiniteOptimWrapper` (fp32) and
:class:`SkipNonFiniteAmpOptimWrapper` (AMP, fp16 or bf16) check the loss
before the backward pass. A non-finite loss skips backward and step (the
gradients of the current accumulation window are dropped), is logged as a
warning and counted; ``max_consecutive`` non-finite losses in a row stop
training with a RuntimeError. The check costs one device-to-host sync per
step (``bool(isfinite(loss))``); in distributed training also one
``all_reduce`` of one number, so that every rank skips together (DDP would
hang if one rank skipped its backward). The counts are saved with the
optimizer state and kept in the message hub's runtime info as
``nonfinite_skipped``.
"""
import logging
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce, get_dist_info
from mmengine.logging import MessageHub, print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from ..registry import OPTIM_WRAPPERS

STATE_KEY = 'simvtp_nonfinite'


class NonFiniteLossError(RuntimeError):
    """Too many consecutive steps had a NaN or infinite loss."""


class _SkipNonFiniteMixin:
    """The loss check shared by the fp32 and the AMP wrapper."""

    def _init_skip(self, max_consecutive: int) -> None:
        if int(max_consecutive) < 1:
            raise ValueError(f'max_consecutive must be >= 1, got '
                             f'{max_consecutive}')
        self.max_consecutive = int(max_consecutive)
        self.num_skipped = 0
        self.num_consecutive = 0

    def _loss_is_finite(self, loss: torch.Tensor) -> bool:
        finite = torch.isfinite(loss.detach()).all()
        if get_dist_info()[1] > 1:  # skip on every rank or on none
            flag = finite.to(torch.float32).reshape(1)
            all_reduce(flag, op='min')
            finite = flag[0] > 0
        return bool(finite)  # the one host sync per step

    def update_params(self, loss: torch.Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        if self._loss_is_finite(loss):
            self.num_consecutive = 0
            super().update_params(loss, step_kwargs, zero_kwargs)
        else:
            self._skip(loss, zero_kwargs)

    def _skip(self, loss: torch.Tensor, zero_kwargs: Optional[Dict]) -> None:
        self.num_skipped += 1
        self.num_consecutive += 1
        self._inner_count += 1  # keeps gradient accumulation aligned
        self.zero_grad(**(zero_kwargs or {}))
        MessageHub.get_current_instance().update_info(
            'nonfinite_skipped', self.num_skipped)
        value = loss.detach().float().reshape(-1)[0].item()
        if self.num_consecutive >= self.max_consecutive:
            raise NonFiniteLossError(
                f'{type(self).__name__}: the loss was not finite ({value}) in '
                f'{self.num_consecutive} consecutive steps '
                f'(max_consecutive={self.max_consecutive}); training stopped '
                f'to keep the weights intact. The last checkpoint is '
                'unaffected by the skipped steps. Common causes: a learning '
                'rate too high for the batch size, fp16 overflow (try bf16), '
                'or corrupt input data.')
        print_log(
            f'{type(self).__name__}: non-finite loss ({value}); skipped '
            f'backward and optimizer step ({self.num_skipped} skipped so far, '
            f'{self.num_consecutive} in a row, stop at '
            f'{self.max_consecutive})', logger='current',
            level=logging.WARNING)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state[STATE_KEY] = dict(skipped=self.num_skipped,
                                consecutive=self.num_consecutive)
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        counts = state_dict.pop(STATE_KEY, None)
        if isinstance(counts, dict):
            self.num_skipped = int(counts.get('skipped', 0))
            self.num_consecutive = int(counts.get('consecutive', 0))
        super().load_state_dict(state_dict)


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteOptimWrapper(_SkipNonFiniteMixin, OptimWrapper):
    """:class:`mmengine.optim.OptimWrapper` that skips non-finite losses.

    Args:
        max_consecutive: stop after this many non-finite losses in a row.
        **kwargs: see :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self, *args, max_consecutive: int = 5, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_skip(max_consecutive)


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteAmpOptimWrapper(_SkipNonFiniteMixin, AmpOptimWrapper):
    """:class:`mmengine.optim.AmpOptimWrapper` that skips non-finite losses.

    Gradient overflows of fp16 are still handled by the loss scaler (it
    skips the step and lowers the scale); this wrapper handles a loss that is
    already NaN/inf, which the scaler cannot fix, and stops a run that keeps
    producing them.

    Args:
        max_consecutive: stop after this many non-finite losses in a row.
        **kwargs: see :class:`mmengine.optim.AmpOptimWrapper`.
    """

    def __init__(self, *args, max_consecutive: int = 5, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_skip(max_consecutive)
