"""Count broken samples in the main process and stop when there are too many.

:class:`~simvtp.datasets.VideoTextPairDataset` replaces a sample it cannot
read (training) or flags it (testing) inside the dataloader workers, which
are separate processes; the only thing that reaches the main process is the
batch. So the dataset writes what happened into each packed sample's
metainfo and this hook reads it back:

* ``replaced``: ``[(path, reason), ...]`` reads that failed before this
  sample was produced (training);
* ``data_warnings``: ``[(path, reason), ...]`` usable but suspicious samples
  (e.g. a caption that tokenizes to mostly [UNK]);
* ``broken`` / ``broken_reason`` / ``broken_path``: a test-mode placeholder.
"""
import json
import os.path as osp
from collections import Counter
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.dist import all_gather_object, all_reduce, get_dist_info
from mmengine.hooks import Hook

from ...registry import HOOKS

LIKELY_CAUSES = (
    'the data is probably misconfigured rather than a few broken videos: '
    'check that data_prefix.video / data_root points at the videos, that '
    'the annotation column or video_template yields the paths on disk (e.g. '
    "WebVid's '{page_dir}/{videoid}.mp4'), and that the files are readable "
    '(permissions). tools/data/check_videos.py ANN DATA_ROOT writes a '
    'cleaned annotation file')


def _samples_of(data_batch) -> Sequence:
    if isinstance(data_batch, dict):
        samples = data_batch.get('data_samples')
        if isinstance(samples, (list, tuple)):
            return samples
    return ()


def _meta(sample, key, default=None):
    meta = getattr(sample, 'metainfo', None)
    if meta is None and isinstance(sample, dict):
        meta = sample
    return (meta or {}).get(key, default)


