"""Temporal grounding datasets over pre-extracted clip features."""
from .activitynet_captions import (ActivityNetCaptionsGroundingDataset,
                                   TACoSGroundingDataset)
from .base import Query, TemporalGroundingDataset
from .charades_sta import (CharadesSTAGroundingDataset,
                           read_charades_durations)
from .feature_store import (LAYOUTS, FeatureFileError, FeatureStore,
                            average_to_fixed_length, feature_keys,
                            read_features)

__all__ = [
    'ActivityNetCaptionsGroundingDataset', 'CharadesSTAGroundingDataset',
    'TACoSGroundingDataset', 'TemporalGroundingDataset', 'Query',
    'read_charades_durations', 'LAYOUTS', 'FeatureFileError', 'FeatureStore',
    'average_to_fixed_length', 'feature_keys', 'read_features'
]
