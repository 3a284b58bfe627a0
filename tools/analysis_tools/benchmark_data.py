"""Clips/s of the pre-training data pipeline vs a reference-style one and
the raw decode limit, on WebVid-like H.264 clips that the script generates.

Clips: ``--videos`` files of 10-30 s (``--min-seconds``/``--max-seconds``),
596x336, 25 fps, H.264 (libx264 via PyAV, keyframe every ``--gop`` frames:
FFmpeg's default 250, i.e. one every 10 s, unless told otherwise), a panning
texture with a moving object and sensor noise. Generated once into
``--work-dir`` and reused; the bitrate is printed.

File variants (``--variants``), made from those clips with the same function
as ``tools/data/resize_videos.py``:

``native``      the clips as generated;
``short256``    shorter side 256 (455x256), same keyframe interval;
``gop16``       native size, a keyframe every 16 frames;
``short256_gop16``  both.

Methods, each reading one clip (``SampleFrames`` of the config: e.g. 16
frames, interval 4) per opened video, with the same frame indices for the
same sample number:

``raw``         the decode limit: ``decord.VideoReader`` (1 thread) +
                ``get_batch`` of the clip's indices, nothing else;
``reference``   the authors' style: decode at native resolution, one PIL
                image per frame, multi-scale corner crop + bilinear resize
                per frame in PIL, stack, float tensor, normalise, tube mask
                (text is tokenised in their training loop, not here);
``ours``        this toolkit's real pipeline: ``WebVidDataset`` with the
                config's ``train_pipeline`` (DecordInit, SampleFrames,
                DecordDecode, MultiScaleCrop, Resize, Flip, FormatShape,
                TubeMasking, TokenizeText, TextMasking, PackVideoTextInputs;
                normalisation happens in the model's data preprocessor);
``ours_k<K>``   (``--clips-per-video K ...``) the real pipeline reading K
                clips per opened video (``MultiClipDecode``: one decoder call
                for all K; clips/s counts clips, decoded/clip divides the
                decoded span by K)
``ours_keyframe``  the same with ``KeyframeSampleFrames(max_lead=...)``
                instead of ``SampleFrames`` (clip starts within ``max_lead``
                frames after a keyframe).
``raw_torchcodec`` / ``ours_torchcodec``  (ask for them with ``--methods``)
                ``raw`` and ``ours`` with torchcodec instead of decord
                (``TorchCodecReader`` with 1 FFmpeg thread; the pipeline's
                decord steps swapped by ``with_torchcodec``): the same
                frame indices, side by side with the decord methods.

Per worker: the methods are timed sample by sample, interleaved (the order
rotates), in this process with one thread each. With W workers
(``--workers``): a ``DataLoader`` with W processes reads ``--samples`` clips
per method (one after the other, after a warm-up batch). "vs ref" / "vs
raw" compare with the same files; "vs native ref" / "vs native raw" with the
reference / raw decode on the original files. "decoded/clip" is
the number of frames the decoder had to produce per clip: from the keyframe
before the first index to the last index.

Example::

    python tools/analysis_tools/benchmark_data.py --videos 12 --samples 48 \\
        --workers 2
    # decord vs torchcodec on the same clips
    python tools/analysis_tools/benchmark_data.py --methods raw \\
        raw_torchcodec ours ours_torchcodec --variants native short256_gop16
"""
import argparse
import csv
import json
import os
import os.path as osp
import statistics
import sys
import time
from typing import Dict, List, Optional

import numpy as np

