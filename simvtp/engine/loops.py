"""Iteration-based training that resumes without re-reading old batches.

mmengine's ``IterBasedTrainLoop`` resumes at iteration ``k`` by drawing and
throwing away ``k`` batches from the dataloader: every skipped clip is read
and decoded again, hours of video decoding on WebVid-scale runs.
:class:`ResumableIterBasedTrainLoop` skips at the index level instead: it
puts the sampler at the right epoch and drops the indices of the batches
already trained on before any sample is loaded, so the resumed run continues
with exactly the batches the uninterrupted run would have drawn next.

Works with a dataloader built from ``batch_size`` + a sampler (mmengine's
``DefaultSampler`` or ``InfiniteSampler``, or any sampler whose order depends
only on its epoch); otherwise it falls back to mmengine's replay with a
warning. Random transforms in dataloader workers draw from the workers'
fresh streams, as after mmengine's replay with a new worker pool; use
per-sample seeds (``TubeMasking(seed=...)``) where bit-exactness matters.
"""
import logging
from typing import Callable, Iterator, Optional

from mmengine.dataset import InfiniteSampler
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator

from ..registry import LOOPS


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` whose resume skips batches without loading
    them. Same arguments as mmengine's loop."""

    def run(self):
        if self._iter > 0 and self._skip_at_sampler(self._iter):
            # the parent's replay loop now pulls placeholders, not batches
            self.dataloader_iterator = _SkipThenIterate(
                self._iter, self._fresh_iterator)
        return super().run()

    def _skip_at_sampler(self, done: int) -> bool:
        loader = self.dataloader
        batch_sampler = getattr(loader, 'batch_sampler', None)
        sampler = getattr(batch_sampler, 'sampler', None)
        batch_size = getattr(batch_sampler, 'batch_size', None)
        if sampler is None or not batch_size:
            print_log('ResumableIterBasedTrainLoop: the dataloader has no '
                      'batch_size/sampler; replaying the skipped batches',
                      logger='current', level=logging.WARNING)
            return False
        if isinstance(sampler, InfiniteSampler):
            self._start_epoch, skip = 0, done * batch_size
            epoch = None
        else:
            per_epoch = len(loader)
            self._start_epoch, within = divmod(done, per_epoch)
            skip, epoch = within * batch_size, self._start_epoch
        batch_sampler.sampler = _SkipFirst(sampler, skip, batch_sampler,
                                           epoch)
        print_log(f'resuming at iteration {done}: skipping {skip} sample '
                  f'indices (epoch {self._start_epoch} of the sampler) '
                  'without loading them', logger='current')
        return True

    def _fresh_iterator(self) -> _InfiniteDataloaderIterator:
        iterator = _InfiniteDataloaderIterator(self.dataloader)
        iterator._epoch = self._start_epoch  # later epochs: set_epoch(+1)
        return iterator


class _SkipFirst:
    """Wraps a sampler: its next pass starts at ``epoch`` (set then, after
    the hooks that reset epochs at the start of training) and drops the
    first ``skip`` indices; then the original sampler is put back in
    ``owner.sampler``."""

    def __init__(self, sampler, skip: int, owner,
                 epoch: Optional[int] = None) -> None:
        self.sampler, self.skip, self.owner = sampler, skip, owner
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        self.owner.sampler = self.sampler  # one pass only
        if self.epoch is not None and hasattr(self.sampler, 'set_epoch'):
            self.sampler.set_epoch(self.epoch)
        indices = iter(self.sampler)
        for _ in range(self.skip):
            if next(indices, None) is None:
                break
        return indices

    def __len__(self) -> int:
        return len(self.sampler)


class _SkipThenIterate:
    """``count`` placeholder batches (None, nothing loaded), then the
    batches of an iterator created only then."""

    def __init__(self, count: int,
                 make: Callable[[], Iterator]) -> None:
        self.count, self.make = count, make
        self._iterator: Optional[Iterator] = None

    def __iter__(self):
        return self

    def __next__(self):
        if self.count > 0:
            self.count -= 1
            return None
        if self._iterator is None:
            self._iterator = self.make()
        return next(self._iterator)
