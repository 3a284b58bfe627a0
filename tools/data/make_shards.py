"""Pack the videos of an annotation file into WebDataset tar shards.

    python tools/data/make_shards.py ANN DATA_ROOT OUT --samples-per-shard 1000
        [--short-side 256 --gop 16] [--workers 8] [--verify]

Each shard holds ``--samples-per-shard`` videos with their captions and
metadata (layout: ``simvtp/datasets/shard_format.py``); ``OUT/manifest.json``
lists the shards with their video/caption counts, sizes and SHA-256, and is
what ``WebVidShardDataset(manifest=...)`` reads. ``ANN`` is any format the
readers understand (see ``convert_annotations.py``); ``DATA_ROOT`` is where
its video paths point (``data_prefix.video``).

Videos are shuffled before sharding (``--shuffle-seed``; -1 keeps the
annotation's order) so a shard is a random sample of the data. With
``--short-side``/``--gop`` each video is re-encoded on the way with
``tools/data/resize_videos.py``'s step. A video that is missing, empty or
(with ``--validate`` or re-encoding) undecodable is left out and listed in
``OUT/skipped.jsonl``.

Resumable per shard: a shard is written to a temporary name and renamed,
then its record (``shard-XXXXXX.json``) is written; a re-run skips shards
with a record and a tar of the recorded size (``--verify``: and checksum)
and rebuilds the manifest. The options are kept in ``OUT/make_shards.json``;
re-running with other options is refused (``--overwrite`` starts over).
"""
import argparse
import json
import multiprocessing
import os
import os.path as osp
import sys
import time
from typing import List, Optional, Tuple

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

import numpy as np  # noqa: E402
from convert_annotations import FORMATS, open_annotation  # noqa: E402

from simvtp.datasets.shard_format import (FORMAT, MANIFEST,  # noqa: E402
                                          save_json, sha256_file,
                                          shard_name, video_sample,
                                          write_shard)

PARAMS = 'make_shards.json'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('ann', help='annotation file (any supported format)')
    p.add_argument('data_root', help='folder the video paths are relative to')
    p.add_argument('out', help='output folder for shards and manifest')
    p.add_argument('--samples-per-shard', type=int, default=1000,
                   help='videos per shard')
    p.add_argument('--format', default='auto', choices=('auto',) + FORMATS)
    p.add_argument('--shuffle-seed', type=int, default=0,
                   help='shuffle videos before sharding; -1: keep order')
    p.add_argument('--short-side', type=int, default=0,
                   help='re-encode with this shorter side (0: keep files)')
    p.add_argument('--gop', type=int, default=0,
                   help='re-encode with this keyframe interval (0: keep)')
    p.add_argument('--crf', type=int, default=23)
    p.add_argument('--preset', default='veryfast')
    p.add_argument('--validate', action='store_true',
                   help='leave out videos whose first/last frame does not '
                   'decode (re-encoding always checks)')
    p.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                   help='shards written in parallel')
    p.add_argument('--verify', action='store_true',
                   help='check the checksum of existing shards')
    p.add_argument('--overwrite', action='store_true',
                   help='start over even if OUT holds other shards')
    p.add_argument('--video-template', default='{page_dir}/{videoid}.mp4')
    p.add_argument('--split', help='msrvtt-json: keep this split')
    p.add_argument('--video-list', help='keep only these video ids')
    p.add_argument('--video-ext', default='.mp4')
    return p.parse_args(argv)


# ---------------------------------------------------------------- workers
_STATE = {}  # the dataset and options, inherited by forked workers


def _read_video(index: int, tmp_dir: str) -> Tuple[Optional[dict],
                                                     Optional[str]]:
    """``(sample, None)`` or ``(None, reason)``."""
    dataset, opts = _STATE['dataset'], _STATE['opts']
    info = dataset.get_data_info(index)  # paths as in the annotation
    video, captions = info['filename'], list(info['text'])
    path = video if osp.isabs(video) else osp.join(_STATE['root'], video)
    meta = dict(text_ids=[int(t) for t in info['text_id']])
    try:
        if os.path.getsize(path) == 0:
            return None, 'empty file'
    except FileNotFoundError:
        return None, 'missing file'
    except OSError as e:
        return None, f'cannot stat ({e.strerror})'
    ext = osp.splitext(path)[1] or '.mp4'
    if opts['reencode']:
        from simvtp.utils.video_encoding import reencode
        out = osp.join(tmp_dir, f'{index}.mp4')
        try:
            result = reencode(path, out, **opts['reencode'])
        except Exception as exc:  # noqa: BLE001 - one bad file
            text = ' '.join(str(exc).split())[:160]
            return None, f're-encoding failed ({type(exc).__name__}: {text})'
        meta.update(width=result['width'], height=result['height'],
                    fps=result['fps'])
        path, ext = out, '.mp4'
    elif opts['validate']:
        from downloader import probe_video
        reason = probe_video(path, 'frames')
        if reason:
            return None, reason
    with open(path, 'rb') as f:
        data = f.read()
    if opts['reencode']:
        os.remove(path)
    return video_sample(index, video, captions, data, ext, **meta), None


def _write(task: Tuple[int, List[int]]) -> Tuple[int, dict]:
    shard, indices = task
    out = _STATE['out']
    tmp_dir = osp.join(out, f'.tmp-{shard_name(shard)}')
    os.makedirs(tmp_dir, exist_ok=True)
    skipped = []

    def samples():
        for index in indices:
            sample, reason = _read_video(int(index), tmp_dir)
            if sample is None:
                video = _STATE['dataset'].get_data_info(int(index))[
                    'filename']
                skipped.append(dict(index=int(index), video=video,
                                    reason=reason))
            else:
                yield sample

    name = shard_name(shard)
    record = write_shard(osp.join(out, name), samples())
    os.rmdir(tmp_dir)
    record = dict(name=name, **record, skipped=len(skipped),
                  skipped_videos=skipped)
    save_json(osp.join(out, name[:-4] + '.json'), record)
    return shard, record


