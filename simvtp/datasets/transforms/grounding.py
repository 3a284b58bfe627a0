"""Packing a grounding query for the data preprocessor."""
from typing import Sequence

import numpy as np
import torch

from ...registry import TRANSFORMS
from .formatting import PackVideoTextInputs


@TRANSFORMS.register_module()
class PackGroundingInputs(PackVideoTextInputs):
    """``inputs``: ``features`` float32 ``(N_in, D)`` plus the query's
    token arrays (``input_ids`` / ``attention_mask`` int64 ``(L,)``); the
    data sample's metainfo: ``meta_keys`` (``gt_times`` (start, end) and
    ``duration`` in seconds, ``video_id``, ``query_id``, ``text``).
    """

    def __init__(self, meta_keys: Sequence[str] = (
            'gt_times', 'duration', 'video_id', 'query_id', 'text')) -> None:
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        if 'features' not in results:
            raise KeyError('PackGroundingInputs: no features (the dataset '
                           'has no feature_file)')
        packed = super().transform(results)
        packed['inputs']['features'] = torch.from_numpy(
            np.ascontiguousarray(results['features'], dtype=np.float32))
        return packed
