"""Resume a streaming dataset where training stopped, without reading the
trained part again.

An ``IterableDataset`` has no sample indices, so
:class:`~simvtp.engine.loops.ResumableIterBasedTrainLoop`'s index-level
skip cannot reach it: without this hook the resumed stream starts again at
its first epoch. With it, the dataset is told (``resume_at``) how many
batches were drawn before its dataloader iterator is created anew, and
skips them from its shard counts (see
:class:`~simvtp.datasets.WebVidShardDataset`).

mmengine's ``IterBasedTrainLoop`` instead replays the trained batches
through the dataloader it already started (exact, but every skipped clip
is read and decoded again); the hook then only says so.
"""
import logging

from mmengine.hooks import Hook
from mmengine.logging import print_log

from ...registry import HOOKS


@HOOKS.register_module()
class StreamResumeHook(Hook):
    """On resume, move a streaming train dataset (one with ``resume_at``)
    past the trained batches. Needs ``train_cfg.type=
    'ResumableIterBasedTrainLoop'``; does nothing on a fresh start."""

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        done = runner.iter
        loop = runner.train_loop
        loader = getattr(loop, 'dataloader', None)
        dataset = getattr(loader, 'dataset', None)
        if not done or not hasattr(dataset, 'resume_at'):
            return
        from ..loops import ResumableIterBasedTrainLoop
        batch_size = getattr(loader, 'batch_size', None)
        if not isinstance(loop, ResumableIterBasedTrainLoop) or \
                not batch_size:
            print_log(
                f'StreamResumeHook: {type(loop).__name__} replays the '
                f'{done} trained batches through the stream (exact, but '
                'they are decoded again); train_cfg.type='
                "'ResumableIterBasedTrainLoop' (with a batch_size) skips "
                'them instead', logger='current', level=logging.WARNING)
            return
        dataset.resume_at(done, batch_size)
        print_log(f'StreamResumeHook: {type(dataset).__name__} resumes after '
                  f'{done} batches of {batch_size} per rank, skipping trained '
                  'shards unread', logger='current')
