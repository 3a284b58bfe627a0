"""Train a simvtp model from a config: ``python tools/train.py CONFIG``.

Distributed: ``tools/dist_train.sh CONFIG NUM_GPUS`` (torchrun) or
``tools/slurm_train.sh``. Without CUDA, the gloo backend and CPU-friendly DDP
settings are chosen automatically.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import simvtp  # noqa: E402,F401  (applies the stack fixes first)
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from simvtp.utils.setup import prepare_runtime  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Train a simvtp model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where to save logs and checkpoints')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or (no value) from the '
        'latest checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='enable automatic mixed precision')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by total batch / base batch size')
    parser.add_argument('--seed', type=int, default=None)
    parser.add_argument('--deterministic', action='store_true')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. model.mask_ratio=0.75')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', dict(base_batch_size=256))
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.seed is not None or args.deterministic:
        cfg.setdefault('randomness', {})
        if args.seed is not None:
            cfg.randomness['seed'] = args.seed
        cfg.randomness['deterministic'] = args.deterministic
    prepare_runtime(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    if cfg.get('test_after_train', False) and cfg.get('test_dataloader'):
        runner.test()


if __name__ == '__main__':
    main()
