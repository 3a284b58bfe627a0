"""Check that every rank holds the same weights, and record what VTC saw."""
import json
import os.path as osp
from typing import Optional

import torch
from mmengine.dist import all_gather, get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ...registry import HOOKS


def weight_fingerprint(model: torch.nn.Module) -> torch.Tensor:
    """Two float64 numbers that differ when any parameter differs.

    ``(sum p, sum p * w)`` over all parameters in order, with ``w`` a fixed
    position-dependent weight, so swapped or offset values also show.
    """
    total = torch.zeros(2, dtype=torch.float64)
    offset = 0
    for p in model.parameters():
        flat = p.detach().reshape(-1).double().cpu()
        weights = torch.arange(offset, offset + flat.numel(),
                               dtype=torch.float64).remainder_(997).add_(1)
        total[0] += flat.sum()
        total[1] += (flat * weights).sum()
        offset += flat.numel()
    return total


@HOOKS.register_module()
class DistConsistencyHook(Hook):
    """Every ``interval`` iterations, compare weight fingerprints of all ranks.

    DDP keeps replicas in sync only if every rank computes the same update;
    a rank-dependent branch, an unsynchronised buffer or a custom optimizer
    step silently breaks that. This hook all-gathers a fingerprint after the
    optimizer step and raises naming the iteration and ranks that differ.
    With ``record=True`` it also writes one JSON line per checked iteration
    to ``work_dir/dist_consistency_rank{r}.jsonl`` with the fingerprint, the
    losses and the VTC logits shape (local texts x gathered videos).

    Args:
        interval: check every this many iterations.
        rtol: relative tolerance of the comparison.
        record: write the JSON lines file.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 100, rtol: float = 1e-9,
                 record: bool = False) -> None:
        self.interval = interval
        self.rtol = rtol
        self.record = record

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if not self.every_n_train_iters(runner, self.interval):
            return
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        fingerprint = weight_fingerprint(model)
        rank, world = get_dist_info()
        prints = all_gather(fingerprint) if world > 1 else [fingerprint]
        ref = prints[0]
        bad = [r for r, fp in enumerate(prints)
               if not torch.allclose(fp, ref, rtol=self.rtol, atol=0)]
        if self.record:
            vtc = getattr(model, 'vtc_head', None)
            line = dict(
                iter=runner.iter + 1, rank=rank, world_size=world,
                fingerprint=fingerprint.tolist(),
                all_fingerprints=[fp.tolist() for fp in prints],
                vtc_logits_shape=getattr(vtc, 'last_logits_shape', None),
                losses={k: float(v) for k, v in (outputs or {}).items()})
            path = osp.join(runner.work_dir,
                            f'dist_consistency_rank{rank}.jsonl')
            with open(path, 'a') as f:
                f.write(json.dumps(line) + '\n')
        if bad:
            raise RuntimeError(
                f'DistConsistencyHook: after iteration {runner.iter + 1} the '
                f'weights of rank(s) {bad} differ from rank 0 '
                f'(fingerprints {[fp.tolist() for fp in prints]})')
