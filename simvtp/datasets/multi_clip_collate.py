"""Collating items that carry several clips of one video."""
from typing import Sequence

from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS

from .sample_marks import mark


@FUNCTIONS.register_module()
def multi_clip_collate(data_batch: Sequence) -> dict:
    """``pseudo_collate`` over every clip of the batch.

    Items from ``MultiClipDecode`` are ``dict(clips=[packed, ...])``: their K
    clips become K samples of the batch, in order (a batch of B videos gives
    ``B * K`` clips). Keys recorded on such an item besides ``clips`` (e.g.
    ``BrokenSampleGuard``'s ``replaced``) go into each of its clips' data
    samples. Plain packed items pass through, so a batch may mix both.
    """
    flat = []
    for item in data_batch:
        if isinstance(item, dict) and 'clips' in item:
            marks = {k: v for k, v in item.items() if k != 'clips'}
            for clip in item['clips']:
                if marks:
                    mark(clip, **marks)
                flat.append(clip)
        else:
            flat.append(item)
    return pseudo_collate(flat)
