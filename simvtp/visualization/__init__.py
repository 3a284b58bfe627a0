"""Rendering of SimVTP reconstructions and attention maps (PIL / numpy).

Imported lazily by the tools and by ``ReconstructionVisHook``; it is not
imported by ``import simvtp``.
"""
from .attention import (attention_figure, attention_probabilities,
                        capture_attention_input, colormap,
                        find_word_positions, overlay_heatmap,
                        upsample_heatmap, word_to_video_attention)
from .reconstruction import (LABEL_WIDTH, ROW_LABELS, caption_lines,
                             labelled_rows, predict_reconstruction,
                             reconstruction_animation, reconstruction_grid,
                             reconstruction_title, render_batch, save_gif,
                             stack_vertical, text_block, to_uint8_frames,
                             tokens_to_text)

__all__ = [
    'LABEL_WIDTH', 'ROW_LABELS', 'to_uint8_frames', 'text_block',
    'labelled_rows', 'stack_vertical', 'reconstruction_grid',
    'reconstruction_animation', 'reconstruction_title', 'save_gif',
    'tokens_to_text', 'caption_lines', 'predict_reconstruction',
    'render_batch', 'find_word_positions', 'capture_attention_input',
    'attention_probabilities', 'word_to_video_attention',
    'upsample_heatmap', 'colormap', 'overlay_heatmap', 'attention_figure'
]
