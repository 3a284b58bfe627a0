"""Runtime preparation shared by tools/train.py and tools/test.py."""
import os
import time

import torch
from mmengine.config import Config


def prepare_runtime(cfg: Config) -> Config:
    """Adapt ``cfg`` to the machine and make sure its data exists.

    * Without CUDA, a distributed launch uses the gloo backend and DDP
      without ``device_ids`` (a CPU module cannot take them).
    * A config with ``synthetic_data=dict(root=..., ...)`` gets its embedded
      dataset generated when absent (rank 0 generates, the others wait).
    """
    if not torch.cuda.is_available() and cfg.get('launcher', 'none') != 'none':
        env_cfg = cfg.setdefault('env_cfg', {})
        env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
        wrapper = cfg.get('model_wrapper_cfg') or dict(
            type='MMDistributedDataParallel')
        wrapper['device_ids'] = None
        cfg.model_wrapper_cfg = wrapper
    synthetic = cfg.get('synthetic_data')
    if synthetic:
        ensure_synthetic_data(dict(synthetic))
    return cfg


def ensure_synthetic_data(spec: dict, timeout: float = 3600) -> dict:
    """Generate the synthetic dataset described by ``spec`` if needed."""
    from simvtp.datasets.synthetic import generate_synthetic_dataset
    rank = int(os.environ.get('RANK', os.environ.get('SLURM_PROCID', 0)))
    meta = os.path.join(spec['root'], 'meta.json')
    if rank == 0:
        return generate_synthetic_dataset(**spec)
    start = time.time()
    while not os.path.isfile(meta):  # rank 0 writes meta.json last
        if time.time() - start > timeout:
            raise TimeoutError(f'waited {timeout:.0f}s for rank 0 to write '
                               f'{meta}')
        time.sleep(2)
    return generate_synthetic_dataset(**spec, progress=False)
