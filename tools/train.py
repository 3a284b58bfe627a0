"""Train a simvtp model from a config: ``python tools/train.py CONFIG``.

Distributed: ``tools/dist_train.sh CONFIG NUM_GPUS`` (torchrun) or
``tools/slurm_train.sh``. Without CUDA, the gloo backend and CPU-friendly DDP
settings are chosen automatically.

Reliability defaults: the config is validated before anything is built;
``DataHealthHook`` (counts replaced broken samples, stops past a failure
ratio) and ``RNGStateHook`` (exact resume of the random streams) are added
when the config does not list them. In a distributed launch a rank that
raises records its error for torchrun's summary and exits at once, so the
launcher stops the other ranks instead of letting them wait in a collective.
"""
import argparse
import os
import os.path as osp
import sys
import time
import traceback

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import simvtp  # noqa: E402,F401  (applies the stack fixes first)
from mmengine.config import DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from simvtp.utils.model_selection import (check_selection_split,  # noqa: E402
                                          evaluate_checkpoints)
from simvtp.utils.safe_load import use_safe_checkpoint_loading  # noqa: E402
from simvtp.utils.setup import (add_default_hooks, load_config,  # noqa: E402
                                prepare_runtime)

DEFAULT_HOOKS = (dict(type='simvtp.DataHealthHook'),
                 dict(type='simvtp.RNGStateHook'))


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
    # every checkpoint this tool reads (load_from, --resume, CHECKPOINT) is
    # loaded weights-only with an explicit allowlist
    use_safe_checkpoint_loading()
    args = parse_args()
    cfg = load_config(args.config, args.launcher, args.cfg_options,
                      args.work_dir)
    if args.amp:
        skip = str(cfg.optim_wrapper.get('type', '')).endswith(
            'SkipNonFiniteOptimWrapper')
        cfg.optim_wrapper.type = 'SkipNonFiniteAmpOptimWrapper' if skip \
            else 'AmpOptimWrapper'
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
    add_default_hooks(cfg, DEFAULT_HOOKS)
    prepare_runtime(cfg)
    if cfg.get('val_dataloader'):
        check_selection_split(cfg)  # refuses (or logs) selection on test
    if 'runner_type' in cfg:  # e.g. FlexibleRunner with an FSDP strategy
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    runner.train()
    after = cfg.get('test_after_train', False)
    if after and cfg.get('test_dataloader'):
        # True: the weights training ended with; a list such as
        # ['best', 'last']: those checkpoints of the work dir, in turn
        if isinstance(after, (list, tuple)):
            evaluate_checkpoints(runner, after)
        else:
            runner.test()


# how a collective reports that another rank died (gloo, NCCL, sockets)
PEER_FAILURE_MARKERS = ('Connection closed by peer',
                        'Connection reset by peer', 'remote worker crash',
                        'remote process exited', 'communicator was aborted',
                        'Broken pipe')
PEER_GRACE_S = 5.0


def run_failing_fast(entry) -> None:
    """Run ``entry``; in a launched distributed job, exit at once on error.

    torchrun stops the other ranks as soon as one exits, but only once it
    exits: a failing rank whose interpreter shutdown blocks (dataloader
    workers, non-daemon threads, process-group teardown) would leave the
    others waiting in a collective until its timeout. So a failing rank
    writes its error where torchrun's failure summary reads it and leaves
    with ``os._exit(1)``. A rank whose collective failed only because a peer
    died waits ``PEER_GRACE_S`` seconds first (torchrun normally stops it
    sooner), so the summary names the rank that failed first as the root
    cause, not the ranks that noticed it.
    """
    if not (os.environ.get('WORLD_SIZE') or os.environ.get('SLURM_NTASKS')):
        entry()  # not launched by torchrun / srun
        return
    try:
        entry()
    except SystemExit as e:
        if e.code in (0, None):
            raise
        _hard_exit(e.code if isinstance(e.code, int) else 1)
    except BaseException as exc:
        rank = os.environ.get('RANK', os.environ.get('SLURM_PROCID', '?'))
        peer = any(m in str(exc) for m in PEER_FAILURE_MARKERS)
        cause = 'a peer rank failed, see its error' if peer else 'error'
        sys.stderr.write(f'rank {rank} failed ({cause}):\n'
                         f'{traceback.format_exc()}')
        if peer:
            sys.stderr.flush()
            time.sleep(PEER_GRACE_S)
        else:
            try:  # torchrun's summary shows this file's traceback
                from torch.distributed.elastic.multiprocessing.errors import \
                    get_error_handler
                get_error_handler().record_exception(exc)
            except Exception:
                pass
        _hard_exit(1)


def _hard_exit(code: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == '__main__':
    run_failing_fast(main)
