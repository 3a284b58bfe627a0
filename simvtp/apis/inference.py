"""Build a simvtp model from its config and load a checkpoint into it."""
import logging
import math
import os.path as osp
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger, print_log
from mmengine.registry import init_default_scope

from ..checkpoint.common import find_state_dict, strip_common_prefix
from ..checkpoint.report import ConversionError
from ..registry import MODELS
from ..utils.safe_load import load_checkpoint_file

__all__ = ['init_model', 'load_weights', 'CheckpointMismatchError']


class CheckpointMismatchError(RuntimeError):
    """The checkpoint does not fit the model built from the config."""


def _state_dict_of(checkpoint, path: str) -> dict:
    """The parameter dict of a checkpoint file's content."""
    try:
        state, _, _ = find_state_dict(checkpoint)
    except ConversionError as exc:
        raise CheckpointMismatchError(f'{path}: {exc}') from None
    return strip_common_prefix(state, 'module.')  # DDP-wrapped saves


def same_up_to_singletons(a, b) -> bool:
    """Equal shapes, or both one element (``()`` vs ``(1,)``: VTCHead's
    ``logit_scale`` is ``(1,)`` since FSDP cannot shard 0-d parameters, and
    its ``_load_from_state_dict`` reshapes older 0-d values)."""
    return tuple(a) == tuple(b) or (math.prod(a) == 1 and math.prod(b) == 1)


def load_weights(module: torch.nn.Module,
                 checkpoint: str,
                 prefix: str = '',
                 strict: bool = False,
                 logger: str = 'current') -> dict:
    """Load ``checkpoint`` into ``module`` through the safe loader.

    Args:
        module: the model (or a part of it).
        checkpoint: path of a ``.pth`` file (mmengine checkpoint or a plain
            state dict); loaded with ``weights_only=True`` and simvtp's
            allowlist (:func:`simvtp.utils.safe_load.load_checkpoint_file`).
        prefix: keep only keys starting with ``prefix`` and strip it (e.g.
            ``'backbone.'`` loads a SimVTP checkpoint's encoder into a
            ``UnifiedViT``).
        strict: raise on any missing or unexpected key (otherwise they are
            logged).

    Returns:
        ``dict(missing=[...], unexpected=[...], loaded=int)``.

    Raises:
        FileNotFoundError: naming the file.
        CheckpointMismatchError: when no key of the file fits the module,
            a shape differs, or (``strict``) any key is missing/unexpected.
    """
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r} does not exist')
    state = _state_dict_of(load_checkpoint_file(checkpoint), checkpoint)
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items()
                 if k.startswith(prefix)}
        if not state:
            raise CheckpointMismatchError(
                f'{checkpoint}: no key starts with {prefix!r}')
    own = module.state_dict()
    shapes = [f'{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}'
              for k, v in state.items()
              if k in own and hasattr(v, 'shape') and
              not same_up_to_singletons(v.shape, own[k].shape)]
    if shapes:
        raise CheckpointMismatchError(
            f'{checkpoint}: {len(shapes)} parameter(s) have another shape '
            f'than the model built from the config (wrong config for this '
            f'checkpoint?): ' + '; '.join(shapes[:5]))
    matched = [k for k in state if k in own]
    if not matched:
        raise CheckpointMismatchError(
            f'{checkpoint}: none of its {len(state)} keys (e.g. '
            f'{sorted(state)[:3]}) names a parameter of '
            f'{type(module).__name__} (e.g. {sorted(own)[:3]}); wrong '
            'checkpoint, or a prefix to strip?')
    result = module.load_state_dict(state, strict=False)
    missing, unexpected = list(result.missing_keys), list(
        result.unexpected_keys)
    if strict and (missing or unexpected):
        raise CheckpointMismatchError(
            f'{checkpoint}: missing keys {missing[:10]} '
            f'({len(missing)}), unexpected keys {unexpected[:10]} '
            f'({len(unexpected)})')
    if missing:
        print_log(f'{checkpoint}: {len(missing)} parameter(s) of the model '
                  f'are not in the checkpoint and keep their initial '
                  f'values: {_summary(missing)}', logger=logger,
                  level=30)
    if unexpected:
        print_log(f'{checkpoint}: {len(unexpected)} key(s) of the '
                  f'checkpoint are not used by the model: '
                  f'{_summary(unexpected)}', logger=logger, level=30)
    return dict(missing=missing, unexpected=unexpected, loaded=len(matched))


def _summary(keys, show: int = 8) -> str:
    """Keys grouped by their first component, e.g. ``vtm_head.* (2)``."""
    groups = {}
    for k in keys:
        groups.setdefault(k.split('.')[0], []).append(k)
    parts = [f'{g}.* ({len(v)})' if len(v) > 1 else v[0]
             for g, v in groups.items()]
    more = f' and {len(parts) - show} more groups' if len(parts) > show else ''
    return ', '.join(parts[:show]) + more


def _quiet_init(model: torch.nn.Module) -> None:
    """``init_weights()`` without mmengine's per-parameter INFO lines."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu',
               cfg_options: Optional[dict] = None,
               strict: bool = False) -> torch.nn.Module:
    """Build the model of a simvtp config, load a checkpoint, eval mode.

    Args:
        config: a config file path or a :class:`mmengine.config.Config`.
        checkpoint: optional checkpoint path. Without one the model keeps
            its initialisation (``init_weights()``: the reference init, or
            the config's ``init_cfg``).
        device: where to put the model.
        cfg_options: overrides merged into the config (as
            ``--cfg-options`` does).
        strict: refuse a checkpoint with missing or unexpected keys
            (otherwise they are logged as warnings).

    Returns:
        The model in eval mode, with the config attached as ``model.cfg``.
    """
    if isinstance(config, str):
        if not osp.isfile(config):
            raise FileNotFoundError(f'config {config!r} does not exist')
        config = Config.fromfile(config)
    elif not isinstance(config, Config):
        raise TypeError(f'config must be a path or a Config, got '
                        f'{type(config).__name__}')
    if cfg_options:
        config.merge_from_dict(cfg_options)
    if 'model' not in config:
        raise KeyError(f'config {config.filename} has no "model"')
    init_default_scope(config.get('default_scope', 'simvtp'))
    model = MODELS.build(config.model)
    if checkpoint is None:
        _quiet_init(model)
    else:
        load_weights(model, checkpoint, strict=strict)
    model.cfg = config
    return model.to(device).eval()
