"""Video question answering models."""
from .joint import embed_clip, joint_features
from .multiple_choice import VideoQAMultipleChoice
from .open_ended import VideoQAClassifier
from .zero_shot_mc import MatchingSimilarityMultipleChoice

__all__ = ['embed_clip', 'joint_features', 'VideoQAMultipleChoice', 'VideoQAClassifier',
           'MatchingSimilarityMultipleChoice']
