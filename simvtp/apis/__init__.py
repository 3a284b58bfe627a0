"""The Python API: build a model, embed videos and captions, search, extract.

``init_model(config, checkpoint)`` builds any simvtp config's model and
loads a checkpoint; ``encode_videos`` / ``encode_texts`` embed videos and
captions through the config's test pipeline (L2-normalised);
:class:`VideoTextSearcher` indexes videos (saved safely as ``.npz``) and
answers text queries; :class:`VideoFeatureExtractor` turns a video file into
per-clip features with the video side of the encoder;
:func:`extract_to_hdf5` writes them for a whole video list (resumable,
distributed) in the layouts grounding models read;
:func:`class_text_features` turns class names into the rows of a zero-shot
classifier.
"""
from .feature_file import (LAYOUTS, FeatureFileError, ensure_features,
                           extract_to_hdf5, feature_keys, read_features,
                           read_video_list)
from .class_prompts import (class_text_features, config_of_checkpoint,
                            read_class_names)
from .encode import (EncodedVideos, VideoTextEncoder, encode_texts,
                     encode_videos, model_fingerprint, similarity)
from .inference import CheckpointMismatchError, init_model, load_weights
from .inference_pipeline import InferencePipeline, eval_pipeline_of
from .search_index import IndexFileError, SearchIndex
from .searcher import SearchHit, VideoTextSearcher, retrieval_figures
from .video_sources import list_videos, read_annotated_videos
from .video_features import (VideoFeatureExtractor, VideoReadError,
                             dense_clip_indices, encode_video_clips,
                             extract_video_features, video_encoder_of)

__all__ = [
    'init_model', 'load_weights', 'class_text_features',
    'config_of_checkpoint', 'read_class_names', 'CheckpointMismatchError',
    'VideoFeatureExtractor', 'VideoReadError', 'dense_clip_indices',
    'encode_video_clips', 'extract_video_features', 'video_encoder_of',
    'LAYOUTS', 'FeatureFileError', 'ensure_features', 'extract_to_hdf5',
    'feature_keys', 'read_features', 'read_video_list',
    'encode_videos', 'encode_texts', 'similarity', 'VideoTextEncoder',
    'EncodedVideos', 'model_fingerprint', 'InferencePipeline',
    'eval_pipeline_of', 'SearchIndex', 'IndexFileError', 'VideoTextSearcher',
    'SearchHit', 'retrieval_figures', 'list_videos', 'read_annotated_videos'
]
