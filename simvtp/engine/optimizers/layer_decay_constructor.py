"""Layer-wise learning-rate decay for fine-tuning, keyed on parameter names.

Why not mmpretrain's ``LearningRateDecayOptimWrapperConstructor`` or
mmaction2's ``LearningRateDecayOptimizerConstructor``: mmaction2's accepts
only its own ConvNeXt / VisionTransformer backbones by class name;
mmpretrain's reads one ``model.backbone`` and (with this stack) cannot even
be imported, because ``mmpretrain.engine`` pulls in torchvision, which fails
beside the CPU torch build. Fine-tuning models here also have two encoders
(a video and a text tower), so the encoders are named in the config.

The rule (BEiT / VideoMAE fine-tuning): a parameter of encoder ``E`` at depth
``d = E.get_layer_depth(name)`` of ``L = max_layer_id`` gets learning rate
``lr * rate ** (L - 1 - d)``: embeddings are scaled most, the last block
least, the final norm by 1. Parameters outside every listed encoder (heads)
get scale 1. Weight decay is 0 for every 1-D parameter (biases, norms, q/v
biases) and for names a module lists in ``no_weight_decay()``.
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor

from simvtp.registry import OPTIM_WRAPPER_CONSTRUCTORS

__all__ = ['LayerDecayOptimWrapperConstructor']


def _get_submodule(model: nn.Module, path: str) -> nn.Module:
    try:
        return model.get_submodule(path)
    except AttributeError:
        raise KeyError(
            f'paramwise_cfg.encoders names {path!r}, but the model '
            f'{type(model).__name__} has no such sub-module') from None


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Param groups with layer-wise lr decay and no decay on 1-D params.

    ``paramwise_cfg`` keys:

    * ``layer_decay_rate`` (float): the per-layer factor (e.g. 0.75);
      1.0 turns decay off but keeps the weight-decay rules.
    * ``encoders`` (list[str]): attribute paths (``'backbone'``,
      ``'video_encoder'``, ...) of modules that have
      ``get_layer_depth(param_name, prefix) -> (layer_id, max_layer_id)``.
    * ``custom_keys`` (dict, optional): ``{substring: dict(lr_mult=...,
      decay_mult=...)}`` applied on top, first matching key wins (longest
      first), as in mmengine's default constructor.

    Every group carries ``lr``, ``weight_decay``, ``lr_scale``, ``layer_id``,
    ``encoder`` and ``param_names`` so the result can be read and tested.
    """

    def add_params(self, params: List[dict], module: nn.Module,
                   prefix: str = '', **kwargs) -> None:
        cfg = dict(self.paramwise_cfg or {})
        rate = float(cfg.pop('layer_decay_rate', 1.0))
        encoders = list(cfg.pop('encoders', ['backbone']))
        custom_keys = cfg.pop('custom_keys', {}) or {}
        if cfg:
            raise KeyError(f'LayerDecayOptimWrapperConstructor: unknown '
                           f'paramwise_cfg keys {sorted(cfg)}; known: '
                           'layer_decay_rate, encoders, custom_keys')
        if not 0 < rate <= 1:
            raise ValueError(f'layer_decay_rate must be in (0, 1], got {rate}')
        encoder_modules = []
        for path in encoders:
            enc = _get_submodule(module, path)
            if not hasattr(enc, 'get_layer_depth'):
                raise TypeError(
                    f'paramwise_cfg.encoders: {path!r} '
                    f'({type(enc).__name__}) has no get_layer_depth()')
            encoder_modules.append((path + '.', enc))

        no_decay_names = set()
        for name, sub in module.named_modules():
            if hasattr(sub, 'no_weight_decay'):
                pre = name + '.' if name else ''
                no_decay_names.update(pre + n for n in sub.no_weight_decay())

        base_lr = self.base_lr
        base_wd = self.base_wd or 0.0
        sorted_keys = sorted(custom_keys, key=len, reverse=True)
        groups: 'OrderedDict[Tuple, dict]' = OrderedDict()
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            layer_id, max_id, owner = None, None, 'other'
            for enc_prefix, enc in encoder_modules:
                if name.startswith(enc_prefix):
                    layer_id, max_id = enc.get_layer_depth(name, enc_prefix)
                    owner = enc_prefix[:-1]
                    break
            scale = 1.0 if layer_id is None else rate**(max_id - 1 -
                                                         layer_id)
            no_decay = param.ndim == 1 or name in no_decay_names
            wd = 0.0 if no_decay else base_wd
            for key in sorted_keys:
                if key in name:
                    scale *= custom_keys[key].get('lr_mult', 1.0)
                    wd *= custom_keys[key].get('decay_mult', 1.0)
                    break
            gkey = (owner, layer_id, scale, wd)
            group = groups.get(gkey)
            if group is None:
                group = groups[gkey] = dict(
                    params=[], param_names=[], lr=base_lr * scale,
                    weight_decay=wd, lr_scale=scale, encoder=owner,
                    layer_id=-1 if layer_id is None else layer_id)
            group['params'].append(param)
            group['param_names'].append(name)
        params.extend(groups.values())
        self._log_groups(list(groups.values()), rate)

    @staticmethod
    def _log_groups(groups: Sequence[Dict], rate: float) -> None:
        lines = [f'layer-wise lr decay {rate}: {len(groups)} param groups '
                 '(encoder, layer, lr scale, weight decay, #tensors)']
        for g in groups:
            lines.append(f"  {g['encoder']:>14} {g['layer_id']:>3} "
                         f"{g['lr_scale']:.4g} {g['weight_decay']:.3g} "
                         f"{len(g['params'])}")
        print_log('\n'.join(lines), logger='current')

    def __call__(self, model: nn.Module):
        # the default constructor only calls add_params when paramwise_cfg is
        # non-empty; this one always builds its groups
        if not self.paramwise_cfg:
            self.paramwise_cfg = dict(layer_decay_rate=1.0)
        return super().__call__(model)
