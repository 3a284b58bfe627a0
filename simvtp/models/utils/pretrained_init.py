"""``init_cfg=dict(type='SimVTPPretrained', ...)``: load a pre-training
checkpoint into any module through a prefix map, after its own init.

mmengine runs init_cfg types other than ``'Pretrained'`` *before* the
children's ``init_weights``, which would then overwrite the loaded tensors.
This initializer therefore first initialises every child that has its own
``init_weights`` (marking it done, so mmengine does not repeat it) and loads
the checkpoint last, like mmengine's ``Pretrained``. Unlike ``Pretrained``
it maps several prefixes (one source to several destinations, for two
towers) and logs a :class:`~simvtp.checkpoint.PretrainedLoadReport`.
"""
from typing import Optional

import torch.nn as nn
from mmengine.registry import WEIGHT_INITIALIZERS

__all__ = ['SimVTPPretrainedInit']


@WEIGHT_INITIALIZERS.register_module(name='SimVTPPretrained')
class SimVTPPretrainedInit:
    """Load ``checkpoint`` into the module under ``prefix_map``.

    Args:
        checkpoint (str): path of a simvtp (mmengine) checkpoint.
        prefix_map (dict, optional): source prefix -> destination prefix
            (or list of them); see :func:`simvtp.checkpoint.load_pretrained`.
            For a backbone alone: ``{'backbone.': ''}``.
        strict (bool): fail on anything missing / unused / mismatched.
    """

    def __init__(self, checkpoint: str, prefix_map: Optional[dict] = None,
                 strict: bool = False):
        self.checkpoint = checkpoint
        self.prefix_map = prefix_map
        self.strict = strict
        self.report = None

    def __call__(self, module: nn.Module) -> None:
        from simvtp.checkpoint.pretrained import load_pretrained
        for child in module.children():
            if hasattr(child, 'init_weights') and not getattr(
                    child, 'is_init', False):
                child.init_weights()
                # an override of init_weights may not record that it ran
                if hasattr(type(child), 'is_init'):
                    child._is_init = True
                else:
                    child.is_init = True
        self.report = load_pretrained(module, self.checkpoint,
                                      self.prefix_map, strict=self.strict)

    def _get_init_info(self) -> str:
        return f'{self.__class__.__name__}: load from {self.checkpoint}'
