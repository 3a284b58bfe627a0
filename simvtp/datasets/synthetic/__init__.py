"""The embedded synthetic video-text dataset (the toolkit's default data).

Clips show one or two coloured shapes moving on a dark background; captions
compose colour x shape x motion, so text-to-video retrieval needs both
appearance and motion. See :func:`generate_synthetic_dataset` for the
on-disk layout.
"""
from .generator import (BASE_VIDEO_ID, SPLITS, VIDEOS_PER_PAGE,
                        generate_synthetic_dataset, read_meta)
from .action import generate_action_dataset
from .grounding import generate_grounding_dataset
from .scene import (COLOURS, MOTIONS, SHAPES, ObjectSpec, SceneSpec,
                    render_clip, sample_scene)
from .vocab import SPECIAL_TOKENS, train_vocab

__all__ = [
    'generate_synthetic_dataset', 'generate_grounding_dataset',
    'generate_action_dataset', 'read_meta', 'render_clip', 'sample_scene',
    'train_vocab', 'SceneSpec', 'ObjectSpec', 'COLOURS', 'SHAPES', 'MOTIONS',
    'SPECIAL_TOKENS', 'SPLITS', 'BASE_VIDEO_ID', 'VIDEOS_PER_PAGE'
]
