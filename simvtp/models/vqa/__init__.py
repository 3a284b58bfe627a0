"""Video question answering models."""
from .joint import joint_features
from .multiple_choice import VideoQAMultipleChoice
from .open_ended import VideoQAClassifier
from .zero_shot_mc import MatchingSimilarityMultipleChoice

__all__ = ['joint_features', 'VideoQAMultipleChoice', 'VideoQAClassifier',
           'MatchingSimilarityMultipleChoice']
