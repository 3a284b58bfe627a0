from . import transforms  # noqa: F401
from .msrvtt import MSRVTTDataset
from .tokenizer import load_tokenizer
from .video_text import AnnotationError, VideoTextPairDataset
from .webvid import WebVidDataset
from .webvid_shards import WebVidShardDataset

__all__ = ['AnnotationError', 'MSRVTTDataset', 'VideoTextPairDataset',
           'WebVidDataset', 'WebVidShardDataset', 'load_tokenizer']