METHODS = ('raw', 'reference', 'ours', 'ours_keyframe')
#: decoder comparison (needs torchcodec + FFmpeg libraries): not by default
TORCHCODEC_METHODS = ('raw_torchcodec', 'ours_torchcodec')
VARIANTS = dict(native=dict(short_side=None, gop=None),
                short256=dict(short_side=256, gop=None),
                gop16=dict(short_side=None, gop=16),
                short256_gop16=dict(short_side=256, gop=16))
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default='configs/simvtp/pretrain_vitb.py',
                   help='whose train_pipeline is "ours"')
    p.add_argument('--tokenizer', help='local tokenizer folder (default: a '
                   'WordPiece vocabulary trained on the generated captions)')
    p.add_argument('--work-dir', default='work_dirs/bench_data')
    p.add_argument('--videos', type=int, default=12)
    p.add_argument('--min-seconds', type=float, default=10)
    p.add_argument('--max-seconds', type=float, default=30)
    p.add_argument('--fps', type=float, default=25)
    p.add_argument('--size', default='596x336', help='WIDTHxHEIGHT')
    p.add_argument('--gop', type=int, default=250,
                   help='keyframe interval of the generated clips')
    p.add_argument('--crf', type=int, default=20)
    p.add_argument('--samples', type=int, default=48,
                   help='clips timed per method and variant')
    p.add_argument('--variants', nargs='+', default=list(VARIANTS),
                   choices=list(VARIANTS))
    p.add_argument('--methods', nargs='+', default=list(METHODS),
                   choices=list(METHODS) + list(TORCHCODEC_METHODS))
    p.add_argument('--clips-per-video', type=int, nargs='*', default=[],
                   metavar='K', help='also time the pipeline reading K clips '
                   'per opened video (methods ours_k<K>)')
    p.add_argument('--max-lead', type=int, default=0,
                   help='KeyframeSampleFrames.max_lead for ours_keyframe')
    p.add_argument('--workers', type=int, nargs='*', default=[2],
                   help='DataLoader worker counts to measure (none: skip)')
    p.add_argument('--worker-samples', type=int, default=None,
                   help='clips per method read with DataLoader workers '
                   '(default: --samples)')
    p.add_argument('--worker-variants', nargs='+',
                   default=['native', 'short256_gop16'],
                   choices=list(VARIANTS))
    p.add_argument('--json', help='also write the results here')
    return p.parse_args(argv)


