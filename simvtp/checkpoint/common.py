"""Pieces shared by the converters: safe loading, key bookkeeping, blocks.

Transformer blocks of every supported format hold the same tensors under
slightly different names; simvtp's names are::

    norm1.{weight,bias}  attn.qkv.weight  attn.q_bias  attn.v_bias
    attn.proj.{weight,bias}  norm2.{weight,bias}
    mlp.fc1.{weight,bias}  mlp.fc2.{weight,bias}

(the effective qkv bias is ``cat(q_bias, 0, v_bias)``). Sources that store one
fused ``attn.qkv.bias`` of length ``3D`` are split; its middle (key) third must
be zero, or the conversion is reported as lossy, because the key bias has no
slot here.
"""
import os.path as osp
import re
from collections import OrderedDict
from typing import Callable, Dict, Iterable, Mapping, Optional, Sequence, Tuple

import torch

from simvtp.utils.safe_load import (REFERENCE_CHECKPOINT_GLOBALS,
                                    load_checkpoint_file)
from .report import ConversionError, ConversionReport

__all__ = ['load_source', 'find_state_dict', 'strip_common_prefix',
           'KeyMapper', 'split_qkv_bias', 'fuse_qkv_bias', 'convert_blocks',
           'block_indices', 'check_sincos', 'plain_meta', 'SIMVTP_BLOCK_KEYS',
           'MMACTION_BLOCK_RENAMES', 'account_top_level']

SIMVTP_BLOCK_KEYS = (
    'norm1.weight', 'norm1.bias', 'attn.qkv.weight', 'attn.q_bias',
    'attn.v_bias', 'attn.proj.weight', 'attn.proj.bias', 'norm2.weight',
    'norm2.bias', 'mlp.fc1.weight', 'mlp.fc1.bias', 'mlp.fc2.weight',
    'mlp.fc2.bias')
# block-relative names that differ in mmaction2's VisionTransformer (FFN)
MMACTION_BLOCK_RENAMES = {
    'mlp.layers.0.0.weight': 'mlp.fc1.weight',
    'mlp.layers.0.0.bias': 'mlp.fc1.bias',
    'mlp.layers.1.weight': 'mlp.fc2.weight',
    'mlp.layers.1.bias': 'mlp.fc2.bias',
}


