"""Video-caption pairs streamed from WebDataset tar shards.

At WebVid scale reading millions of small files is slow on shared
filesystems; ``tools/data/make_shards.py`` packs the videos of an
annotation file into tar shards of ~1000 videos (layout:
:mod:`~simvtp.datasets.shard_format`) and this dataset streams them.

Work split: every epoch the shard list is permuted with ``(seed, epoch)``
(the same permutation in every process) and shard ``i`` of it goes to
consumer ``i % (world_size * num_workers)``, consumer ``rank * num_workers
+ worker_id``: each shard is read by exactly one dataloader worker of one
rank per epoch, so every sample is seen exactly once per epoch. Rank and
world size come from ``torch.distributed`` or, inside dataloader workers
(where it is not initialised), from the ``RANK``/``WORLD_SIZE`` environment
that torchrun and mmengine's Slurm launcher set; pass them explicitly to
override.

Within a consumer, pairs pass through a shuffle buffer
(``webdataset.shuffle``, seeded by ``(seed, epoch, consumer)``), then the
file dataset's pipeline, its ``DecordInit`` step run as ``DecordInitBytes``
(decord opens the in-memory bytes exactly as ``DecordInit`` opens a file's
bytes), so the clips are those the file dataset decodes.

Broken samples (an undecodable video, an empty caption, a corrupt shard)
never stop training: the sample is skipped, its ``shard:key (video)`` and
reason logged once, and recorded as ``replaced=[(where, reason), ...]`` in
the metainfo of the next sample this worker yields, which is what
:class:`~simvtp.engine.hooks.DataHealthHook` counts (and stops on when too
many reads fail). ``max_consecutive_failures`` failures in a row mean the
data or the pipeline is wrong: the worker raises with examples.

With ``repeat=True`` (training) each worker streams epoch after epoch
without end (what iteration-based training wants; the loop decides when to
stop); ``len()`` is then the nominal epoch length per rank (all pairs /
world size), used by schedulers and loggers. With ``repeat=False`` one
iteration is one epoch; ranks may then get different numbers of samples
(shards are not split), so use it for tools, not for DDP training.

Resuming (:meth:`WebVidShardDataset.resume_at`, called by
:class:`~simvtp.engine.hooks.StreamResumeHook`): each worker works out how
many samples it yielded in the trained batches (the DataLoader takes
batches from its workers in turn), skips whole epochs and shards from the
manifest's counts without reading them, and the rest of a shard by reading
but not decoding. Exact without a shuffle buffer; with one, the resumed
order differs from the uninterrupted run's within one buffer's worth of
samples. The request reaches workers that already exist (persistent ones)
through a small file in the temporary folder, read when they start their
next pass.
"""
import atexit
import json
import logging
import os
import tempfile
import uuid
import warnings
from typing import Callable, Iterator, List, Optional, Tuple, Union

import numpy as np
from mmengine.dataset import Compose
from mmengine.logging import print_log
from torch.utils.data import IterableDataset, get_worker_info

from ..registry import DATASETS
from .broken_sample_guard import is_data_error
from .sample_marks import BrokenSampleError, describe_failure, mark
from .shard_format import load_manifest, read_shard

# pipeline steps that read a file by name: they would ignore the bytes
FILE_INIT_STEPS = ('PyAVInit', 'OpenCVInit')


