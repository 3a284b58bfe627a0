from .video_text import VideoTextDataPreprocessor, pad_sequences

__all__ = ['VideoTextDataPreprocessor', 'pad_sequences']
