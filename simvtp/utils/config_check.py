"""Validate a simvtp config before anything is built.

A bad value otherwise surfaces late and far from its cause: a mask ratio of
1.0 after the dataloader workers started, a clip length the tubelets do not
divide deep inside the patch embedding, a caption length beyond the position
table in the middle of the first batch. :func:`validate_config` checks the
config as a whole (the pipelines against the backbone they feed) and raises
one :class:`ConfigError` listing every problem, each naming its config key
in the dotted form ``--cfg-options`` accepts, e.g.
``train_dataloader.dataset.pipeline.6.mask_ratio``.
"""
import inspect
import os.path as osp
from typing import Any, Iterator, List, Optional, Tuple

from mmengine.logging import print_log

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


class ConfigError(ValueError):
    """One or more config values are invalid; each line names its key."""


def _name(step: Any) -> str:
    kind = step.get('type', '') if isinstance(step, dict) else ''
    return kind.split('.')[-1] if isinstance(kind, str) else \
        getattr(kind, '__name__', '')


def _pipelines(cfg) -> Iterator[Tuple[str, list]]:
    """``(key, pipeline)`` of every dataset of every dataloader."""
    def walk(key, dataset):
        if not isinstance(dataset, dict):
            return
        if isinstance(dataset.get('pipeline'), (list, tuple)):
            yield f'{key}.pipeline', list(dataset['pipeline'])
            return
        if isinstance(dataset.get('dataset'), dict):  # Repeat/ClassBalanced
            yield from walk(f'{key}.dataset', dataset['dataset'])
        for i, sub in enumerate(dataset.get('datasets') or []):  # Concat
            yield from walk(f'{key}.datasets.{i}', sub)

    for loader in DATALOADERS:
        loader_cfg = cfg.get(loader)
        if isinstance(loader_cfg, dict):
            yield from walk(f'{loader}.dataset', loader_cfg.get('dataset'))


def pipeline_of(cfg, loader: str = 'train_dataloader') -> Tuple[str, list]:
    """``(dotted key, pipeline list)`` of ``loader``'s dataset, looking
    through wrappers (``BrokenSampleGuard``, ``RepeatDataset``, ...); the
    list is the config's own (edit it in place to change the config)."""
    for key, _ in _pipelines(cfg):
        if key.startswith(f'{loader}.'):
            dataset = cfg
            for part in key.split('.')[:-1]:
                dataset = dataset[int(part)] if part.isdigit() \
                    else dataset[part]
            return key, dataset['pipeline']
    raise KeyError(f'{loader} has no dataset with a pipeline')


def _backbone(cfg) -> Optional[dict]:
    """The backbone's geometry, config values over class defaults."""
    model = cfg.get('model')
    backbone = model.get('backbone') if isinstance(model, dict) else None
    if not isinstance(backbone, dict):
        return None
    values = {}
    try:
        from simvtp.registry import MODELS
        cls = MODELS.get(backbone.get('type', ''))
        if cls is not None:
            for name, p in inspect.signature(cls.__init__).parameters.items():
                if p.default is not inspect.Parameter.empty:
                    values[name] = p.default
    except Exception:  # an unknown backbone: only explicit values count
        pass
    values.update({k: v for k, v in backbone.items() if k != 'type'})
    return values


def _pair(value) -> Optional[Tuple[int, int]]:
    """``int`` or ``(w, h)`` (mmaction's order) -> ``(h, w)``."""
    if isinstance(value, int) and value > 0:
        return value, value
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, int) and v > 0 for v in value):
        return value[1], value[0]
    return None


def _output_size(step: dict) -> Tuple[bool, Optional[Tuple[int, int]], str]:
    """Whether ``step`` sets the frame size, the size (None: varies), key."""
    name = _name(step)
    if name == 'Resize':
        if step.get('keep_ratio', True):
            return True, None, 'scale'
        return True, _pair(step.get('scale')), 'scale'
    if name in ('CenterCrop', 'ThreeCrop', 'TenCrop'):
        return True, _pair(step.get('crop_size')), 'crop_size'
    if name == 'RandomCrop':
        return True, _pair(step.get('size')), 'size'
    if name == 'MultiScaleCrop':
        return True, _pair(step.get('input_size')), 'input_size'
    if name == 'RandomResizedCrop':
        return True, None, ''
    return False, None, ''


