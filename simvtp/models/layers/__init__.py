from .position import SinCosCache, interpolate_pos_embed, sincos_table
from .tokens import (gather_masked, gather_visible, merge_tokens, num_masked,
                     num_visible, visible_index)
from .transformer import (ATTN_IMPLS, Attention, Block, DropPath, Mlp,
                          build_key_padding_mask, drop_path_rates,
                          reference_init_, run_blocks, run_blocks_packed)

__all__ = [
    'sincos_table', 'interpolate_pos_embed', 'SinCosCache', 'gather_visible',
    'gather_masked', 'merge_tokens', 'num_visible', 'num_masked',
    'visible_index', 'ATTN_IMPLS', 'Attention', 'Block', 'DropPath', 'Mlp',
    'build_key_padding_mask', 'drop_path_rates', 'reference_init_',
    'run_blocks', 'run_blocks_packed'
]
