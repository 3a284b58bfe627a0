from . import transforms  # noqa: F401
from .broken_sample_guard import BrokenSampleGuard, is_data_error
from .grounding import (ActivityNetCaptionsGroundingDataset,
                        CharadesSTAGroundingDataset, TACoSGroundingDataset,
                        TemporalGroundingDataset)
from .msrvtt import MSRVTTDataset
from .multi_clip_collate import multi_clip_collate
from .sample_marks import BrokenSampleError
from .tokenizer import load_tokenizer
from .video_text import AnnotationError, VideoTextPairDataset
from .webvid import WebVidDataset
from .webvid_shards import WebVidShardDataset

__all__ = ['AnnotationError', 'BrokenSampleError', 'BrokenSampleGuard',
           'MSRVTTDataset', 'VideoTextPairDataset', 'WebVidDataset',
           'WebVidShardDataset', 'is_data_error', 'load_tokenizer',
           'ActivityNetCaptionsGroundingDataset',
           'CharadesSTAGroundingDataset', 'TACoSGroundingDataset',
           'TemporalGroundingDataset', 'multi_clip_collate']
