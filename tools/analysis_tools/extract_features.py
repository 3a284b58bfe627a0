"""Per-clip (grounding) or per-video (retrieval) features of a simvtp model.

    python tools/analysis_tools/extract_features.py CONFIG CHECKPOINT \
        VIDEO_LIST OUT [--layout activitynet|charades|tacos] \
        [--clip-len 16] [--frame-interval 4] [--stride N] [--batch-size 8]
    tools/dist_extract_features.sh CONFIG CHECKPOINT VIDEO_LIST OUT NPROCS

CONFIG/CHECKPOINT: a simvtp model (e.g. configs/simvtp/pretrain_vitb.py and
its checkpoint; ``none`` as CHECKPOINT keeps the random initialisation).
VIDEO_LIST: a folder of videos, or a text file with ``PATH`` or
``PATH<TAB>VIDEO_ID`` per line (relative paths are joined to --video-root,
default the list's folder), or an annotation file (.json/.csv) of the
config's test dataset type (its videos, under the config's data_prefix).
Ids default to the file name without extension (``--key name`` keeps it,
as TACoS's annotations do).

--per-video: one L2-normalised feature per video instead, ``(1, D)`` (or
``(V, D)`` with --keep-views), exactly what ``simvtp.apis.encode_videos``
and the text-video search compute: the config's test pipeline
(--num-clips S for S temporal views) and the model's extract_features
(pre-training SimVTP or a retrieval model). Use --layout flat for it.

Each video is cut into clips of --clip-len frames --frame-interval apart,
one clip every --stride frames (default: non-overlapping), encoded by the
video side of the encoder and mean-pooled: OUT holds ``(num_clips, D)`` per
video in 2D-TAN's layout (ActivityNet ``f[id]['c3d_features']``, Charades /
TACoS ``f[id]``). A rerun skips videos already extracted; a killed run
loses at most one chunk of --commit-every videos; under torchrun (RANK /
WORLD_SIZE) every rank takes its share and rank 0 merges. Unreadable
videos are listed in OUT.failed.tsv and do not stop the run.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='simvtp model config')
    parser.add_argument('checkpoint',
                        help="its checkpoint ('none': random init)")
    parser.add_argument('video_list', help='list file or folder of videos')
    parser.add_argument('out', help='output HDF5 file')
    parser.add_argument('--layout', default='activitynet',
                        choices=['activitynet', 'charades', 'tacos', 'flat'])
    parser.add_argument('--video-root', default=None,
                        help='root of relative paths in the list')
    parser.add_argument('--key', default='stem', choices=['stem', 'name'],
                        help='video id from the file name without (stem) '
                        'or with (name) its extension')
    parser.add_argument('--clip-len', type=int, default=16)
    parser.add_argument('--frame-interval', type=int, default=4)
    parser.add_argument('--stride', type=int, default=None,
                        help='frames between clip starts (default: '
                        'clip-len x frame-interval, no overlap)')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--commit-every', type=int, default=16,
                        help='videos per committed chunk')
    parser.add_argument('--device', default=None,
                        help='default: cuda:LOCAL_RANK if available, else '
                        'cpu')
    parser.add_argument('--seed', type=int, default=0,
                        help='seeds the random init (checkpoint none)')
    parser.add_argument('--no-progress', action='store_true')
    parser.add_argument('--per-video', action='store_true',
                        help='one retrieval feature per video (the '
                        "config's test pipeline) instead of dense clips")
    parser.add_argument('--num-clips', type=int, default=None,
                        help='--per-video: temporal views per video')
    parser.add_argument('--keep-views', action='store_true',
                        help='--per-video: store every view (V, D)')
    parser.add_argument('--cfg-options', nargs='+', default=None,
                        help='overrides of the model config (key=value)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import os

    import torch
    from mmengine.config import DictAction

    import simvtp  # noqa: F401
    from simvtp.apis import (VideoFeatureExtractor, VideoTextEncoder,
                             extract_to_hdf5, init_model, read_video_list)
    from simvtp.apis.pooled_features import PooledVideoExtractor
    from simvtp.apis.video_sources import (ANNOTATION_EXTENSIONS,
                                           annotated_video_ids)

    cfg_options = None
    if args.cfg_options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=DictAction)
        cfg_options = parser.parse_args(['--o'] + args.cfg_options).o
    device = args.device
    if device is None:
        local = int(os.environ.get('LOCAL_RANK', 0))
        device = f'cuda:{local}' if torch.cuda.is_available() else 'cpu'
    checkpoint = None if args.checkpoint.lower() == 'none' else \
        args.checkpoint
    torch.manual_seed(args.seed)
    model = init_model(args.config, checkpoint, device=device,
                       cfg_options=cfg_options)
    if args.video_list.lower().endswith(ANNOTATION_EXTENSIONS):
        videos = annotated_video_ids(model.cfg, args.video_list, args.key)
    else:
        videos = read_video_list(args.video_list, args.video_root, args.key)
    if args.per_video:
        extractor = PooledVideoExtractor(
            VideoTextEncoder(model, num_clips=args.num_clips,
                             progress=False), keep_views=args.keep_views)
    else:
        extractor = VideoFeatureExtractor(
            model, clip_len=args.clip_len,
            frame_interval=args.frame_interval, stride=args.stride,
            batch_size=args.batch_size)
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    summary = extract_to_hdf5(
        extractor, videos, args.out, layout=args.layout,
        meta=dict(config=args.config, checkpoint=checkpoint),
        commit_every=args.commit_every, progress=not args.no_progress)
    if 'total' in summary:  # rank 0
        failed = summary['failed']
        print(f'{args.out}: {summary["total"]} videos ({summary["done"]} '
              f'extracted by rank 0 now, {summary["skipped"]} already '
              f'there), {len(failed)} failed'
              + (f' (listed in {args.out}.failed.tsv)' if failed else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