# ------------------------------------------------------------- the clips
def clip_frames(rng: np.random.Generator, num: int, width: int,
                height: int):
    """A camera pan over a random texture, one moving disc, sensor noise."""
    import cv2
    pad_x, pad_y = 256, 64
    coarse = rng.normal(size=((height + pad_y) // 2, (width + pad_x) // 2,
                              3)).astype(np.float32)
    texture = cv2.resize(coarse, (width + pad_x, height + pad_y),
                         interpolation=cv2.INTER_CUBIC)
    texture -= texture.min()
    texture = (texture / texture.max() * 200 + 20).astype(np.int16)
    noise = [rng.integers(-4, 5, (height, width, 3)).astype(np.int16)
             for _ in range(7)]
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    speed = rng.uniform(0.5, 2.0)
    for t in range(num):
        x, y = int(t * speed) % pad_x, int(t * speed / 3) % pad_y
        frame = texture[y:y + height, x:x + width] + noise[t % 7]
        cx = int(width / 2 + width / 3 * np.sin(t / 30))
        cy = int(height / 2 + height / 4 * np.cos(t / 23))
        cv2.circle(frame, (cx, cy), height // 8, colour, -1)
        yield np.clip(frame, 0, 255).astype(np.uint8)


def make_clips(args) -> Dict[str, str]:
    """Generate the native clips and the variants; returns variant -> dir."""
    from simvtp.utils.video_encoding import reencode, write_h264
    width, height = (int(v) for v in args.size.split('x'))
    native = osp.join(args.work_dir, f'native_{args.size}_gop{args.gop}_'
                      f'crf{args.crf}')
    rng = np.random.default_rng(0)
    durations = rng.uniform(args.min_seconds, args.max_seconds, args.videos)
    start = time.perf_counter()
    for i, seconds in enumerate(durations):
        path = osp.join(native, f'{i:04d}.mp4')
        if not osp.exists(path):
            write_h264(path, clip_frames(np.random.default_rng(i),
                                         int(seconds * args.fps), width,
                                         height),
                       args.fps, gop=args.gop, crf=args.crf)
    dirs = dict(native=native)
    for name in args.variants:
        spec = VARIANTS[name]
        if name == 'native':
            continue
        out = f'{native}_{name}'
        for i in range(args.videos):
            dst = osp.join(out, f'{i:04d}.mp4')
            if not osp.exists(dst):
                reencode(osp.join(native, f'{i:04d}.mp4'), dst,
                         short_side=spec['short_side'],
                         gop=spec['gop'] or args.gop, crf=args.crf)
        dirs[name] = out
    elapsed = time.perf_counter() - start
    if elapsed > 1:
        print(f'generated clips in {elapsed:.0f} s')
    return dirs


def describe_clips(folder: str, count: int) -> str:
    import decord
    sizes, seconds, keyints = 0, 0.0, []
    for i in range(count):
        path = osp.join(folder, f'{i:04d}.mp4')
        vr = decord.VideoReader(path, num_threads=1)
        sizes += osp.getsize(path)
        seconds += len(vr) / vr.get_avg_fps()
        keys = vr.get_key_indices()
        keyints.append(float(np.median(np.diff(keys))) if len(keys) > 1
                       else len(vr))
        shape = vr[0].shape
    return (f'{shape[1]}x{shape[0]}, {seconds / count:.1f} s average, '
            f'{sizes * 8 / seconds / 1e6:.2f} Mbit/s, keyframes '
            f'{statistics.median(keyints):.0f} frames apart')


# ------------------------------------------------------------ the methods
def sample_indices(sampler, total_frames: int, seed: int) -> np.ndarray:
    np.random.seed(seed)
    return sampler(dict(total_frames=total_frames, start_index=0,
                        avg_fps=25.0))['frame_inds']


def decoded_frames(keys, indices) -> int:
    """Frames the decoder produces for sorted ``indices``."""
    first = int(np.min(indices))
    before = [k for k in keys if k <= first]
    return int(np.max(indices)) - (before[-1] if before else 0) + 1


def read_raw(path: str, sampler, seed: int, decoder: str = 'decord'):
    if decoder == 'torchcodec':
        from simvtp.datasets.transforms.torchcodec_decode import \
            TorchCodecReader
        vr = TorchCodecReader(path, num_threads=1)
    else:
        import decord
        vr = decord.VideoReader(path, num_threads=1)
    inds = sample_indices(sampler, len(vr), seed)
    frames = vr.get_batch(inds).asnumpy()
    return frames, decoded_frames(vr.get_key_indices(), inds)


def reference_style(path: str, sampler, seed: int, size: int = 224,
                    mask_ratio: float = 0.9, patch: int = 16,
                    tubelet: int = 2):
    """Decode at native size, then per-frame PIL crop/resize (the authors'
    VideoMAE-derived loader), tensor, normalise, tube mask."""
    import torch
    from PIL import Image
    frames, decoded = read_raw(path, sampler, seed)
    images = [Image.fromarray(f).convert('RGB') for f in frames]
    w, h = images[0].size
    rng = np.random.default_rng(seed)
    base = min(w, h)
    sizes = [int(base * s) for s in (1, .875, .75, .66)]
    pairs = [(cw, ch) for i, cw in enumerate(sizes)
             for j, ch in enumerate(sizes) if abs(i - j) <= 1]
    cw, ch = pairs[rng.integers(len(pairs))]
    sx, sy = (w - cw) // 4, (h - ch) // 4
    grid = [(0, 0), (4 * sx, 0), (0, 4 * sy), (4 * sx, 4 * sy),
            (2 * sx, 2 * sy)]
    x0, y0 = grid[rng.integers(len(grid))]
    images = [im.crop((x0, y0, x0 + cw, y0 + ch)).resize(
        (size, size), Image.BILINEAR) for im in images]
    stacked = np.stack([np.asarray(im) for im in images])  # T, H, W, 3
    clip = torch.from_numpy(stacked).permute(0, 3, 1, 2).float().div(255)
    clip = (clip - torch.from_numpy(MEAN)[:, None, None]) / \
        torch.from_numpy(STD)[:, None, None]
    clip = clip.permute(1, 0, 2, 3).contiguous()  # C, T, H, W
    cells = (size // patch) ** 2
    mask = np.zeros(cells, bool)
    mask[rng.permutation(cells)[:int(mask_ratio * cells)]] = True
    mask = np.tile(mask, len(frames) // tubelet)
    return clip, mask, decoded


class OursDataset:
    """The config's dataset/pipeline on a CSV of the clips of one variant."""

    def __init__(self, cfg, folder: str, count: int, keyframe: bool,
                 max_lead: int, clips_per_video: int = 0,
                 decoder: str = 'decord') -> None:
        import copy

        from simvtp.registry import DATASETS
        csv_path = osp.join(folder, 'clips.csv')
        with open(csv_path, 'w', newline='', encoding='utf-8') as f:
            writer = csv.writer(f)
            writer.writerow(['videoid', 'contentUrl', 'duration', 'page_dir',
                             'name'])
            for i in range(count):
                writer.writerow([f'{i:04d}', 'u', 'PT00H00M20S', '.',
                                 CAPTIONS[i % len(CAPTIONS)]])
        ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
        reader = ds_cfg  # the reader inside a BrokenSampleGuard
        while 'pipeline' not in reader and 'dataset' in reader:
            reader = reader['dataset']
        reader.update(ann_file=csv_path, data_prefix=dict(video=folder))
        from simvtp.datasets.transforms import PackVideoTextInputs
        for t in reader.pipeline:  # report the decoded span per clip
            if t['type'].split('.')[-1] == 'PackVideoTextInputs':
                keys = t.get('meta_keys',
                             PackVideoTextInputs().meta_keys)
                t['meta_keys'] = tuple(keys) + ('frame_inds',)
        if keyframe:
            for t in reader.pipeline:
                if t['type'] in ('SampleFrames', 'mmaction.SampleFrames'):
                    t['type'] = 'KeyframeSampleFrames'
                    t['max_lead'] = max_lead
        if decoder == 'torchcodec':
            from simvtp.datasets.transforms.torchcodec_decode import \
                with_torchcodec
            reader['pipeline'] = with_torchcodec(reader.pipeline)
        if clips_per_video:
            from simvtp.datasets.transforms.multi_clip import to_multi_clip
            reader['pipeline'] = to_multi_clip(reader.pipeline,
                                               clips_per_video)
        self.dataset = DATASETS.build(ds_cfg)
        self.count = count

    def read(self, seed: int):
        np.random.seed(seed)
        return self.dataset[seed % self.count]


CAPTIONS = ('aerial view of a forest in winter',
            'a woman smiles at the camera in a city street',
            'waves breaking on a beach at sunset, slow motion',
            'close up of hands typing on a keyboard')


def build_tokenizer(args) -> str:
    if args.tokenizer:
        return args.tokenizer
    from simvtp.datasets.synthetic.vocab import train_vocab
    out = osp.join(args.work_dir, 'tokenizer')
    if not osp.exists(osp.join(out, 'vocab.txt')):
        train_vocab(list(CAPTIONS) * 10, out)
    return out


def load_config(args, tokenizer: str):
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    from simvtp.utils.config_check import pipeline_of
    for t in pipeline_of(cfg)[1]:
        if t['type'] in ('TokenizeText', 'simvtp.TokenizeText'):
            t['tokenizer'] = tokenizer
    return cfg


def sampler_of(cfg):
    """mmaction SampleFrames with the config's clip settings."""
    from mmaction.datasets.transforms import SampleFrames

    from simvtp.utils.config_check import pipeline_of
    for t in pipeline_of(cfg)[1]:
        if t['type'].split('.')[-1] == 'SampleFrames':
            kwargs = {k: v for k, v in t.items() if k != 'type'}
            return SampleFrames(**kwargs)
    raise ValueError(f'{cfg.filename}: no SampleFrames in train_pipeline')


# ---------------------------------------------------------- measurements
def make_readers(args, cfg, folder: str, methods: List[str]) -> dict:
    """method -> ``read(seed)``: reads clip ``seed`` (video ``seed % V``)
    the method's way and returns the frames the decoder produced for it."""
    sampler = sampler_of(cfg)
    paths = [osp.join(folder, f'{i:04d}.mp4') for i in range(args.videos)]
    keys = {p: decord_keys(p) for p in paths}
    readers = {}
    for method in methods:
        decoder = 'torchcodec' if method.endswith('_torchcodec') \
            else 'decord'
        if method in ('raw', 'raw_torchcodec'):
            readers[method] = lambda seed, _d=decoder: read_raw(
                paths[seed % len(paths)], sampler, seed, _d)[1]
        elif method == 'reference':
            readers[method] = lambda seed: reference_style(
                paths[seed % len(paths)], sampler, seed)[2]
        else:
            ours = OursDataset(cfg, folder, args.videos,
                               method == 'ours_keyframe', args.max_lead,
                               decoder=decoder)

            def read(seed, _ours=ours):
                data = _ours.read(seed)
                inds = data['data_samples'].metainfo['frame_inds']
                return decoded_frames(keys[paths[seed % len(paths)]], inds)
            readers[method] = read
    for k in args.clips_per_video:
        multi = OursDataset(cfg, folder, args.videos, False, 0, k)

        def read_k(seed, _multi=multi, _k=k):
            clips = _multi.read(seed)['clips']
            inds = np.concatenate([c['data_samples'].metainfo['frame_inds']
                                   for c in clips])
            decoded = decoded_frames(keys[paths[seed % len(paths)]], inds)
            return decoded / _k, _k  # per clip, clips read
        readers[f'ours_k{k}'] = read_k
    return readers


def per_worker(args, cfg, folder: str, methods: List[str]) -> Dict[str, dict]:
    """Interleaved single-process timing; one sample per call per method."""
    run = make_readers(args, cfg, folder, methods)
    methods = list(run)  # with the ours_k<K> methods
    times = {m: [] for m in methods}
    decoded = {m: [] for m in methods}
    clips = {m: 0 for m in methods}
    for m in methods:  # warm-up: imports, tokenizer, first decode
        run[m](10_000)
    for seed in range(args.samples):
        order = methods[seed % len(methods):] + methods[:seed % len(methods)]
        for m in order:
            t = time.perf_counter()
            out = run[m](seed)
            times[m].append(time.perf_counter() - t)
            span, count = out if isinstance(out, tuple) else (out, 1)
            decoded[m].append(span)
            clips[m] += count
    return {m: dict(clips_per_s=clips[m] / sum(times[m]),
                    ms_median=1e3 * statistics.median(times[m]) * len(
                        times[m]) / clips[m],
                    decoded_per_clip=statistics.mean(decoded[m]))
            for m in methods}


def decord_keys(path: str) -> List[int]:
    import decord
    return list(decord.VideoReader(path, num_threads=1).get_key_indices())


class _MethodDataset:

    def __init__(self, fn, count: int) -> None:
        self.fn, self.count = fn, count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> int:
        """Reads sample ``i``; returns how many clips it gave."""
        out = self.fn(i)
        return out[1] if isinstance(out, tuple) else 1


def with_workers(args, cfg, folder: str, methods: List[str],
                 workers: int) -> Dict[str, float]:
    from torch.utils.data import DataLoader
    readers = make_readers(args, cfg, folder, methods)
    out = {}
    for m in readers:
        fn = readers[m]
        count = args.worker_samples or args.samples
        loader = DataLoader(_MethodDataset(fn, count + workers),
                            batch_size=1, num_workers=workers,
                            collate_fn=lambda b: b)
        it = iter(loader)
        for _ in range(workers):  # warm-up: one item per worker
            next(it)
        t = time.perf_counter()
        n = sum(count for batch in it for count in batch)
        out[m] = n / (time.perf_counter() - t)
    return out


def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch
    torch.set_num_threads(1)
    import simvtp  # noqa: F401  (compat fixes, registries)
    from mmengine.registry import init_default_scope
    init_default_scope('simvtp')
    os.makedirs(args.work_dir, exist_ok=True)
    dirs = make_clips(args)
    cfg = load_config(args, build_tokenizer(args))
    print(f'config: {args.config}; {args.videos} clips; one clip per opened '
          f'video; {os.cpu_count()} CPU cores here')
    results = dict(per_worker={}, workers={}, clips={})
    for name in args.variants:
        results['clips'][name] = describe_clips(dirs[name], args.videos)
        print(f'  {name:<15} {results["clips"][name]}')

    print(f'\nper worker (1 process, 1 thread), {args.samples} clips per '
          'method, interleaved:')
    head = (f'{"variant":<15} {"method":<14} {"clips/s":>8} {"ms/clip":>8} '
            f'{"decoded/clip":>13} {"vs ref":>7} {"vs raw":>7} '
            f'{"vs native ref":>14} {"vs native raw":>14}')
    print(head)
    native_raw = native_ref = None
    for name in args.variants:
        r = per_worker(args, cfg, dirs[name], list(args.methods))
        results['per_worker'][name] = r
        if name == 'native' and 'raw' in r:
            native_raw = r['raw']['clips_per_s']
        if name == 'native' and 'reference' in r:
            native_ref = r['reference']['clips_per_s']
        for m, v in r.items():
            ref = r.get('reference', {}).get('clips_per_s')
            raw = r.get('raw', {}).get('clips_per_s')
            cps = v['clips_per_s']
            print(f'{name:<15} {m:<14} {cps:8.2f} {v["ms_median"]:8.1f} '
                  f'{v["decoded_per_clip"]:13.1f} '
                  f'{_ratio(cps, ref):>7} {_pct(cps, raw):>7} '
                  f'{_ratio(cps, native_ref):>14} '
                  f'{_ratio(cps, native_raw):>14}')
    for workers in args.workers or []:
        print(f'\n{workers} DataLoader workers, '
              f'{args.worker_samples or args.samples} clips per '
              'method (clips/s):')
        for name in args.worker_variants:
            if name not in dirs:
                continue
            r = with_workers(args, cfg, dirs[name], list(args.methods),
                             workers)
            results['workers'][f'{name}/{workers}'] = r
            print(f'{name:<15} ' + '  '.join(
                f'{m} {v:.2f}' for m, v in r.items()))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    return results


def _ratio(a: float, b: Optional[float]) -> str:
    return f'{a / b:.2f}x' if b else '-'


def _pct(a: float, b: Optional[float]) -> str:
    return f'{100 * a / b:.0f}%' if b else '-'


if __name__ == '__main__':
    main()
