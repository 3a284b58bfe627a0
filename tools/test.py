"""Evaluate checkpoints: ``python tools/test.py CONFIG [CHECKPOINT ...]``.

CHECKPOINT is a path, ``last`` (the work dir's last checkpoint) or ``best``
(the one kept by ``save_best``: selected on the validation split); several
are tested in turn and summarised (``tools/test.py CONFIG best last``).
Without one, the config's initial weights are tested (its ``init_cfg``,
e.g. a pre-trained encoder: zero-shot).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import simvtp  # noqa: E402,F401
from mmengine.config import DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from simvtp.utils.model_selection import (check_selection_split,  # noqa: E402
                                          evaluate_checkpoints)
from simvtp.utils.safe_load import use_safe_checkpoint_loading  # noqa: E402
from simvtp.utils.setup import (add_default_hooks, load_config,  # noqa: E402
                                prepare_runtime)


def parse_args():
    parser = argparse.ArgumentParser(description='Test a simvtp model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', nargs='*', default=[],
                        help='checkpoint file(s), or "last" / "best" of the '
                        'work dir (omit to test the config\'s initial '
                        'weights, e.g. zero-shot)')
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
    names = list(args.checkpoint)
    single = names[0] if len(names) == 1 and names[0] not in (
        'last', 'best') else None
    cfg.load_from = single
    # lists and counts the test samples that could not be read
    add_default_hooks(cfg, [dict(type='simvtp.DataHealthHook')])
    prepare_runtime(cfg)
    if 'best' in names:
        check_selection_split(cfg)  # says so when val is the test split
    runner = Runner.from_cfg(cfg)
    if not names:
        # Runner.test() never initialises the model (only train() does), so
        # the config's init_cfg (a pre-trained encoder) would be ignored
        runner._init_model_weights()
    if single is not None or not names:
        runner.test()
    else:
        evaluate_checkpoints(runner, names)


if __name__ == '__main__':
    main()
