"""Load time and memory of a WebVid-scale annotation file, with W workers.

Generates (once, reused afterwards) a CSV laid out like WebVid's
``results_10M_train.csv`` (``videoid,contentUrl,duration,page_dir,name``)
with ``--rows`` rows, then for each storage in ``--storages`` and for a
one-row file (the "empty" dataset), in a fresh child process:

1. times ``WebVidDataset(ann_file=...)`` (read + pack);
2. starts a DataLoader with ``--workers`` workers that reads every item once
   in random order (``dataset[i]`` with an empty pipeline: the annotation
   lookup training does per sample), like one epoch touching the whole table;
3. samples ``/proc/<pid>/smaps_rollup`` of the main process and the workers
   every 0.2 s and reports the high-water marks of the summed RSS, PSS
   (shared pages split between the processes that map them) and USS
   (private pages).

"Growth" is each figure minus the same figure for the one-row file, i.e.
what the annotations cost on top of Python, torch and the workers.

Storages: ``table`` is this toolkit's :class:`~simvtp.datasets.caption_table.
CaptionTable`; ``pickled`` is mmengine's default (``serialize_data=True``:
a list of dicts pickled into one byte buffer), kept for comparison.

Summed RSS counts a shared page once per process that touched it, so with
8 workers reading the whole table it over-states real use ~9x for the shared
part; PSS is the honest total.

Example::

    python tools/analysis_tools/benchmark_annotations.py --rows 2500000 \\
        --workers 8 --work-dir work_dirs/bench_annotations
"""
import argparse
import csv
import json
import os
import os.path as osp
import random
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional

GIB = 1024 ** 3
WORDS = ('aerial shot of a winter forest young woman smiling city street at '
         'night traffic timelapse sea waves on the beach sunset close up '
         'hands typing keyboard business man walking office happy family '
         'park slow motion drone view mountains river flowing clouds sky '
         'blue green red background abstract loop animation cooking kitchen '
         'food dog running').split()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--rows', type=int, default=2_500_000)
    p.add_argument('--workers', type=int, default=8)
    p.add_argument('--work-dir', default='work_dirs/bench_annotations',
                   help='where the generated CSVs are kept')
    p.add_argument('--csv', help='use this WebVid CSV instead of generating')
    p.add_argument('--storages', nargs='+', default=['table', 'pickled'],
                   choices=['table', 'pickled'])
    p.add_argument('--batch', type=int, default=2048,
                   help='indices per DataLoader batch (reads are per item)')
    p.add_argument('--json', help='also write the results here')
    p.add_argument('--child', nargs=2, metavar=('CSV', 'STORAGE'),
                   help=argparse.SUPPRESS)
    return p.parse_args(argv)