# ------------------------------------------------------------------- main
def _done(out: str, shard: int, verify: bool) -> Optional[dict]:
    """The shard's record if it is complete, else None."""
    name = shard_name(shard)
    record_path = osp.join(out, name[:-4] + '.json')
    tar = osp.join(out, name)
    if not (osp.exists(record_path) and osp.exists(tar)):
        return None
    with open(record_path, encoding='utf-8') as f:
        try:
            record = json.load(f)
        except json.JSONDecodeError:
            return None
    if os.path.getsize(tar) != record.get('bytes'):
        return None
    if verify and sha256_file(tar) != record.get('sha256'):
        print(f'{tar}: checksum mismatch, rewriting it')
        return None
    return record


def check_params(out: str, params: dict, overwrite: bool) -> None:
    path = osp.join(out, PARAMS)
    if osp.exists(path) and not overwrite:
        with open(path, encoding='utf-8') as f:
            old = json.load(f)
        changed = sorted(k for k in set(old) | set(params)
                         if old.get(k) != params.get(k))
        if changed:
            raise SystemExit(
                f'{out} holds shards made with other options '
                f'({", ".join(f"{k}: {old.get(k)!r} -> {params.get(k)!r}" for k in changed)}); '  # noqa: E501
                'use another folder or --overwrite')
    if overwrite:
        for name in os.listdir(out):
            if name.startswith('shard-') or name in (MANIFEST, PARAMS):
                os.remove(osp.join(out, name))
    save_json(path, params)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.samples_per_shard < 1:
        raise SystemExit('--samples-per-shard must be >= 1')
    reencode = None
    if args.short_side or args.gop:
        from simvtp.utils.video_encoding import import_av
        import_av()
        reencode = dict(short_side=args.short_side or None,
                        gop=args.gop or 250, crf=args.crf,
                        preset=args.preset)
    dataset = open_annotation(
        args.ann, args.format, data_root='', per_video=True,
        video_template=args.video_template, split=args.split,
        video_list=args.video_list, video_ext=args.video_ext)
    count = len(dataset)
    order = np.arange(count)
    if args.shuffle_seed >= 0:
        order = np.random.default_rng(args.shuffle_seed).permutation(count)
    per = args.samples_per_shard
    num_shards = (count + per - 1) // per
    os.makedirs(args.out, exist_ok=True)
    params = dict(annotation=osp.abspath(args.ann),
                  annotation_sha256=sha256_file(args.ann),
                  data_root=osp.abspath(args.data_root),
                  samples_per_shard=per, shuffle_seed=args.shuffle_seed,
                  reencode=reencode, validate=args.validate,
                  format=args.format, video_template=args.video_template,
                  split=args.split, video_list=args.video_list,
                  video_ext=args.video_ext)
    check_params(args.out, params, args.overwrite)

    records = {s: _done(args.out, s, args.verify) for s in range(num_shards)}
    tasks = [(s, order[s * per:(s + 1) * per].tolist())
             for s, r in records.items() if r is None]
    print(f'{args.ann}: {count} videos -> {num_shards} shards of {per} in '
          f'{args.out}; {num_shards - len(tasks)} already done, writing '
          f'{len(tasks)} with {args.workers} worker(s)')
    _STATE.update(dataset=dataset, out=args.out, root=args.data_root,
                  opts=dict(reencode=reencode, validate=args.validate))
    start = time.perf_counter()
    from tqdm import tqdm
    bar = tqdm(total=len(tasks), unit='shard', dynamic_ncols=True)
    if args.workers > 1 and len(tasks) > 1:
        ctx = multiprocessing.get_context('fork')
        with ctx.Pool(min(args.workers, len(tasks))) as pool:
            for shard, record in pool.imap_unordered(_write, tasks):
                records[shard] = record
                bar.update()
    else:
        for task in tasks:
            shard, record = _write(task)
            records[shard] = record
            bar.update()
    bar.close()

    shards = [records[s] for s in range(num_shards)]
    skipped = [v for r in shards for v in r.get('skipped_videos', [])]
    with open(osp.join(args.out, 'skipped.jsonl'), 'w',
              encoding='utf-8') as f:
        for entry in skipped:
            f.write(json.dumps(entry, ensure_ascii=False) + '\n')
    manifest = dict(
        format=FORMAT, annotation=params['annotation'], options=params,
        num_shards=num_shards,
        num_videos=sum(r['videos'] for r in shards),
        num_captions=sum(r['captions'] for r in shards),
        skipped=len(skipped),
        shards=[{k: r[k] for k in ('name', 'videos', 'captions', 'bytes',
                                   'sha256', 'skipped')} for r in shards])
    save_json(osp.join(args.out, MANIFEST), manifest)
    size = sum(r['bytes'] for r in shards)
    print(f'{manifest["num_videos"]} videos, {manifest["num_captions"]} '
          f'captions in {num_shards} shards ({size / 1e9:.2f} GB) in '
          f'{time.perf_counter() - start:.1f} s; {len(skipped)} video(s) '
          f'left out (listed in {osp.join(args.out, "skipped.jsonl")})')
    print(f'manifest: {osp.join(args.out, MANIFEST)}')
    return manifest


if __name__ == '__main__':
    main()
