"""mmengine's RuntimeInfoHook without a device read per training step.

The stock hook hands every log variable of every iteration to
``MessageHub.update_scalar``, which calls ``.item()``: on a GPU each step
then waits for the device before the host can queue the next one. This hook
keeps the (detached) values on the device and moves them to the host in one
transfer when somebody is about to read them: at the logger's interval, at
an iteration-based checkpoint (the message hub is saved with it), at the end
of an epoch and before validation. The message hub then receives exactly the
values, in the same order, that the stock hook would have written, so logs,
smoothing windows and resumed runs are unchanged.

Only hooks that read ``train/*`` scalars from the message hub at *other*
iterations would see them late; none of mmengine's or simvtp's does.

Use it in a config::

    default_hooks = dict(runtime_info=dict(type='LazyRuntimeInfoHook'))
"""
from typing import Dict, List, Optional

import torch
from mmengine.hooks import RuntimeInfoHook

from ...registry import HOOKS


@HOOKS.register_module()
class LazyRuntimeInfoHook(RuntimeInfoHook):
    """RuntimeInfoHook that reads the training log variables in batches.

    Args:
        interval: flush every this many iterations; None (default) follows
            the ``LoggerHook`` interval (and iteration-based checkpoints).
    """

    def __init__(self, interval: Optional[int] = None) -> None:
        if interval is not None and int(interval) < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval
        self._pending: List[Dict[str, torch.Tensor]] = []
        # LoggerHook counts iterations within the epoch (batch_idx); an
        # iteration-based CheckpointHook counts them over the whole run
        self._inner_intervals: List[int] = []
        self._global_intervals: List[int] = []

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self._inner_intervals, self._global_intervals = [], []
        if self.interval is not None:
            self._inner_intervals = [int(self.interval)]
            self._global_intervals = [int(self.interval)]
            return
        for hook in runner.hooks:
            name = type(hook).__name__
            if name == 'LoggerHook':
                self._inner_intervals.append(int(hook.interval))
            elif name == 'CheckpointHook' and not hook.by_epoch and \
                    hook.interval > 0:
                self._global_intervals.append(int(hook.interval))
        if not (self._inner_intervals or self._global_intervals):
            self._global_intervals = [1]

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if outputs:
            tensors = {}
            for key, value in outputs.items():
                if torch.is_tensor(value) and value.numel() == 1:
                    tensors[key] = value.detach().reshape(())
                else:  # not a device scalar: nothing to wait for
                    runner.message_hub.update_scalar(f'train/{key}', value)
            if tensors:
                self._pending.append(tensors)
        step = runner.iter + 1
        last_in_epoch = _epoch_length(runner) == batch_idx + 1
        if last_in_epoch or step >= runner.max_iters or any(
                (batch_idx + 1) % i == 0 for i in self._inner_intervals) \
                or any(step % i == 0 for i in self._global_intervals):
            self.flush(runner)

    def flush(self, runner) -> None:
        """Write the pending values to the message hub (one host read)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        flat = torch.stack([v.float() for step in pending
                            for v in step.values()])
        values = iter(flat.tolist())  # the only device-to-host transfer
        for step in pending:
            for key in step:
                runner.message_hub.update_scalar(f'train/{key}',
                                                 next(values))

    def before_val(self, runner) -> None:
        self.flush(runner)
        super().before_val(runner)

    def after_train_epoch(self, runner) -> None:
        self.flush(runner)

    def after_train(self, runner) -> None:
        self.flush(runner)
        super().after_train(runner)


def _epoch_length(runner) -> Optional[int]:
    try:
        return len(runner.train_dataloader)
    except TypeError:  # an infinite loader
        return None
