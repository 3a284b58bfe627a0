"""Initialise a fine-tuning model from a simvtp pre-training checkpoint.

Fine-tuning models name their parts differently from :class:`SimVTP`
(``video_encoder`` / ``text_encoder`` instead of ``backbone``, a recognizer's
``backbone`` without text heads, ...), so loading is a prefix map from
checkpoint names to model names, and it says what happened: how many
tensors loaded into which part, which model tensors kept their fresh
initialisation (``missing``), which checkpoint tensors were not used
(``unused``) and which did not fit (``shape_mismatch``, left untouched).
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log

from .report import collapse_keys

__all__ = ['PretrainedLoadReport', 'load_pretrained', 'read_state_dict']

PrefixMap = Mapping[str, Union[str, Sequence[str]]]

#: how to produce the checkpoint the synthetic fine-tuning configs expect
SYNTHETIC_HINT = ('for the embedded synthetic default, run '
                  '`python tools/train.py configs/simvtp/pretrain_synthetic.py`'
                  ' first (it writes work_dirs/pretrain_synthetic/'
                  'epoch_4.pth), or set SIMVTP_PRETRAINED=/path/to.pth')


@dataclass
class PretrainedLoadReport:
    """What :func:`load_pretrained` did, by model / checkpoint key."""
    checkpoint: str
    loaded: List[Tuple[str, str]] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unused: List[str] = field(default_factory=list)
    shape_mismatch: List[Tuple[str, str, tuple, tuple]] = field(
        default_factory=list)

    def __str__(self) -> str:
        lines = [f'loaded {len(self.loaded)} tensors from {self.checkpoint}']
        by_dst: Dict[str, int] = {}
        for _, dst in self.loaded:
            top = dst.split('.')[0]
            by_dst[top] = by_dst.get(top, 0) + 1
        for top, count in by_dst.items():
            lines.append(f'  into {top}: {count}')
        if self.shape_mismatch:
            lines.append(f'shape mismatch, kept fresh '
                         f'({len(self.shape_mismatch)}):')
            lines += [f'  {dst} model {tuple(m)} vs checkpoint {tuple(c)}'
                      for _, dst, m, c in self.shape_mismatch]
        if self.missing:
            lines.append(f'not in the checkpoint, fresh init '
                         f'({len(self.missing)}):')
            lines += ['  ' + k for k in collapse_keys(self.missing)]
        if self.unused:
            lines.append(f'in the checkpoint, not used ({len(self.unused)}):')
            lines += ['  ' + k for k in collapse_keys(self.unused)]
        return '\n'.join(lines)


def read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, safely (no arbitrary unpickling).

    Accepts an mmengine checkpoint (``state_dict`` entry), ``{'model': ...}``
    or a bare state dict.

    Raises:
        FileNotFoundError: naming the path and how to produce it.
    """
    from simvtp.utils.safe_load import load_checkpoint_file
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'pre-trained checkpoint {path!r} does not exist; '
            f'{SYNTHETIC_HINT}')
    obj = load_checkpoint_file(path)
    for key in ('state_dict', 'model', 'module'):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise ValueError(f'{path}: expected a state dict, got '
                         f'{type(obj).__name__}')
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def load_pretrained(module: nn.Module,
                    checkpoint: Union[str, Dict[str, torch.Tensor]],
                    prefix_map: Optional[PrefixMap] = None,
                    strict: bool = False,
                    logger: Optional[str] = 'current'
                    ) -> PretrainedLoadReport:
    """Copy checkpoint tensors into ``module`` under mapped names.

    Args:
        module: the model (or a sub-module) to fill.
        checkpoint: a file path or an already read state dict.
        prefix_map: ``{source prefix: destination prefix or list of them}``;
            e.g. ``{'backbone.': ['video_encoder.', 'text_encoder.'],
            'vtm_head.': 'vtm_head.'}``. Source keys matching no prefix are
            ``unused``. None: identity (every key to the same name). The
            longest matching source prefix wins.
        strict: raise if anything is missing, unused or mismatched.
        logger: where the report is printed (None: not printed).

    Returns:
        PretrainedLoadReport
    """
    name = checkpoint if isinstance(checkpoint, str) else '<state dict>'
    state = (read_state_dict(checkpoint)
             if isinstance(checkpoint, str) else dict(checkpoint))
    mapping = {'': ''} if prefix_map is None else dict(prefix_map)
    sources = sorted(mapping, key=len, reverse=True)
    model_state = module.state_dict()
    report = PretrainedLoadReport(checkpoint=name)
    new_values: Dict[str, torch.Tensor] = {}
    for src_key, value in state.items():
        src = next((p for p in sources if src_key.startswith(p)), None)
        if src is None:
            report.unused.append(src_key)
            continue
        dsts = mapping[src]
        dsts = [dsts] if isinstance(dsts, str) else list(dsts)
        used = False
        for dst in dsts:
            dst_key = dst + src_key[len(src):]
            if dst_key not in model_state:
                continue
            used = True
            target = model_state[dst_key]
            if tuple(target.shape) != tuple(value.shape) and \
                    value.numel() == target.numel() == 1:
                value = value.reshape(target.shape)  # 0-d vs (1,) scalars
            if tuple(target.shape) != tuple(value.shape):
                report.shape_mismatch.append(
                    (src_key, dst_key, tuple(target.shape),
                     tuple(value.shape)))
                continue
            new_values[dst_key] = value
            report.loaded.append((src_key, dst_key))
        if not used:
            report.unused.append(src_key)
    report.missing = [k for k in model_state if k not in new_values]
    if strict and (report.missing or report.unused or report.shape_mismatch):
        raise RuntimeError(f'strict pre-trained loading failed:\n{report}')
    with torch.no_grad():
        for key, value in new_values.items():
            model_state[key].copy_(value.to(model_state[key].dtype))
    if logger is not None:
        print_log(str(report), logger=logger)
    return report