@DATASETS.register_module()
class WebVidShardDataset(IterableDataset):
    """Stream (video, caption) samples from shards written by
    ``tools/data/make_shards.py``.

    Args:
        manifest: the shards' ``manifest.json`` (or its folder).
        pipeline: the data pipeline; it opens the video with
            ``DecordInitBytes`` (a ``DecordInit`` step is turned into one,
            so the file dataset's pipeline works as it is).
        per_video: one item per video with every caption (``text`` a list)
            instead of one per (video, caption) pair.
        shuffle_shards: permute the shards every epoch.
        shuffle_buffer: pairs held for shuffling (1 or 0: stream order).
            Memory: about ``shuffle_buffer`` x the mean video size per
            worker (WebVid: ~2.5 MB a video).
        shuffle_initial: pairs buffered before the first one is yielded.
        seed: seeds the shard permutation and the buffers.
        repeat: stream epochs without end (training); False: one epoch.
        rank, world_size: override the distributed setting.
        max_consecutive_failures: a worker raises after this many broken
            samples in a row.
        max_shards: read only the first ``max_shards`` shards (quick runs).
    """

    def __init__(self,
                 manifest: str,
                 pipeline: List[Union[dict, Callable]] = [],
                 per_video: bool = False,
                 shuffle_shards: bool = True,
                 shuffle_buffer: int = 1000,
                 shuffle_initial: int = 100,
                 seed: int = 0,
                 repeat: bool = True,
                 rank: Optional[int] = None,
                 world_size: Optional[int] = None,
                 max_consecutive_failures: int = 100,
                 max_shards: Optional[int] = None) -> None:
        super().__init__()
        self.manifest_path = manifest
        info = load_manifest(manifest)
        shards = info['shards'][:max_shards] if max_shards else info['shards']
        root = info['root']
        self.shards = [os.path.join(root, s['name']) for s in shards]
        missing = [p for p in self.shards if not os.path.exists(p)]
        if missing:
            raise FileNotFoundError(
                f'{manifest}: {len(missing)} shard(s) listed in the manifest '
                f'do not exist, e.g. {missing[0]}')
        self.num_videos = sum(s['videos'] for s in shards)
        self.num_texts = sum(s['captions'] for s in shards)
        self.per_video = bool(per_video)
        # items per shard, to skip shards without reading them
        self._counts = {path: s['videos' if per_video else 'captions']
                        for path, s in zip(self.shards, shards)}
        self.shuffle_shards = bool(shuffle_shards)
        self.shuffle_buffer = int(shuffle_buffer)
        self.shuffle_initial = int(shuffle_initial)
        self.seed = int(seed)
        self.repeat = bool(repeat)
        self.rank, self.world_size = rank, world_size
        self.max_consecutive_failures = int(max_consecutive_failures)
        self.pipeline = Compose(pipeline)
        self._check_pipeline()
        self._epoch = 0
        # known before dataloader workers fork, so they can read it later
        self._resume_file = os.path.join(
            tempfile.gettempdir(),
            f'simvtp-stream-resume-{os.getpid()}-{uuid.uuid4().hex}.json')
        self._resume_applied: Optional[str] = None
        self._role_shift = 0
        self._pending: List[Tuple[str, str]] = []
        self._consecutive = 0
        self._reported = set()
        self.metainfo = dict(manifest=manifest, num_videos=self.num_videos,
                             num_texts=self.num_texts)

    def _check_pipeline(self) -> None:
        """mmaction's ``DecordInit`` becomes ``DecordInitBytes`` (same
        reader, same frames, the bytes from memory), so a file dataset's
        pipeline works unchanged; other file-opening steps are refused."""
        from .transforms import DecordInitBytes
        steps = self.pipeline.transforms
        for i, step in enumerate(steps):
            name = type(step).__name__
            if name == 'DecordInit':
                steps[i] = DecordInitBytes(num_threads=step.num_threads)
            elif name in FILE_INIT_STEPS:
                raise ValueError(
                    f'{type(self).__name__}: pipeline step {i} is {name}, '
                    'which opens videos by file name; shard samples are in '
                    "memory: use dict(type='DecordInitBytes') (or "
                    'DecordInit, which becomes it)')

    # ----------------------------------------------------------- sizes
    def dist_info(self) -> Tuple[int, int]:
        """``(rank, world_size)`` of this process (see the module doc)."""
        if self.rank is not None or self.world_size is not None:
            return int(self.rank or 0), int(self.world_size or 1)
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return (int(os.environ.get('RANK', 0)),
                int(os.environ.get('WORLD_SIZE', 1)))

    def __len__(self) -> int:
        """Nominal items per rank per epoch (all of them / world size)."""
        if self.repeat:
            # the stream is longer than one epoch on purpose; torch would
            # warn about it at every batch past this length
            warnings.filterwarnings(
                'ignore', message='Length of IterableDataset',
                category=UserWarning)
        total = self.num_videos if self.per_video else self.num_texts
        return total // self.dist_info()[1]

    def set_epoch(self, epoch: int) -> None:
        """Start the next iteration at ``epoch`` (workers that are not
        persistent get the dataset anew each epoch, with this value)."""
        self._epoch = int(epoch)

    def resume_at(self, batches: int, batch_size: int) -> None:
        """The stream's next pass (in every dataloader worker of this rank,
        persistent or new) starts after ``batches`` batches of
        ``batch_size`` were drawn from it since the first epoch."""
        state = dict(token=uuid.uuid4().hex, batches=int(batches),
                     batch_size=int(batch_size))
        tmp = f'{self._resume_file}.tmp'
        with open(tmp, 'w') as f:
            json.dump(state, f)
        if not os.path.exists(self._resume_file):
            atexit.register(_remove, self._resume_file)
        os.replace(tmp, self._resume_file)

    def _take_resume(self) -> Optional[Tuple[int, int]]:
        """``(batches, batch_size)`` of a :meth:`resume_at` call this copy
        of the dataset has not applied yet, else None."""
        try:
            with open(self._resume_file) as f:
                state = json.load(f)
        except (OSError, ValueError):
            return None
        if state['token'] == self._resume_applied:
            return None
        self._resume_applied = state['token']
        return state['batches'], state['batch_size']

    # ------------------------------------------------------- iteration
    def __iter__(self) -> Iterator[dict]:
        rank, world = self.dist_info()
        worker = get_worker_info()
        wid, workers = (worker.id, worker.num_workers) if worker else (0, 1)
        if len(self.shards) < world:
            raise RuntimeError(
                f'{self.manifest_path}: {len(self.shards)} shard(s) for '
                f'{world} ranks: every rank needs at least one (write '
                'smaller shards with make_shards.py --samples-per-shard)')
        if len(self.shards) < world * workers and wid == 0 and rank == 0:
            print_log(f'{type(self).__name__}: {len(self.shards)} shards for '
                      f'{world} rank(s) x {workers} worker(s): some workers '
                      'get no shard and stay idle', logger='current',
                      level=logging.WARNING)
        # a DataLoader takes batches from its workers in turn, 0, 1, ...;
        # after k batches the next one was due from worker k % W, but a
        # new iterator asks worker 0 first: roles rotate by k
        skip, resume = 0, self._take_resume()
        if resume is not None:
            batches, batch_size = resume
            self._epoch, self._role_shift = 0, batches % workers
        role = (wid + self._role_shift) % workers
        if resume is not None:  # the batches this role delivered
            skip = max(0, (batches - role + workers - 1) // workers) * \
                batch_size
        consumer, consumers = rank * workers + role, world * workers
        while True:
            epoch = self._epoch
            self._epoch += 1  # persistent workers: the next call goes on
            shards = self.epoch_shards(epoch, consumer, consumers)
            total = sum(self._counts[s] for s in shards)
            if skip and total and skip >= total and self.repeat:
                skip -= total  # a whole epoch already trained on
                continue
            produced = 0
            for data in self._epoch_stream(shards, epoch, consumer, skip):
                produced += 1
                yield data
            skip = 0
            if not self.repeat or not produced:
                return

    def epoch_shards(self, epoch: int, consumer: int,
                     consumers: int) -> List[str]:
        """The shards consumer ``consumer`` of ``consumers`` reads in
        ``epoch``."""
        order = np.arange(len(self.shards))
        if self.shuffle_shards:
            order = np.random.default_rng([self.seed, epoch]).permutation(
                order)
        return [self.shards[i] for i in order[consumer::consumers]]

    def _epoch_stream(self, shards: List[str], epoch: int, consumer: int,
                      skip: int = 0) -> Iterator[dict]:
        items = self._items(shards, skip)
        if self.shuffle_buffer > 1:
            import random

            from webdataset import shuffle
            state = np.random.SeedSequence([self.seed, epoch, consumer])
            rng = random.Random(int(state.generate_state(1)[0]))
            items = shuffle(self.shuffle_buffer, self.shuffle_initial,
                            rng=rng)(items)
        for item in items:
            data = self._prepare(*item)
            if data is not None:
                yield data

    def _items(self, shards: List[str],
               skip: int = 0) -> Iterator[Tuple[dict, int]]:
        """``(video record, caption index or -1 for all)``, after the
        first ``skip`` items (whole shards skipped unread)."""
        for shard in shards:
            if skip >= self._counts[shard]:
                skip -= self._counts[shard]
                continue
            for record in read_shard(shard, self._failed):
                record['shard'] = shard
                captions = [-1] if self.per_video else range(
                    len(record['captions']))
                for j in captions:
                    if skip:
                        skip -= 1
                    else:
                        yield record, j

    # ------------------------------------------------- one sample
    def _prepare(self, record: dict, j: int) -> Optional[dict]:
        where = f'{record["shard"]}:{record["key"]} ({record["video"]})'
        captions = record['captions'] if j < 0 else [record['captions'][j]]
        text_ids = record.get('text_ids') or [-1] * len(record['captions'])
        if not captions or any(not isinstance(c, str) or not c.strip()
                               for c in captions):
            self._failed(where, 'empty or whitespace-only caption')
            return None
        info = dict(video_bytes=record['data'], filename=record['video'],
                    text=captions if j < 0 else captions[0],
                    video_id=int(record['index']),
                    text_id=text_ids if j < 0 else text_ids[j],
                    shard=record['shard'], key=record['key'],
                    modality='RGB', start_index=0)
        try:
            data = self.pipeline(info)
            if data is None:
                raise BrokenSampleError('the pipeline returned None')
        except Exception as exc:  # one broken sample must not end training
            if not is_data_error(exc):  # a bug or a wrong config: raise
                raise
            self._failed(where, describe_failure(exc))
            return None
        self._consecutive = 0
        if self._pending:
            mark(data, replaced=self._pending)
            self._pending = []
        return data

    def _failed(self, where: str, reason: str) -> None:
        self._pending.append((where, reason))
        self._consecutive += 1
        if where not in self._reported:
            self._reported.add(where)
            print_log(f'{type(self).__name__}: {where} cannot be used: '
                      f'{reason}; skipped', logger='current',
                      level=logging.WARNING)
        if self._consecutive >= self.max_consecutive_failures:
            shown = '; '.join(f'{w}: {r}' for w, r in self._pending[-5:])
            raise RuntimeError(
                f'{type(self).__name__}({self.manifest_path}): '
                f'{self._consecutive} samples in a row could not be used '
                f'(max_consecutive_failures={self.max_consecutive_failures})'
                f': {shown}. The shards or the pipeline config are wrong '
                '(check the pipeline, and that the shards were written '
                'completely: make_shards.py --verify).')


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


__all__ = ['WebVidShardDataset']