def validate_config(cfg, check_tokenizer: bool = True) -> List[str]:
    """Check ``cfg``; raise :class:`ConfigError` listing every problem.

    Checks: mask ratios of ``TubeMasking`` ([0, 1)) and ``TextMasking``
    ((0, 1]); ``SampleFrames.clip_len`` divisible by the backbone's
    ``tubelet_size``; the frame size a pipeline ends with (its last fixed
    ``Resize``/crop) divisible by ``patch_size`` (it may differ from
    ``img_size``: positions are interpolated); ``TubeMasking``'s geometry
    equal to the backbone's; ``TokenizeText.max_length`` within
    ``max_text_len``; ``model.objectives`` known; the tokenizer's vocabulary
    within ``vocab_size`` (only when the tokenizer resolves locally).

    Returns:
        notes about checks that were skipped.
    """
    errors: List[str] = []
    notes: List[str] = []
    backbone = _backbone(cfg)
    model = cfg.get('model') if isinstance(cfg.get('model'), dict) else {}

    # the model class's own checks, found through the registry
    model_cls = _registered(model.get('type')) if model else None
    if hasattr(model_cls, 'check_config'):
        errors += model_cls.check_config(model)

    def geometry(key):
        return backbone.get(key) if backbone else None

    tubelet, patch = geometry('tubelet_size'), geometry('patch_size')
    max_text_len, vocab_size = geometry('max_text_len'), geometry('vocab_size')
    checked_tokenizers = set()
    for key, pipeline in _pipelines(cfg):
        size_step = None  # (index, key, size) of the last size-setting step
        for i, step in enumerate(pipeline):
            if not isinstance(step, dict):
                continue
            name, where = _name(step), f'{key}.{i}'
            if name == 'TubeMasking':
                ratio = step.get('mask_ratio', 0.9)
                if not _number(ratio) or not 0 <= ratio < 1:
                    errors.append(f'{where}.mask_ratio={ratio!r} (TubeMasking)'
                                  ': must be in [0, 1)')
                for arg, expected in (('tubelet_size', tubelet),
                                      ('patch_size', patch)):
                    value = step.get(arg, 2 if arg == 'tubelet_size' else 16)
                    if expected is not None and value != expected:
                        errors.append(
                            f'{where}.{arg}={value!r} (TubeMasking) differs '
                            f'from model.backbone.{arg}={expected!r}')
            elif name == 'TextMasking':
                ratio = step.get('mask_ratio', 0.75)
                if not _number(ratio) or not 0 < ratio <= 1:
                    errors.append(f'{where}.mask_ratio={ratio!r} (TextMasking)'
                                  ': must be in (0, 1]')
            elif name == 'SampleFrames' and tubelet:
                clip_len = step.get('clip_len')
                if isinstance(clip_len, int) and clip_len % tubelet:
                    errors.append(
                        f'{where}.clip_len={clip_len} (SampleFrames) is not '
                        f'divisible by model.backbone.tubelet_size={tubelet}')
            elif name == 'TokenizeText':
                length = step.get('max_length', 32)
                if max_text_len is not None and _number(length) \
                        and length > max_text_len:
                    errors.append(
                        f'{where}.max_length={length} (TokenizeText) exceeds '
                        f'model.backbone.max_text_len={max_text_len}')
                tokenizer = step.get('tokenizer')
                if check_tokenizer and vocab_size is not None \
                        and isinstance(tokenizer, str) \
                        and tokenizer not in checked_tokenizers:
                    checked_tokenizers.add(tokenizer)
                    _check_vocab(tokenizer, f'{where}.tokenizer', vocab_size,
                                 errors, notes)
            sets_size, size, arg = _output_size(step)
            if sets_size:
                size_step = (f'{where}.{arg}' if arg else where, name, size)
        if size_step and patch:
            where, name, size = size_step
            if size is None:
                notes.append(f'{key}: the frame size after {where} ({name}) '
                             'varies; its divisibility by the patch size is '
                             'not checked')
            elif size[0] % patch or size[1] % patch:
                errors.append(
                    f'{where} ({name}) makes {size[0]}x{size[1]} (HxW) frames,'
                    f' not divisible by model.backbone.patch_size={patch}')
    for note in notes:
        print_log(f'validate_config: {note}', logger='current')
    if errors:
        raise ConfigError('invalid config:\n  ' + '\n  '.join(errors))
    return notes


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _registered(kind):
    """The class a ``type`` names in simvtp's scope (None if unknown)."""
    if not isinstance(kind, str):
        return kind if isinstance(kind, type) else None
    from simvtp.registry import MODELS
    try:
        return MODELS.get(kind)
    except Exception:  # a type of another scope
        return None


def _check_vocab(tokenizer: str, where: str, vocab_size: int,
                 errors: List[str], notes: List[str]) -> None:
    """Load the tokenizer only if it resolves without the network."""
    from simvtp.datasets.tokenizer import load_tokenizer
    try:
        tok = load_tokenizer(tokenizer)
    except (OSError, ValueError) as e:
        notes.append(f'{where}={tokenizer!r} does not resolve locally, so '
                     'its vocabulary size is not checked '
                     f'({type(e).__name__})')
        return
    if len(tok) > vocab_size:
        kind = 'folder' if osp.exists(tokenizer) else 'name'
        errors.append(
            f'{where}={tokenizer!r} ({kind}) has {len(tok)} tokens, more '
            f'than model.backbone.vocab_size={vocab_size}: ids >= '
            f'{vocab_size} would index past the word embeddings')
