"""What a checkpoint conversion did, key by key.

Every converter returns a :class:`ConversionReport` next to the converted
state dict. Nothing is dropped silently: each source key ends up in exactly
one of ``converted`` (copied, possibly re-laid-out, under a new name),
``dropped`` (a known part of the source format that has no counterpart, with
the reason) or ``unexpected`` (a key the converter does not know). Target
keys a complete source would have provided but this one did not are
``missing``; value changes the target cannot represent are ``lossy``.
``--strict`` fails on any missing, unexpected or lossy entry.
"""
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

__all__ = ['ConversionReport', 'ConversionError', 'collapse_keys',
           'collapse_pairs']


class ConversionError(RuntimeError):
    """A conversion that cannot be done, or a strict check that failed."""


_INDEX = re.compile(r'(?<=\.)(\d+)(?=\.|$)')


def _ranges(values: Sequence[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``'0-2,5'``."""
    values = sorted(set(values))
    parts = []
    start = prev = values[0]
    for v in values[1:]:
        if v == prev + 1:
            prev = v
            continue
        parts.append(f'{start}-{prev}' if prev > start else f'{start}')
        start = prev = v
    parts.append(f'{start}-{prev}' if prev > start else f'{start}')
    return ','.join(parts)


def _pattern(key: str) -> Tuple[str, Tuple[int, ...]]:
    indices = tuple(int(m) for m in _INDEX.findall(key))
    return _INDEX.sub('{i}', key), indices


def collapse_keys(keys: Iterable[str]) -> List[str]:
    """Group keys that differ only in one numeric component.

    ``blocks.0.norm1.weight``, ``blocks.1.norm1.weight`` ->
    ``blocks.{0-1}.norm1.weight``. Keys with several numeric components are
    grouped on all of them only when that stays readable; otherwise listed.
    """
    groups: 'OrderedDict[str, List[Tuple[int, ...]]]' = OrderedDict()
    for key in keys:
        pat, idx = _pattern(key)
        groups.setdefault(pat, []).append(idx)
    lines = []
    for pat, idxs in groups.items():
        if not idxs[0]:
            lines.append(pat)
        elif len(idxs[0]) == 1:
            lines.append(pat.replace('{i}', '{' + _ranges(
                [i[0] for i in idxs]) + '}', 1))
        else:  # several numbers: list them
            for idx in idxs:
                key = pat
                for i in idx:
                    key = key.replace('{i}', str(i), 1)
                lines.append(key)
    return lines


def collapse_pairs(pairs: Iterable[Tuple[str, str]]) -> List[str]:
    """``src -> dst`` lines, grouping pairs that share one block index."""
    groups: 'OrderedDict[Tuple[str, str], List[int]]' = OrderedDict()
    singles = []
    for src, dst in pairs:
        ps, isrc = _pattern(src)
        pd, idst = _pattern(dst)
        if len(isrc) == 1 and isrc == idst:
            groups.setdefault((ps, pd), []).append(isrc[0])
        else:
            singles.append(f'{src} -> {dst}')
    lines = []
    for (ps, pd), idxs in groups.items():
        r = '{' + _ranges(idxs) + '}'
        lines.append(f"{ps.replace('{i}', r)} -> {pd.replace('{i}', r)}")
    return singles + lines


@dataclass
class ConversionReport:
    """Outcome of one conversion.

    Attributes:
        source_format: e.g. ``'simvtp-reference-pretrain'``.
        target_format: e.g. ``'simvtp'``.
        source: where the source came from (a path, or a description).
        converted: ``(source key, target key)`` pairs, in output order.
        missing: target key -> why it is not in the output.
        unexpected: source key -> what is known about it (often empty).
        dropped: source key -> why it is deliberately not carried over.
        lossy: messages about values the target cannot represent exactly.
        notes: anything else the user should know.
        source_meta: plain information kept from the source checkpoint
            (epoch, training arguments, ...), stored in the output ``meta``.
    """
    source_format: str
    target_format: str
    source: str = ''
    converted: List[Tuple[str, str]] = field(default_factory=list)
    missing: Dict[str, str] = field(default_factory=dict)
    unexpected: Dict[str, str] = field(default_factory=dict)
    dropped: Dict[str, str] = field(default_factory=dict)
    lossy: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    source_meta: Dict = field(default_factory=dict)

    # ---------------------------------------------------------------- state
    @property
    def clean(self) -> bool:
        """No missing, unexpected or lossy entry."""
        return not (self.missing or self.unexpected or self.lossy)

    def problems(self) -> List[str]:
        """One line per missing / unexpected / lossy entry."""
        out = [f'missing target key {k}: {why}'
               for k, why in self.missing.items()]
        out += [f'unexpected source key {k}' + (f': {why}' if why else '')
                for k, why in self.unexpected.items()]
        out += [f'lossy: {msg}' for msg in self.lossy]
        return out

    def check(self, strict: bool) -> None:
        """Raise :class:`ConversionError` listing problems if ``strict``."""
        if strict and not self.clean:
            raise ConversionError(
                f'strict conversion {self.source_format} -> '
                f'{self.target_format} of {self.source or "<state dict>"} '
                'failed:\n  ' + '\n  '.join(self.problems()))

    def merge(self, other: 'ConversionReport') -> None:
        """Append ``other``'s entries (e.g. a sub-conversion) to this one."""
        self.converted += other.converted
        self.missing.update(other.missing)
        self.unexpected.update(other.unexpected)
        self.dropped.update(other.dropped)
        self.lossy += other.lossy
        self.notes += other.notes

    # --------------------------------------------------------------- output
    def to_dict(self) -> dict:
        """Plain (weights-only picklable) summary for checkpoint ``meta``."""
        return dict(
            source_format=self.source_format,
            target_format=self.target_format,
            source=self.source,
            num_converted=len(self.converted),
            missing=dict(self.missing),
            unexpected=dict(self.unexpected),
            dropped=dict(self.dropped),
            lossy=list(self.lossy),
            notes=list(self.notes),
            source_meta=dict(self.source_meta))

    def summary(self, verbose: bool = False) -> str:
        """Human-readable report; ``verbose`` lists every converted key."""
        lines = [f'== {self.source_format} -> {self.target_format} ==']
        if self.source:
            lines.append(f'source: {self.source}')
        lines.append(f'converted: {len(self.converted)} tensors')
        conv = ([f'{s} -> {d}' for s, d in self.converted] if verbose
                else collapse_pairs(self.converted))
        lines += [f'  {c}' for c in conv]

        def section(title, mapping):
            lines.append(f'{title}: {len(mapping)}')
            by_reason: 'OrderedDict[str, List[str]]' = OrderedDict()
            for key, why in mapping.items():
                by_reason.setdefault(why, []).append(key)
            for why, keys in by_reason.items():
                shown = keys if verbose else collapse_keys(keys)
                for k in shown:
                    lines.append(f'  {k}')
                if why:
                    lines.append(f'      ({why})')

        section('missing (target keys not provided)', self.missing)
        section('unexpected (unknown source keys, not converted)',
                self.unexpected)
        section('dropped (known source keys without a counterpart)',
                self.dropped)
        lines.append(f'lossy: {len(self.lossy)}')
        lines += [f'  {m}' for m in self.lossy]
        if self.notes:
            lines.append('notes:')
            lines += [f'  - {n}' for n in self.notes]
        lines.append('result: ' + ('clean' if self.clean else
                                   'NOT clean (--strict would fail)'))
        return '\n'.join(lines)

    def __str__(self) -> str:
        return self.summary()


def compare_with_model(state_dict: Dict, model_state: Dict,
                       report: Optional[ConversionReport] = None,
                       what: str = 'the model') -> ConversionReport:
    """Check ``state_dict`` against a model's ``state_dict()``.

    Model keys absent from ``state_dict`` become ``missing``; output keys the
    model does not have become ``unexpected``; shape mismatches are
    ``lossy`` (they would fail to load). Returns ``report`` (a new one when
    None) with those entries added.
    """
    if report is None:
        report = ConversionReport('converted', what)
    for key, value in model_state.items():
        if key not in state_dict:
            report.missing.setdefault(
                key, f'{what} has it; the converted checkpoint does not '
                '(it keeps its initialisation)')
        elif tuple(state_dict[key].shape) != tuple(value.shape):
            report.lossy.append(
                f'{key}: converted shape {tuple(state_dict[key].shape)} != '
                f'{what} shape {tuple(value.shape)} (will not load)')
    for key in state_dict:
        if key not in model_state:
            report.unexpected.setdefault(
                key, f'in the converted checkpoint but not in {what}')
    return report


__all__.append('compare_with_model')
