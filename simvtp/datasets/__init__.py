from . import transforms  # noqa: F401
from .msrvtt import MSRVTTDataset
from .tokenizer import load_tokenizer
from .video_text import AnnotationError, VideoTextPairDataset
from .webvid import WebVidDataset

__all__ = ['AnnotationError', 'MSRVTTDataset', 'VideoTextPairDataset',
           'WebVidDataset', 'load_tokenizer']
