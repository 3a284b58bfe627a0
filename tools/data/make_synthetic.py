"""Generate the embedded synthetic video-text dataset.

Example::

    python tools/data/make_synthetic.py --root data/synthetic

Re-running with the same arguments returns at once (the dataset is reused).
"""
import argparse
import os.path as osp
import sys
import time


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--root', default='data/synthetic',
                        help='output folder (default: data/synthetic)')
    parser.add_argument('--num-train', type=int, default=2000)
    parser.add_argument('--num-val', type=int, default=128)
    parser.add_argument('--num-test', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workers', type=int, default=None,
                        help='processes (default: number of CPUs)')
    parser.add_argument('--frames', type=int, default=32,
                        help='frames per clip')
    parser.add_argument('--fps', type=float, default=10)
    parser.add_argument('--size', type=int, default=112,
                        help='frame side in pixels')
    parser.add_argument('--no-progress', action='store_true',
                        help='hide the progress bar')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from simvtp.datasets.synthetic import generate_synthetic_dataset
    fps = int(args.fps) if float(args.fps).is_integer() else args.fps
    start = time.time()
    meta = generate_synthetic_dataset(
        args.root, num_train=args.num_train, num_val=args.num_val,
        num_test=args.num_test, num_frames=args.frames, fps=fps,
        size=args.size, seed=args.seed, workers=args.workers,
        progress=not args.no_progress)
    elapsed = time.time() - start
    print(f'synthetic dataset at {osp.abspath(args.root)}: '
          f'{meta["num_train"]} train / {meta["num_val"]} val / '
          f'{meta["num_test"]} test clips, {meta["num_frames"]} frames at '
          f'{meta["fps"]} fps, {meta["size"]}x{meta["size"]} px, '
          f'vocabulary of {meta["vocab_size"]} tokens; took {elapsed:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