# --------------------------------------------------------------------- loading
def load_source(path: str, reference_globals: bool = False):
    """Load a checkpoint file without unpickling arbitrary objects.

    ``.safetensors`` files are read with :mod:`safetensors`; everything else
    with :func:`simvtp.utils.load_checkpoint_file` (``weights_only``), adding
    ``argparse.Namespace`` to the allowlist only when ``reference_globals``
    (the authors' / VideoMAE's files pickle their ``args``).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        simvtp.utils.UnsafeCheckpointError: for a file holding any other
            global (e.g. a crafted ``__reduce__``).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path!r} does not exist')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path, device='cpu')
    allow = REFERENCE_CHECKPOINT_GLOBALS if reference_globals else ()
    return load_checkpoint_file(path, map_location='cpu', allow=allow)


def _is_state_dict(obj) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and torch.is_tensor(v) for k, v in obj.items())


def find_state_dict(obj, keys: Sequence[str] = ('state_dict', 'model',
                                                'module')
                    ) -> Tuple[Dict[str, torch.Tensor], Optional[str], dict]:
    """Locate the tensor dict of a loaded checkpoint.

    Returns:
        ``(state_dict, container key or None, {other top-level key: value})``.

    Raises:
        ConversionError: if no tensor dict is found.
    """
    if not isinstance(obj, Mapping):
        raise ConversionError(f'expected a dict checkpoint, got '
                              f'{type(obj).__name__}')
    for key in keys:
        if key in obj and _is_state_dict(obj[key]):
            extras = {k: v for k, v in obj.items() if k != key}
            return OrderedDict(obj[key]), key, extras
    if _is_state_dict(obj):
        return OrderedDict(obj), None, {}
    raise ConversionError(
        f'no state dict found: the checkpoint has top-level keys '
        f'{sorted(map(str, obj))[:20]}, none of {list(keys)} holds tensors')


def strip_common_prefix(state_dict: Dict[str, torch.Tensor],
                        prefix: str = 'module.',
                        report: Optional[ConversionReport] = None
                        ) -> Dict[str, torch.Tensor]:
    """Remove ``prefix`` when *every* key has it (DDP-wrapped saves)."""
    if state_dict and all(k.startswith(prefix) for k in state_dict):
        if report is not None:
            report.notes.append(f'stripped the {prefix!r} prefix of every '
                                'source key')
        return OrderedDict((k[len(prefix):], v)
                           for k, v in state_dict.items())
    return state_dict


def plain_meta(value, depth: int = 0):
    """A weights-only-loadable copy of ``value`` (str/num/list/dict only)."""
    if depth > 4:
        return repr(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [plain_meta(v, depth + 1) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain_meta(v, depth + 1) for k, v in value.items()}
    if hasattr(value, '__dict__') and type(value).__name__ == 'Namespace':
        return {str(k): plain_meta(v, depth + 1)
                for k, v in vars(value).items()}
    if torch.is_tensor(value) and value.numel() == 1:
        return value.item()
    return repr(value)


# ----------------------------------------------------------------- key mapper
class KeyMapper:
    """Bookkeeping of one conversion: every source key is accounted for.

    Args:
        source: source state dict (not modified).
        report: where converted / dropped / missing entries go.
    """

    def __init__(self, source: Mapping[str, torch.Tensor],
                 report: ConversionReport):
        self.source = source
        self.report = report
        self.used = set()
        self.out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()

    def has(self, key: str) -> bool:
        return key in self.source

    def keys_with_prefix(self, prefix: str) -> list:
        return [k for k in self.source if k.startswith(prefix)]

    def get(self, key: str) -> torch.Tensor:
        return self.source[key]

    def take(self, src: str, dst: str,
             fn: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
             ) -> torch.Tensor:
        """Copy ``source[src]`` (optionally transformed) to ``out[dst]``."""
        value = self.source[src]
        if fn is not None:
            value = fn(value)
        if dst in self.out:
            raise ConversionError(f'two source keys map to {dst}')
        self.used.add(src)
        self.out[dst] = value
        self.report.converted.append((src, dst))
        return value

    def put(self, dst: str, value: torch.Tensor, origin: str) -> None:
        """Write a derived value (``origin`` names where it came from)."""
        if dst in self.out:
            raise ConversionError(f'two source keys map to {dst}')
        self.out[dst] = value
        self.report.converted.append((origin, dst))

    def take_if(self, src: str, dst: str, missing_reason: str) -> bool:
        """:meth:`take` if present, else record ``dst`` as missing."""
        if src in self.source:
            self.take(src, dst)
            return True
        self.report.missing[dst] = missing_reason
        return False

    def drop(self, src: str, reason: str) -> None:
        """Account for ``src`` as deliberately not converted."""
        self.used.add(src)
        self.report.dropped[src] = reason

    def drop_prefix(self, prefix: str, reason: str) -> None:
        for key in self.keys_with_prefix(prefix):
            if key not in self.used:
                self.drop(key, reason)

    def mark_used(self, src: str) -> None:
        self.used.add(src)

    def finish(self, unknown_reason: str = ''
               ) -> 'OrderedDict[str, torch.Tensor]':
        """Record unused source keys as unexpected; return the output."""
        for key in self.source:
            if key not in self.used:
                self.report.unexpected.setdefault(key, unknown_reason)
        return self.out


# ----------------------------------------------------------------- qkv biases
def split_qkv_bias(bias: torch.Tensor, name: str = 'qkv.bias',
                   report: Optional[ConversionReport] = None,
                   atol: float = 0.0) -> Tuple[torch.Tensor, torch.Tensor]:
    """Fused ``(3D,)`` qkv bias -> ``(q_bias, v_bias)``.

    The key part must be zero (softmax is invariant to a key bias only up to
    a per-query constant, but simvtp has no slot for it); otherwise a lossy
    entry naming ``name`` and the largest |k bias| is added to ``report``
    (or, without a report, :class:`ConversionError` is raised).
    """
    if bias.dim() != 1 or bias.numel() % 3:
        raise ConversionError(
            f'{name}: a fused qkv bias must be 1-D with a multiple of 3 '
            f'entries, got {tuple(bias.shape)}')
    q, k, v = bias.chunk(3)
    k_max = float(k.abs().max()) if k.numel() else 0.0
    if k_max > atol:
        msg = (f'{name}: the key part of the fused qkv bias is not zero '
               f'(max |k bias| = {k_max:.3g}); simvtp has only q_bias and '
               'v_bias, so the key bias is dropped (attention logits '
               'change by q.k_bias per query)')
        if report is None:
            raise ConversionError(msg)
        report.lossy.append(msg)
    return q.clone(), v.clone()


def fuse_qkv_bias(q_bias: torch.Tensor, v_bias: torch.Tensor) -> torch.Tensor:
    """``(q_bias, v_bias)`` -> fused ``cat(q_bias, 0, v_bias)`` of ``3D``."""
    if q_bias.shape != v_bias.shape or q_bias.dim() != 1:
        raise ConversionError(f'q_bias {tuple(q_bias.shape)} and v_bias '
                              f'{tuple(v_bias.shape)} must be equal 1-D')
    return torch.cat((q_bias, torch.zeros_like(q_bias), v_bias))


# --------------------------------------------------------------------- blocks
def block_indices(keys: Iterable[str], prefix: str) -> list:
    """Sorted block indices ``i`` of keys ``{prefix}{i}.*``."""
    pat = re.compile(re.escape(prefix) + r'(\d+)\.')
    found = set()
    for key in keys:
        m = pat.match(key)
        if m:
            found.add(int(m.group(1)))
    return sorted(found)


def convert_blocks(mapper: KeyMapper, src_prefix: str, dst_prefix: str,
                   renames: Optional[Dict[str, str]] = None,
                   dst_bias: str = 'split') -> int:
    """Map every block ``{src_prefix}{i}.*`` to ``{dst_prefix}{i}.*``.

    Args:
        mapper: the conversion's :class:`KeyMapper`.
        src_prefix: e.g. ``'encoder.blocks.'``.
        dst_prefix: e.g. ``'backbone.blocks.'``.
        renames: source block-relative name -> simvtp name (e.g.
            :data:`MMACTION_BLOCK_RENAMES`); applied to the source names.
        dst_bias: ``'split'`` writes ``attn.q_bias`` / ``attn.v_bias``;
            ``'fused'`` writes one ``attn.qkv.bias`` (``cat(q, 0, v)``).

    The source may hold ``q_bias``/``v_bias`` or a fused ``qkv.bias`` (its k
    third must be zero, else lossy), or no attention bias at all (noted).
    Layer-scale ``gamma_1``/``gamma_2`` have no counterpart: dropped, and
    lossy unless all ones. Missing block tensors are recorded as missing.

    Returns:
        The number of blocks (``max index + 1``), 0 if none.
    """
    renames = renames or {}
    inverse = {v: k for k, v in renames.items()}
    indices = block_indices(mapper.source, src_prefix)
    if not indices:
        return 0
    depth = indices[-1] + 1
    report = mapper.report
    no_bias = []
    for i in range(depth):
        src = f'{src_prefix}{i}.'
        dst = f'{dst_prefix}{i}.'

        def s(name):  # source name of a simvtp block-relative name
            return src + inverse.get(name, name)

        for name in SIMVTP_BLOCK_KEYS:
            if name in ('attn.q_bias', 'attn.v_bias'):
                continue
            mapper.take_if(s(name), dst + name,
                           f'block {i} of {src_prefix!r} lacks it')
        q_key, v_key, fused_key = (s('attn.q_bias'), s('attn.v_bias'),
                                   s('attn.qkv.bias'))
        if mapper.has(q_key) or mapper.has(v_key):
            if not (mapper.has(q_key) and mapper.has(v_key)):
                raise ConversionError(f'{src}: q_bias and v_bias must come '
                                      'together')
            if dst_bias == 'split':
                mapper.take(q_key, dst + 'attn.q_bias')
                mapper.take(v_key, dst + 'attn.v_bias')
            else:
                mapper.mark_used(q_key)
                mapper.mark_used(v_key)
                mapper.put(dst + 'attn.qkv.bias',
                           fuse_qkv_bias(mapper.get(q_key), mapper.get(v_key)),
                           f'{q_key} + {v_key}')
            if mapper.has(fused_key):
                mapper.drop(fused_key, 'a fused qkv bias next to q_bias/'
                            'v_bias is ambiguous; q_bias/v_bias were used')
                report.lossy.append(f'{fused_key} ignored in favour of '
                                    'q_bias/v_bias')
        elif mapper.has(fused_key):
            mapper.mark_used(fused_key)
            if dst_bias == 'split':
                q, v = split_qkv_bias(mapper.get(fused_key), fused_key,
                                      report)
                mapper.put(dst + 'attn.q_bias', q, fused_key + '[q]')
                mapper.put(dst + 'attn.v_bias', v, fused_key + '[v]')
            else:
                mapper.take(fused_key, dst + 'attn.qkv.bias')
        else:
            no_bias.append(i)
        for gamma in ('gamma_1', 'gamma_2'):
            if mapper.has(src + gamma):
                value = mapper.get(src + gamma)
                mapper.drop(src + gamma, 'layer scale has no counterpart in '
                            'simvtp blocks')
                if not torch.all(value == 1):
                    report.lossy.append(
                        f'{src + gamma}: layer scale (not all ones) dropped; '
                        'the blocks compute a different function')
    if no_bias:
        report.notes.append(
            f'blocks {no_bias} of {src_prefix!r} have no attention bias: '
            'build the target with qkv_bias=False, or the q/v biases keep '
            'their (zero) initialisation')
    return depth


# ------------------------------------------------------------ position tables
def check_sincos(mapper: KeyMapper, key: str,
                 learnable_dst: Optional[str] = None) -> None:
    """Account for a stored video position table ``key`` (``(1, N, D)``).

    Equal (atol 1e-4) to the fixed sin-cos table simvtp recomputes: dropped
    with that note. Otherwise mapped to ``learnable_dst`` (with a note that
    the target needs ``learnable_video_pos=True``) when given, else dropped
    and reported lossy.
    """
    from simvtp.models.layers.position import sincos_table
    value = mapper.get(key)
    table = value.reshape(-1, value.shape[-1]) if value.dim() >= 2 else None
    if table is not None:
        ref = sincos_table(table.shape[0], table.shape[1])
        diff = float((table.float() - ref).abs().max()) if table.numel() \
            else 0.0
    else:
        diff = float('inf')
    if diff <= 1e-4:
        mapper.drop(key, 'equals the fixed sin-cos table, which simvtp '
                    'recomputes and does not store')
    elif learnable_dst is not None and value.dim() == 3:
        mapper.take(key, learnable_dst)
        mapper.report.notes.append(
            f'{key} is a learned table (max |diff| to sin-cos {diff:.3g}); '
            f'it was written to {learnable_dst}: build the backbone with '
            'learnable_video_pos=True to use it')
    else:
        mapper.drop(key, 'a position table that simvtp cannot store here')
        mapper.report.lossy.append(
            f'{key}: differs from the fixed sin-cos table (max |diff| '
            f'{diff:.3g}); simvtp uses the fixed table instead')


# ------------------------------------------------------------ top-level keys
_TRAINING_STATE = ('optimizer', 'scaler', 'lr_scheduler', 'param_schedulers',
                   'message_hub', 'model_ema', 'loss_scaler')
_KEPT_META = ('epoch', 'iter', 'args', 'meta', 'config')


def account_top_level(report: ConversionReport, container: Optional[str],
                      extras: Mapping) -> None:
    """Record the checkpoint's non-weight top-level entries.

    Training state (optimizer, scaler, ...) is dropped with a reason; epoch,
    args and meta are kept (as plain values) in ``report.source_meta``;
    anything else is dropped as 'not weights'. Top-level entries are shown
    as ``[top-level] name``.
    """
    if container is not None:
        report.notes.append(f"weights read from the checkpoint's "
                            f'{container!r} entry')
    for key, value in extras.items():
        name = f'[top-level] {key}'
        if key in _TRAINING_STATE:
            report.dropped[name] = ('training state is not converted; start '
                                    'a new schedule from these weights')
        elif key in _KEPT_META:
            report.dropped[name] = 'kept as plain values in meta.source_meta'
            report.source_meta[key] = plain_meta(value)
        else:
            report.dropped[name] = 'not a weight'
