"""Which modules of a SimVTP become their own FSDP unit."""
from mmengine.registry import FUNCTIONS
from torch import nn


@FUNCTIONS.register_module()
def transformer_block_wrap_policy(module: nn.Module, recurse: bool,
                                  nonwrapped_numel: int) -> bool:
    """FSDP auto-wrap policy: one unit per transformer ``Block`` (encoder
    and decoders); everything else stays in the root unit.

    A size-based policy would also shard small modules whose weights the
    model reads outside their own ``forward`` (the cube embedding's
    projection, applied to the visible tubes only; the position tables):
    FSDP gathers a unit's weights only around that unit's ``forward``.
    The signature is the one ``FullyShardedDataParallel(auto_wrap_policy=
    ...)`` calls; configs name it ``'transformer_block_wrap_policy'``.
    """
    from simvtp.models.layers.transformer import Block
    if recurse:
        return True  # look inside every module
    return isinstance(module, Block)
