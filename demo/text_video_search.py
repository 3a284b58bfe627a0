"""Search a folder of videos by text and draw the hits on a contact sheet.

    python demo/text_video_search.py VIDEOS --query "a red circle moves left" \
        [--config CONFIG] [--checkpoint CKPT] [--topk 5] [--out results.png] \
        [--index FILE]

VIDEOS: a folder (searched recursively), a list file (``PATH`` per line) or
an annotation file (.json/.csv) of the config's test dataset type, e.g.
``data/synthetic/annotations/test.json`` for the synthetic test videos.
Defaults: the synthetic pre-training config and its last checkpoint.

The ranked list is printed and a PNG contact sheet written (``--frames``
frames per hit, the query and scores on the image). ``--index FILE`` loads
the index if FILE exists (made by the same model and pipeline, otherwise
refused) and writes it there after indexing if not. Unreadable videos are
reported and left out. Timings (model load, indexing, query) are printed.
"""
import argparse
import os
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

DEFAULT_CONFIG = 'configs/simvtp/pretrain_synthetic.py'
DEFAULT_CHECKPOINT = 'work_dirs/pretrain_synthetic/epoch_4.pth'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('videos', help='folder, list file or annotation file')
    parser.add_argument('--query', action='append', required=True,
                        help='text query (repeat for several)')
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--checkpoint', default=DEFAULT_CHECKPOINT,
                        help="'none' keeps the config's initialisation")
    parser.add_argument('--topk', type=int, default=5)
    parser.add_argument('--out', default='results.png',
                        help='contact sheet (PNG); with several queries '
                        'the query number is added to the name')
    parser.add_argument('--index', default=None,
                        help='reuse this index file, or save it there')
    parser.add_argument('--frames', type=int, default=4,
                        help='frames per hit on the sheet')
    parser.add_argument('--tile', type=int, default=96,
                        help='frame tile size on the sheet (pixels)')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--num-clips', type=int, default=None,
                        help='temporal views per video (default: the '
                        "config's test sampling)")
    parser.add_argument('--device', default=None,
                        help='default: cuda if available, else cpu')
    parser.add_argument('--no-progress', action='store_true')
    return parser.parse_args(argv)


def _sheet_path(out: str, i: int, n: int) -> str:
    if n == 1:
        return out
    stem, ext = osp.splitext(out)
    return f'{stem}_{i + 1}{ext or ".png"}'


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    from simvtp.apis import VideoTextSearcher
    from simvtp.visualization.search_sheet import search_sheet

    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    checkpoint = None if args.checkpoint.lower() == 'none' else \
        args.checkpoint
    if checkpoint and not osp.isfile(checkpoint):
        print(f'checkpoint {checkpoint!r} does not exist; pre-train first '
              f'(python tools/train.py {args.config}) or pass --checkpoint',
              file=sys.stderr)
        return 2
    start = time.perf_counter()
    searcher = VideoTextSearcher(args.config, checkpoint, device=device,
                                 batch_size=args.batch_size,
                                 num_clips=args.num_clips,
                                 progress=not args.no_progress)
    loaded = time.perf_counter()
    print(f'model: {args.config} + {checkpoint} on {device} '
          f'({loaded - start:.1f} s)')
    if args.index and osp.isfile(args.index):
        index = searcher.load_index(args.index)
        print(f'index: {len(index)} videos from {args.index}')
    else:
        index = searcher.build_index(args.videos)
        failed = index.meta['failed']
        print(f'indexed {len(index)} videos in '
              f'{time.perf_counter() - loaded:.1f} s'
              + (f'; {len(failed)} unreadable, skipped:' if failed else ''))
        for name, reason in failed:
            print(f'  skipped {name}: {reason}')
        if args.index:
            print(f'index saved to {searcher.save_index(args.index)}')
    indexed = time.perf_counter()
    results = searcher.search(args.query, topk=args.topk)
    searched = time.perf_counter()
    print(f'{len(args.query)} query(ies) in {searched - indexed:.2f} s; '
          f'total {searched - start:.1f} s')
    for i, (query, hits) in enumerate(zip(args.query, results)):
        print(f'\nquery: "{query}"')
        for hit in hits:
            caps = searcher.captions_of(hit)
            print(f'{hit.rank:3d}  {hit.score:+.4f}  {hit.video}'
                  + (f'  ("{caps[0]}")' if caps else ''))
        out = _sheet_path(args.out, i, len(args.query))
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        sheet = search_sheet(query, hits, num_frames=args.frames,
                             size=args.tile,
                             note=f'top {len(hits)} of {len(index)} videos, '
                             'cosine similarity',
                             captions=[searcher.captions_of(h)
                                       for h in hits])
        sheet.save(out)
        print(f'contact sheet: {out} ({sheet.width}x{sheet.height})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