def write_webvid_csv(path: str, rows: int, seed: int = 0) -> None:
    """A WebVid-like CSV: real column layout, realistic field lengths."""
    rng = random.Random(seed)
    tmp = path + '.tmp'
    with open(tmp, 'w', newline='', encoding='utf-8') as f:
        w = csv.writer(f)
        w.writerow(['videoid', 'contentUrl', 'duration', 'page_dir', 'name'])
        for i in range(rows):
            vid = 1_000_000 + 7 * i
            caption = ' '.join(rng.choice(WORDS) for _ in
                               range(rng.randint(4, 18))).capitalize()
            slug = '-'.join(caption.lower().split()[:6])
            page = (i // 50) * 50 + 1
            w.writerow([
                vid, 'https://ak.picdn.net/shutterstock/videos/'
                f'{vid}/preview/stock-footage-{slug}.mp4',
                f'PT00H00M{rng.randint(5, 59):02d}S',
                f'{page:06d}_{page + 49:06d}', caption])
    os.replace(tmp, path)  # a killed run never leaves a short file behind


def smaps(pid: int) -> Dict[str, int]:
    """Rss, Pss and Uss (private) bytes of one process."""
    out = dict(rss=0, pss=0, uss=0)
    try:
        with open(f'/proc/{pid}/smaps_rollup') as f:
            for line in f:
                key, _, rest = line.partition(':')
                kb = rest.split()
                if not kb or not kb[0].isdigit():
                    continue
                value = int(kb[0]) * 1024
                if key == 'Rss':
                    out['rss'] = value
                elif key == 'Pss':
                    out['pss'] = value
                elif key in ('Private_Clean', 'Private_Dirty'):
                    out['uss'] += value
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


class MemorySampler(threading.Thread):
    """High-water marks of summed RSS/PSS/USS over this process + children."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = dict(rss=0, pss=0, uss=0)
        self.processes = 0
        self._done = threading.Event()

    def sample(self) -> None:
        pids = [os.getpid()] + children(os.getpid())
        total = dict(rss=0, pss=0, uss=0)
        for pid in pids:
            for k, v in smaps(pid).items():
                total[k] += v
        for k in total:
            self.peak[k] = max(self.peak[k], total[k])
        self.processes = max(self.processes, len(pids))

    def run(self) -> None:
        while not self._done.is_set():
            self.sample()
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()
        self.sample()


def children(pid: int) -> List[int]:
    try:
        with open(f'/proc/{pid}/task/{pid}/children') as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def _collate_count(items):
    return len(items)


def child(csv_path: str, storage: str, workers: int, batch: int) -> dict:
    """One measurement in this (fresh) process."""
    import torch
    from torch.utils.data import DataLoader, RandomSampler

    import simvtp  # noqa: F401  (compat fixes)
    from simvtp.datasets import WebVidDataset

    torch.manual_seed(0)
    before = smaps(os.getpid())
    t0 = time.perf_counter()
    if storage == 'table':
        dataset = WebVidDataset(ann_file=csv_path, pipeline=[],
                                data_prefix=dict(video='videos'))
    else:
        dataset = pickled_dataset_class()(
            ann_file=csv_path, pipeline=[], data_prefix=dict(video='videos'))
    load_s = time.perf_counter() - t0
    after_load = smaps(os.getpid())
    sampler = MemorySampler()
    sampler.start()
    loader = DataLoader(dataset, batch_size=batch, num_workers=workers,
                        sampler=RandomSampler(dataset),
                        collate_fn=_collate_count,
                        persistent_workers=workers > 0)
    t1 = time.perf_counter()
    seen = sum(loader)
    read_s = time.perf_counter() - t1
    sampler.sample()  # workers still alive (persistent)
    sampler.stop()
    del loader
    return dict(storage=storage, items=len(dataset), seen=seen,
                load_s=load_s, read_s=read_s, workers=workers,
                processes=sampler.processes,
                main_rss_before=before['rss'],
                main_rss_after_load=after_load['rss'],
                peak=sampler.peak)


def pickled_dataset_class():
    """mmengine's default storage: dicts pickled into one byte buffer."""
    from mmengine.dataset import BaseDataset

    from simvtp.datasets import WebVidDataset

    class PickledWebVidDataset(WebVidDataset):

        def full_init(self):
            if self._fully_initialized:
                return
            table = self.load_table()
            self.data_list = [table.info(i) for i in range(len(table))]
            del table
            self.data_bytes, self.data_address = self._serialize_data()
            self._fully_initialized = True

        def get_data_info(self, idx):
            info = BaseDataset.get_data_info(self, idx)
            info.update(modality=self.modality, start_index=self.start_index)
            return info

        def __len__(self):
            return len(self.data_address)

    return PickledWebVidDataset


def run_child(args, csv_path: str, storage: str) -> dict:
    cmd = [sys.executable, osp.abspath(__file__), '--child', csv_path,
           storage, '--workers', str(args.workers), '--batch',
           str(args.batch)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f'measurement {storage} on {csv_path} failed:\n{out.stderr}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def _gib(x: float) -> str:
    return f'{x / GIB:6.2f}'


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.workers,
                               args.batch)))
        return {}
    os.makedirs(args.work_dir, exist_ok=True)
    big = args.csv or osp.join(args.work_dir, f'webvid_{args.rows}.csv')
    if not osp.exists(big):
        t = time.perf_counter()
        write_webvid_csv(big, args.rows)
        print(f'generated {big} ({osp.getsize(big) / GIB:.2f} GiB) in '
              f'{time.perf_counter() - t:.1f} s')
    empty = osp.join(args.work_dir, 'webvid_1.csv')
    if not osp.exists(empty):
        write_webvid_csv(empty, 1)

    results = []
    for storage in args.storages:
        base = run_child(args, empty, storage)
        full = run_child(args, big, storage)
        growth = {k: full['peak'][k] - base['peak'][k] for k in full['peak']}
        results.append(dict(storage=storage, full=full, empty=base,
                            growth=growth))
    print(f'\n{big}: {results[0]["full"]["items"]} rows, '
          f'{args.workers} workers ({results[0]["full"]["processes"]} '
          f'processes), every item read once in random order')
    print(f'{"storage":<9} {"load s":>7} {"epoch s":>8} '
          f'{"main RSS after load":>20} | growth over the 1-row file, '
          'GiB: {:>7} {:>7} {:>7}'.format('RSS', 'PSS', 'USS'))
    for r in results:
        f = r['full']
        main_growth = f['main_rss_after_load'] - f['main_rss_before']
        print(f'{r["storage"]:<9} {f["load_s"]:7.1f} {f["read_s"]:8.1f} '
              f'{"+" + _gib(main_growth).strip() + " GiB":>20} | '
              f'{"":>31} {_gib(r["growth"]["rss"]):>7} '
              f'{_gib(r["growth"]["pss"]):>7} {_gib(r["growth"]["uss"]):>7}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    return dict(results=results)


if __name__ == '__main__':
    main()
