"""The Python API: build a model, extract features.

``init_model(config, checkpoint)`` builds any simvtp config's model and
loads a checkpoint; :class:`VideoFeatureExtractor` turns a video file into
per-clip features with the video side of the encoder;
:func:`extract_to_hdf5` writes them for a whole video list (resumable,
distributed) in the layouts grounding models read.
"""
from .feature_file import (LAYOUTS, FeatureFileError, ensure_features,
                           extract_to_hdf5, feature_keys, read_features,
                           read_video_list)
from .inference import CheckpointMismatchError, init_model, load_weights
from .video_features import (VideoFeatureExtractor, VideoReadError,
                             dense_clip_indices, encode_video_clips,
                             extract_video_features, video_encoder_of)

__all__ = [
    'init_model', 'load_weights', 'CheckpointMismatchError',
    'VideoFeatureExtractor', 'VideoReadError', 'dense_clip_indices',
    'encode_video_clips', 'extract_video_features', 'video_encoder_of',
    'LAYOUTS', 'FeatureFileError', 'ensure_features', 'extract_to_hdf5',
    'feature_keys', 'read_features', 'read_video_list'
]
