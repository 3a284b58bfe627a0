from .grid_pool import GridPoolProjection
from .packed import run_blocks_packed
from .position import SinCosCache, interpolate_pos_embed, sincos_table
from .tokens import (gather_masked, gather_visible, merge_tokens, num_masked,
                     num_visible, visible_index)
from .transformer import (ATTN_IMPLS, Attention, Block, build_blocks,
                          build_key_padding_mask, reference_init_, run_blocks)

__all__ = [
    'GridPoolProjection',
    'sincos_table', 'interpolate_pos_embed', 'SinCosCache', 'gather_visible',
    'gather_masked', 'merge_tokens', 'num_visible', 'num_masked',
    'visible_index', 'ATTN_IMPLS', 'Attention', 'Block', 'build_blocks',
    'build_key_padding_mask', 'reference_init_', 'run_blocks',
    'run_blocks_packed'
]
