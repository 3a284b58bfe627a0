from .grounding import GroundingDataPreprocessor
from .video_text import VideoTextDataPreprocessor, pad_sequences

__all__ = ['GroundingDataPreprocessor', 'VideoTextDataPreprocessor',
           'pad_sequences']
