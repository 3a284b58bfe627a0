"""Shared command-line plumbing of ``tools/model_converters/*_to_*.py``.

Every tool: ``SRC OUT [--strict] [--verbose] [--config CFG] [--base CKPT]``,
prints the :class:`~simvtp.checkpoint.report.ConversionReport`, and writes OUT only when the
conversion succeeded (and, with ``--strict``, is clean). Exit status: 0 ok,
1 strict check failed, 2 the source could not be read or converted.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch

from simvtp.checkpoint import (ConversionError, ConversionReport,
                               compare_with_model)
from simvtp.checkpoint.common import find_state_dict, load_source, plain_meta

__all__ = ['make_parser', 'run_converter', 'model_state_from_config',
           'save_simvtp_checkpoint', 'save_reference_checkpoint',
           'merge_into_base']

ConvertFn = Callable[[argparse.Namespace],
                     Tuple[Dict[str, torch.Tensor], ConversionReport]]


def make_parser(description: str, simvtp_output: bool = True,
                base: bool = False) -> argparse.ArgumentParser:
    """The common arguments; tools add their own."""
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='source checkpoint (file or folder)')
    parser.add_argument('out', help='output checkpoint file')
    parser.add_argument('--strict', action='store_true',
                        help='fail (write nothing) on any missing, '
                        'unexpected or lossy entry')
    parser.add_argument('--verbose', action='store_true',
                        help='list every converted key')
    if simvtp_output:
        parser.add_argument(
            '--config', help='a simvtp config: also check the output '
            "against its model's state dict (missing / unexpected / shape)")
    if base:
        parser.add_argument(
            '--base', help='a simvtp checkpoint to add the converted '
            'tensors to (e.g. a VideoMAE conversion + BERT embeddings)')
    return parser


def model_state_from_config(config: str) -> Dict[str, torch.Tensor]:
    """``state_dict()`` of the model a simvtp config builds (random init)."""
    import simvtp  # noqa: F401  (registers modules, applies compat)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from simvtp.registry import MODELS
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'simvtp'))
    return MODELS.build(cfg.model).state_dict()


def merge_into_base(state_dict: Dict[str, torch.Tensor], base: str,
                    report: ConversionReport) -> Dict[str, torch.Tensor]:
    """``base``'s state dict updated with ``state_dict`` (noted in report)."""
    base_state, _, _ = find_state_dict(load_source(base),
                                       ('state_dict', 'model'))
    overwritten = [k for k in state_dict if k in base_state]
    merged = dict(base_state)
    merged.update(state_dict)
    report.notes.append(
        f'merged into {base}: {len(base_state)} base tensors, '
        f'{len(state_dict)} converted, {len(overwritten)} overwritten'
        + (f' ({", ".join(overwritten[:5])}...)' if overwritten else ''))
    # what the base already provides is no longer missing
    for key in list(report.missing):
        if key in merged or (key.endswith('*') and any(
                k.startswith(key[:-1]) for k in merged)):
            del report.missing[key]
    return merged


def _meta(report: ConversionReport, tool: str) -> dict:
    return dict(converted_by=tool, conversion=plain_meta(report.to_dict()))


def save_simvtp_checkpoint(state_dict: Dict[str, torch.Tensor], out: str,
                           report: ConversionReport, tool: str) -> None:
    """Write an mmengine-style ``{'state_dict', 'meta'}`` checkpoint."""
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    torch.save(dict(state_dict=dict(state_dict), meta=_meta(report, tool)),
               out)


def save_reference_checkpoint(state_dict: Dict[str, torch.Tensor], out: str,
                              report: ConversionReport, tool: str) -> None:
    """Write ``{'model': ..., 'meta': ...}`` as the authors' scripts read."""
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    torch.save(dict(model=dict(state_dict), meta=_meta(report, tool)), out)


def run_converter(parser: argparse.ArgumentParser, convert: ConvertFn,
                  argv: Optional[Sequence[str]] = None,
                  simvtp_output: bool = True,
                  tool: Optional[str] = None) -> int:
    """Parse ``argv``, convert, report, check, save. Returns the exit code."""
    from simvtp.utils.safe_load import (CorruptCheckpointError,
                                        UnsafeCheckpointError)
    args = parser.parse_args(argv)
    tool = tool or parser.prog
    try:
        state_dict, report = convert(args)
        if getattr(args, 'base', None):
            state_dict = merge_into_base(state_dict, args.base, report)
        if simvtp_output and getattr(args, 'config', None):
            compare_with_model(state_dict,
                               model_state_from_config(args.config), report,
                               what=f'the model of {args.config}')
    except (UnsafeCheckpointError, CorruptCheckpointError, ConversionError,
            FileNotFoundError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(report.summary(verbose=args.verbose))
    try:
        report.check(args.strict)
    except ConversionError as e:
        print(f'error: {e}\nnothing was written', file=sys.stderr)
        return 1
    save = save_simvtp_checkpoint if simvtp_output \
        else save_reference_checkpoint
    save(state_dict, args.out, report, tool)
    print(f'saved {len(state_dict)} tensors to {args.out}')
    return 0

