"""configs/simvtp/pretrain_vitl_deepspeed.py's DeepSpeed ZeRO-2 strategy
against DDP with 2 CPU processes (gloo) on the same batch: same losses,
gradient norm and AdamW step (fp32); and a FlexibleRunner run with it
(train, DeepSpeed checkpoint, resume)."""
import copy
import json
import os
import os.path as osp

import pytest
import torch
import torch.multiprocessing as mp

from tests.test_analysis.common import free_port, grad_norm

deepspeed = pytest.importorskip('deepspeed')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'simvtp', 'pretrain_vitl_deepspeed.py')
B = 4  # clips per process (tests/test_analysis/common.make_batch)

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or
    not torch.distributed.is_gloo_available(),
    reason='needs torch.distributed with gloo')


def _flat(model) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _cpu_process(rank: int, port: int) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), WORLD_SIZE='2', LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from deepspeed.accelerator import set_accelerator
    from deepspeed.accelerator.cpu_accelerator import CPU_Accelerator
    import deepspeed.comm.torch as ds_torch
    set_accelerator(CPU_Accelerator())  # even where a GPU is visible
    # The CPU accelerator JIT-compiles (g++, ninja: 1-2 min the first time)
    # a shared-memory all-reduce that only DeepSpeed's tensor-parallel
    # inference uses (it falls back to the process group without it); ZeRO
    # training never calls it and GPU runs never build it.
    ds_torch.build_shm_op = lambda: None


def _strategy_cfg(cfg, work_dir, precision='fp32'):
    strategy = cfg.strategy.to_dict()
    if precision == 'fp32':
        strategy['config'] = {}  # the config's bf16 autocast is for GPUs
    strategy.update(
        work_dir=work_dir, train_micro_batch_size_per_gpu=B,
        # the process group exists already: nothing to launch
        env_kwargs=dict(launcher='pytorch', randomness=dict(seed=0)))
    return strategy


def _rank(rank: int, port: int, out: str) -> None:
    _cpu_process(rank, port)
    deepspeed.init_distributed(dist_backend='gloo')
    from mmengine.config import Config
    from mmengine.model import MMDistributedDataParallel
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import STRATEGIES

    from tests.test_analysis.common import build, make_batch, total
    cfg = Config.fromfile(CONFIG)
    lr = cfg.optim_wrapper.optimizer.lr

    def model():  # same seed on both ranks; checkpointed blocks as ViT-L
        return build(vtc_head=dict(gather=True), backbone=dict(with_cp=True))

    def losses_of(values):
        return {k: float(v) for k, v in values.items()
                if k.startswith('loss')}

    # DDP + AdamW with the config's decay / no-decay groups
    ddp = MMDistributedDataParallel(module=model())
    start = _flat(ddp.module)
    optim = build_optim_wrapper(
        ddp.module, dict(cfg.optim_wrapper.to_dict(), type='OptimWrapper'))
    torch.manual_seed(7)  # the same VTM negatives in every run
    data = ddp.module.data_preprocessor(make_batch(seed=rank), True)
    losses = ddp(**data, mode='loss')
    total(losses).backward()
    norm = grad_norm(ddp.parameters())
    optim.step()
    results = dict(ddp=dict(losses_of(losses), grad_norm=norm,
                            moved=float((_flat(ddp.module) - start).abs()
                                        .max())))
    groups = [(g['lr'], g['weight_decay'])
              for g in optim.optimizer.param_groups]

    # fp32 first: DeepSpeed keeps torch_autocast as a process-wide setting
    for precision in ('fp32', 'bf16'):
        strategy = STRATEGIES.build(
            _strategy_cfg(cfg, osp.join(out, f'work{rank}'), precision))
        engine, ds_optim = strategy.prepare(
            model(), optim_wrapper=cfg.optim_wrapper.to_dict(),
            dispatch_kwargs=dict(init_weights_for_test_or_val=False,
                                 train_micro_batch_size_per_gpu=B))
        torch.manual_seed(7)
        # mmengine's own step: preprocess, forward, engine backward + step
        log_vars = engine.train_step(make_batch(seed=rank), ds_optim)
        zero = engine.optimizer  # DeepSpeedZeroOptimizer
        results[precision] = dict(
            losses_of(log_vars),
            grad_norm=float(engine.get_global_grad_norm()),
            step_diff=float((_flat(engine.module) - _flat(ddp.module)).abs()
                            .max()),
            stage=engine.zero_optimization_stage(), zero=type(zero).__name__,
            # this rank's fp32 master weights / AdamW state: half of them
            shard=sum(p.numel() for p in zero.single_partition_of_fp32_groups),
            params=sum(p.numel() for p in engine.module.parameters()),
            groups_equal=[(g['lr'], g['weight_decay'])
                          for g in zero.param_groups] == groups,
            lr=lr)
    with open(osp.join(out, f'{rank}.json'), 'w') as f:
        json.dump(results, f)


