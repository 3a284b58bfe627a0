"""configs/simvtp/pretrain_vitl_fsdp.py's FSDP wrapper against DDP with 2
CPU processes (gloo): same losses and gradient norm on the same batch."""
import json
import os
import os.path as osp

import pytest
import torch
import torch.multiprocessing as mp

from tests.test_analysis.common import free_port, grad_norm

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'simvtp', 'pretrain_vitl_fsdp.py')


def _rank(rank: int, port: int, out: str) -> None:
    import torch.distributed as dist
    from mmengine.config import Config
    from mmengine.model import MMDistributedDataParallel
    from mmengine.registry import MODEL_WRAPPERS

    from tests.test_analysis.common import build, inputs_of, total
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), WORLD_SIZE='2', LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=2)
    wrapper = Config.fromfile(CONFIG).strategy.model_wrapper.to_dict()
    wrapper.update(device_id='cpu')  # the config's GPU is LOCAL_RANK
    results = {}
    for name in ('ddp', 'fsdp'):
        model = build(vtc_head=dict(gather=True))  # same seed on both ranks
        if name == 'ddp':
            wrapped = MMDistributedDataParallel(module=model)
        else:
            wrapped = MODEL_WRAPPERS.build(wrapper,
                                           default_args=dict(module=model))
        inputs = inputs_of(model, seed=rank)  # each rank its own half
        torch.manual_seed(7)  # the same VTM negatives in both runs
        losses = wrapped(inputs, None, mode='loss')
        total(losses).backward()
        if name == 'fsdp':
            norm = float(wrapped.clip_grad_norm_(1e9))
            from torch.distributed.fsdp import FullyShardedDataParallel
            units = sum(isinstance(m, FullyShardedDataParallel)
                        for m in wrapped.modules())
        else:
            norm, units = grad_norm(wrapped.parameters()), 0
        results[name] = dict(
            {k: float(v) for k, v in losses.items() if k.startswith('loss')},
            grad_norm=norm, units=units)
    with open(osp.join(out, f'{rank}.json'), 'w') as f:
        json.dump(results, f)
    dist.destroy_process_group()


@pytest.mark.skipif(not torch.distributed.is_available() or
                    not torch.distributed.is_gloo_available(),
                    reason='needs torch.distributed with gloo')
def test_fsdp_matches_ddp_on_two_cpu_processes(tmp_path):
    import simvtp  # noqa: F401  (imported before forking)
    import tests.test_analysis.common  # noqa: F401
    mp.start_processes(_rank, args=(free_port(), str(tmp_path)), nprocs=2,
                       start_method='fork')
    for rank in range(2):
        res = json.loads((tmp_path / f'{rank}.json').read_text())
        ddp, fsdp = res['ddp'], res['fsdp']
        assert fsdp['units'] == 1 + 2 + 1  # root, 2 encoder, 1 decoder block
        assert set(ddp) == set(fsdp)
        for key in ddp:
            if key != 'units':
                assert fsdp[key] == pytest.approx(ddp[key], rel=1e-5), key
    other = json.loads((tmp_path / '0.json').read_text())['ddp']
    assert res['ddp']['loss_video'] != other['loss_video']  # own halves


def test_checkpoints_with_a_0d_temperature_still_load():
    from tests.tiny_model import build_tiny
    model = build_tiny()
    assert model.vtc_head.logit_scale.shape == (1, )  # FSDP shards no 0-d
    state = model.state_dict()
    state['vtc_head.logit_scale'] = torch.tensor(2.5)  # older checkpoints
    model.load_state_dict(state)
    assert model.vtc_head.scale().shape == ()
    assert model.vtc_head.scale().item() == pytest.approx(12.18249, rel=1e-5)
