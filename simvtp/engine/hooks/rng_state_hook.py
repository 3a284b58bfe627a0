"""Carry the random number generators' state across checkpoint + resume.

mmengine's resume restores weights, optimizer, schedulers, iteration and the
sampler's epoch, but the global RNGs restart from ``randomness.seed``. What
the model draws from them (SimVTP's random VTM negatives, dropout, drop
path) then repeats the draws of the first iterations instead of continuing,
so a resumed run differs from an uninterrupted one. This hook stores the
torch (CPU and CUDA), numpy and python states in the checkpoint's ``meta``
and puts them back before the resumed training continues.

Exactness (checked by ``tests/test_reliability/test_crash_resume.py``):
with this hook, per-sample mask seeds (``TubeMasking(seed=...)``,
``TextMasking(seed=...)``) or dataloader workers (mmengine replays the
skipped batches through freshly seeded workers), deterministic kernels and
one process, ``N + kill + resume + N`` iterations end with the same weights
as ``2N`` straight. Limits:

* only rank 0 writes checkpoints, so only rank 0's state is saved. Other
  ranks continue from a fresh stream seeded by ``(seed, rank, iter)``,
  which avoids replaying their first iterations' draws but is not
  bit-identical;
* with ``num_workers=0`` and unseeded random transforms, the data draws
  from the main process's numpy state, and mmengine's replay of the
  skipped batches consumes it again after the restore.

To keep epoch rollovers of the train dataloader from drawing from the global
torch RNG (torch draws a base seed for its workers each time an iterator is
created, which would shift the stream between the two runs), the hook gives
the train dataloader its own generator when it has none; mmengine's
``worker_init_fn`` reseeds the workers anyway.
"""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook

from ...registry import HOOKS

META_KEY = 'rng_state'


def get_rng_state() -> dict:
    state = dict(torch=torch.get_rng_state(), numpy=np.random.get_state(),
                 python=random.getstate())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state['torch'])
    np.random.set_state(tuple(state['numpy']))
    python = state['python']
    random.setstate((python[0], tuple(python[1]), python[2]))
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available() \
            and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the RNG states in checkpoints and restore them on resume."""

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._loaded: Optional[dict] = None

    def before_train(self, runner) -> None:
        loader = getattr(runner.train_loop, 'dataloader', None)
        if loader is not None and getattr(loader, 'generator', 1) is None:
            generator = torch.Generator()
            generator.manual_seed(int(runner.seed or 0))
            loader.generator = generator
        if self._loaded is None or runner.iter == 0:
            return  # not a resume
        rank = get_dist_info()[0]
        if rank == 0:
            set_rng_state(self._loaded)
            runner.logger.info(f'RNGStateHook: restored the RNG states of '
                               f'iteration {runner.iter}')
        else:  # a fresh stream rather than a replay of the first iterations
            seed = np.random.SeedSequence(
                [int(runner.seed or 0), rank, runner.iter]).generate_state(1)
            seed = int(seed[0])
            torch.manual_seed(seed)
            np.random.seed(seed)
            random.seed(seed)
        self._loaded = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})[META_KEY] = get_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('meta', {}).get(META_KEY)
        self._loaded = state if isinstance(state, dict) else None