def test_deepspeed_zero2_matches_ddp_on_two_cpu_processes(tmp_path):
    import simvtp  # noqa: F401  (imported before forking)
    import tests.test_analysis.common  # noqa: F401
    mp.start_processes(_rank, args=(free_port(), str(tmp_path)), nprocs=2,
                       start_method='fork')
    for rank in range(2):
        res = json.loads((tmp_path / f'{rank}.json').read_text())
        ddp, ds = res['ddp'], res['fp32']
        assert ds['stage'] == 2 and ds['zero'] == 'DeepSpeedZeroOptimizer'
        assert ds['params'] / 2 <= ds['shard'] < ds['params'] / 2 + 1000
        assert ds['groups_equal']  # same lr / weight decay per group
        losses = [k for k in ddp if k.startswith('loss')]
        assert set(losses) < set(ds) and len(losses) == 4
        # ZeRO-2 keeps full fp32 replicas: the forward is the same
        # computation (measured: bit-identical)
        for key in losses:
            assert ds[key] == pytest.approx(ddp[key], rel=1e-6), key
        # sums of squares over the two shards, then across ranks, in
        # another order than DDP's per-tensor norms: float32 rounding
        # (measured 7e-8 relative)
        assert ds['grad_norm'] == pytest.approx(ddp['grad_norm'], rel=1e-5)
        # Adam's first step moves each weight by about lr; a weight within
        # 1e-2 lr of DDP's is many float32 ulps of |w| < 2 (measured: equal),
        # while DeepSpeed's default gradient clipping (1.0) changed the
        # tiny-gradient weights by 0.7 lr
        assert ddp['moved'] > 0.5 * ds['lr']
        assert ds['step_diff'] <= 1e-2 * ds['lr']
        # the config's precision as it is (bf16 autocast, fp32 weights)
        # trains too: bf16 keeps 8 bits (3.9e-3 relative) per value,
        # measured <= 1.3e-3 on the losses
        bf16 = res['bf16']
        for key in losses:
            assert bf16[key] == pytest.approx(ddp[key], rel=1e-2), key
        assert bf16['grad_norm'] == pytest.approx(ddp['grad_norm'], rel=1e-2)
    other = json.loads((tmp_path / '0.json').read_text())['ddp']
    assert res['ddp']['loss_video'] != other['loss_video']  # own halves


class _Clips(torch.utils.data.Dataset):
    """make_batch's samples as a dataset (PackVideoTextInputs' layout)."""

    def __init__(self):
        from tests.test_analysis.common import make_batch
        self.items = [s for seed in range(4)
                      for s in make_batch(seed)['inputs']]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return dict(inputs=self.items[i], data_samples=None)


def _runner_rank(rank: int, port: int, out: str) -> None:
    _cpu_process(rank, port)
    from mmengine.config import Config
    from mmengine.runner import FlexibleRunner

    from tests.test_analysis.common import S, T, VOCAB
    from tests.tiny_model import tiny_simvtp_cfg
    cfg = Config.fromfile(CONFIG)
    strategy = cfg.strategy.to_dict()
    strategy['config'] = {}  # fp32 on CPU
    hooks = cfg.default_hooks.to_dict()
    hooks['checkpoint'].update(interval=2, by_epoch=False)

    def runner(max_iters):
        return FlexibleRunner(
            model=tiny_simvtp_cfg(vocab=VOCAB, size=S, patch=8, frames=T,
                                  backbone=dict(with_cp=True),
                                  vtc_head=dict(gather=True)),
            # the launcher makes the process group: simvtp.compat (gloo,
            # through deepspeed.init_distributed, where the device is CPU)
            work_dir=osp.join(out, 'work'), launcher='pytorch',
            strategy=copy.deepcopy(strategy), env_cfg=cfg.env_cfg.to_dict(),
            train_dataloader=dict(
                batch_size=B, num_workers=0, dataset=_Clips(),
                sampler=dict(type='DefaultSampler', shuffle=False),
                collate_fn=dict(type='pseudo_collate')),
            optim_wrapper=cfg.optim_wrapper.to_dict(),
            param_scheduler=dict(type='LinearLR', start_factor=0.5,
                                 by_epoch=False, begin=0, end=4),
            train_cfg=dict(by_epoch=False, max_iters=max_iters),
            default_hooks=copy.deepcopy(hooks), randomness=dict(seed=0),
            default_scope='simvtp', resume=True)

    first = runner(2)
    first.train()
    lrs = [first.message_hub.get_scalar('train/lr').current()]
    second = runner(3)  # resumes from iter_2.pth
    second.train()
    lrs.append(second.message_hub.get_scalar('train/lr').current())
    with open(osp.join(out, f'{rank}.json'), 'w') as f:
        json.dump(dict(iter=second.iter, lrs=lrs,
                       base_lr=cfg.optim_wrapper.optimizer.lr,
                       loss=second.message_hub.get_scalar(
                           'train/loss').current()), f)


@pytest.mark.skipif(torch.cuda.is_available(),
                    reason='runs the CPU launcher (gloo)')
def test_flexible_runner_trains_saves_and_resumes(tmp_path):
    import simvtp  # noqa: F401
    import tests.test_analysis.common  # noqa: F401
    mp.start_processes(_runner_rank, args=(free_port(), str(tmp_path)),
                       nprocs=2, start_method='fork')
    ckpt = tmp_path / 'work' / 'iter_2.pth'  # a DeepSpeed folder
    assert sorted(os.listdir(ckpt)) == [
        'mp_rank_00_model_states.pt',
        'zero_pp_rank_0_mp_rank_00_optim_states.pt',  # one AdamW shard
        'zero_pp_rank_1_mp_rank_00_optim_states.pt']  # per rank
    assert (tmp_path / 'work' / 'iter_3.pth').is_dir()
    for rank in range(2):
        res = json.loads((tmp_path / f'{rank}.json').read_text())
        assert res['iter'] == 3
        # LinearLR 0.5 -> 1 over 4 iterations: the 2nd and, resumed, 3rd
        assert res['lrs'] == pytest.approx(
            [res['base_lr'] * 2 / 3, res['base_lr'] * 5 / 6])
        assert 0 < res['loss'] < 100
