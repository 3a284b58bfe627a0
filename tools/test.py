"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT``."""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import simvtp  # noqa: E402,F401
from mmengine.config import DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from simvtp.utils.safe_load import use_safe_checkpoint_loading  # noqa: E402
from simvtp.utils.setup import (add_default_hooks, load_config,  # noqa: E402
                                prepare_runtime)


def parse_args():
    parser = argparse.ArgumentParser(description='Test a simvtp model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file (omit to test the config\'s '
                        'initial weights, e.g. zero-shot)')
    parser.add_argument('--work-dir', help='where to save logs and results')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    # every checkpoint this tool reads (load_from, --resume, CHECKPOINT) is
    # loaded weights-only with an explicit allowlist
    use_safe_checkpoint_loading()
    args = parse_args()
    cfg = load_config(args.config, args.launcher, args.cfg_options,
                      args.work_dir)
    cfg.load_from = args.checkpoint
    # lists and counts the test samples that could not be read
    add_default_hooks(cfg, [dict(type='simvtp.DataHealthHook')])
    prepare_runtime(cfg)
    runner = Runner.from_cfg(cfg)
    runner.test()


if __name__ == '__main__':
    main()