@HOOKS.register_module()
class DataHealthHook(Hook):
    """Count replaced / broken samples; fail past a failure ratio.

    Training: after every iteration the marks of the batch are added to this
    rank's counts; every ``interval`` iterations and at the end of each epoch
    the counts are summed over ranks (one ``all_reduce`` of three numbers,
    at the same iterations on every rank) and checked. When more than
    ``max_failure_ratio`` of all sample reads failed (after at least
    ``min_samples`` reads), training stops with a RuntimeError that names
    the likely causes and shows examples. Each epoch end logs the counts and
    the most common reasons. Counts are kept in checkpoints.

    Test / validation: the flagged placeholders are collected from every
    rank, logged as a count and a list (also written to
    ``work_dir/broken_samples_{test,val}.jsonl``) and added to the metrics as
    ``data/broken_samples``.

    Args:
        max_failure_ratio: failed reads / all reads above which training
            stops. Defaults to 0.2.
        min_samples: reads needed before the ratio is checked.
        interval: check every this many iterations (also at epoch ends).
        max_examples: examples shown in messages.
    """

    priority = 'NORMAL'

    def __init__(self, max_failure_ratio: float = 0.2, min_samples: int = 200,
                 interval: int = 50, max_examples: int = 5) -> None:
        if not 0 <= max_failure_ratio <= 1:
            raise ValueError('max_failure_ratio must be in [0, 1], got '
                             f'{max_failure_ratio}')
        self.max_failure_ratio = float(max_failure_ratio)
        self.min_samples = int(min_samples)
        self.interval = int(interval)
        self.max_examples = int(max_examples)
        # global (summed over ranks) counts, equal on every rank
        self.total = dict(samples=0, failures=0, warnings=0)
        self.epoch = dict(samples=0, failures=0, warnings=0)
        # this rank's counts since the last synchronisation
        self._pending = [0, 0, 0]
        self._reasons: Counter = Counter()
        self._examples: List[Tuple[str, str]] = []
        self._eval_broken: List[Tuple[str, str]] = []

    # ------------------------------------------------------------ training
    def after_train_iter(self, runner, batch_idx: int,
                         data_batch=None, outputs=None) -> None:
        for sample in _samples_of(data_batch):
            self._pending[0] += 1
            for path, reason in _meta(sample, 'replaced', ()) or ():
                self._pending[1] += 1
                self._reasons[_reason_kind(reason)] += 1
                if len(self._examples) < self.max_examples:
                    self._examples.append((path, reason))
            self._pending[2] += len(_meta(sample, 'data_warnings', ()) or ())
        if self.every_n_train_iters(runner, self.interval):
            self._sync_and_check(runner)

    def after_train_epoch(self, runner) -> None:
        self._sync_and_check(runner, report=True)
        self.epoch = dict(samples=0, failures=0, warnings=0)

    def _sync_and_check(self, runner, report: bool = False) -> None:
        counts = torch.tensor(self._pending, dtype=torch.float64)
        if get_dist_info()[1] > 1:
            all_reduce(counts)  # same call count on every rank
        self._pending = [0, 0, 0]
        for key, value in zip(('samples', 'failures', 'warnings'),
                              counts.tolist()):
            self.total[key] += int(value)
            self.epoch[key] += int(value)
        if report:
            self._log_epoch(runner)
        reads = self.total['samples'] + self.total['failures']
        if reads < max(self.min_samples, 1):
            return
        ratio = self.total['failures'] / reads
        if ratio <= self.max_failure_ratio:
            return
        examples = self._gather_examples()
        shown = '\n'.join(f'  {p}: {r}' for p, r in examples)
        raise RuntimeError(
            f'DataHealthHook: {ratio:.1%} of sample reads failed '
            f'({self.total["failures"]} of {reads}), more than '
            f'max_failure_ratio={self.max_failure_ratio:g}; '
            f'{LIKELY_CAUSES}. Reasons so far: {dict(self._reasons)}. '
            f'Examples:\n{shown}')

    def _gather_examples(self) -> List[Tuple[str, str]]:
        examples = list(self._examples)
        if get_dist_info()[1] > 1:  # every rank raises at the same check
            examples = [e for part in all_gather_object(examples)
                        for e in part]
        return examples[:self.max_examples]

    def _log_epoch(self, runner) -> None:
        e, t = self.epoch, self.total
        reads = e['samples'] + e['failures']
        ratio = e['failures'] / reads if reads else 0.0
        message = (f'data health: this epoch {e["samples"]} samples, '
                   f'{e["failures"]} failed reads replaced ({ratio:.2%}), '
                   f'{e["warnings"]} caption warnings; in total '
                   f'{t["samples"]} samples, {t["failures"]} failed reads')
        if self._reasons:
            message += f'; reasons on rank 0: {dict(self._reasons)}'
        if e['failures'] or e['warnings']:
            runner.logger.warning(message)
        else:
            runner.logger.info(message)
        runner.message_hub.update_info('data_health', dict(self.total))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})['data_health'] = dict(self.total)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('meta', {}).get('data_health')
        if isinstance(saved, dict):
            for key in self.total:
                self.total[key] = int(saved.get(key, 0))

    # --------------------------------------------------- test / validation
    def before_val_epoch(self, runner) -> None:
        self._eval_broken = []

    def before_test_epoch(self, runner) -> None:
        self._eval_broken = []

    def after_val_iter(self, runner, batch_idx, data_batch=None,
                       outputs=None) -> None:
        self._collect_broken(data_batch)

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        self._collect_broken(data_batch)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._report_broken(runner, 'val', metrics)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._report_broken(runner, 'test', metrics)

    def _collect_broken(self, data_batch) -> None:
        for sample in _samples_of(data_batch):
            if _meta(sample, 'broken', False):
                self._eval_broken.append(
                    (str(_meta(sample, 'broken_path', '?')),
                     str(_meta(sample, 'broken_reason', '?'))))

    def _report_broken(self, runner, mode: str, metrics) -> None:
        broken = self._eval_broken
        rank, world = get_dist_info()
        if world > 1:
            broken = [b for part in all_gather_object(broken) for b in part]
        if isinstance(metrics, dict):
            metrics['data/broken_samples'] = len(broken)
        # RuntimeInfoHook already moved the metrics into the message hub
        runner.message_hub.update_scalar(f'{mode}/data/broken_samples',
                                         len(broken))
        if not broken:
            return
        listing = '\n'.join(f'  {p}: {r}' for p, r in broken)
        runner.logger.warning(
            f'{len(broken)} {mode} sample(s) could not be read; they were '
            f'evaluated on placeholder frames (chance level for retrieval; '
            f'the {mode} set keeps its size and order):\n{listing}')
        if rank == 0:
            path = osp.join(runner.work_dir, f'broken_samples_{mode}.jsonl')
            with open(path, 'w') as f:
                for p, r in broken:
                    f.write(json.dumps(dict(path=p, reason=r)) + '\n')


def _reason_kind(reason: str) -> str:
    """The reason without its details, for counting."""
    return reason.split(' (', 1)[0].split(':', 1)[0]
