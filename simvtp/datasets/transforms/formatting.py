"""Packing a video-text sample for the data preprocessor."""
from typing import Sequence

import numpy as np
import torch
from mmaction.structures import ActionDataSample
from mmcv.transforms import BaseTransform

from ...registry import TRANSFORMS

# per-token arrays: padded by the preprocessor with these values
TEXT_KEYS = ('input_ids', 'attention_mask', 'mlm_labels',
             'input_ids_unmasked')


@TRANSFORMS.register_module()
class PackVideoTextInputs(BaseTransform):
    """Pack video, tube mask and token arrays into ``inputs`` + a data sample.

    ``inputs`` is a dict of tensors: ``video`` uint8 (C, T, H, W) (from
    ``results['imgs']`` of shape (1, C, T, H, W) after FormatShape('NCTHW'),
    or (V, C, T, H, W) for V views), ``video_mask`` bool (N,) when present,
    and whichever of :data:`TEXT_KEYS` are present as int64 (L,), or
    (K, L) for a per-video item with K captions.

    Args:
        meta_keys: copied into the data sample's metainfo.
    """

    def __init__(self, meta_keys: Sequence[str] = (
            'filename', 'text', 'video_id', 'text_id')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        inputs = {}
        if 'imgs' in results:
            imgs = results['imgs']
            if imgs.ndim == 5 and imgs.shape[0] == 1:
                imgs = imgs[0]
            inputs['video'] = torch.from_numpy(np.ascontiguousarray(imgs))
        if 'video_mask' in results:
            inputs['video_mask'] = torch.from_numpy(
                np.asarray(results['video_mask'], dtype=bool))
        for key in TEXT_KEYS:
            if key in results:
                inputs[key] = torch.from_numpy(
                    np.asarray(results[key], dtype=np.int64))
        sample = ActionDataSample()
        sample.set_metainfo(
            {k: results[k] for k in self.meta_keys if k in results})
        if results.get('data_warnings'):  # see DataHealthHook
            sample.set_metainfo(
                dict(data_warnings=list(results['data_warnings'])))
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'


@TRANSFORMS.register_module()
class PackVideoQAInputs(PackVideoTextInputs):
    """:class:`PackVideoTextInputs` plus the QA label as ``gt_label``.

    ``results[label_key]`` (the true option of a multiple-choice item, or
    the answer class of an open-ended one, -1 when out of vocabulary) is
    set with ``set_gt_label``; the remaining QA fields travel in the
    metainfo (``meta_keys``).

    Args:
        label_key: where the label is (``'label'``: the true option of a
            multiple-choice item, the answer class of an open-ended one).
        meta_keys: copied into the data sample's metainfo.
    """

    def __init__(self, label_key: str = 'label', meta_keys: Sequence[str] = (
            'filename', 'text', 'question_id', 'question_type',
            'gt_answers')) -> None:
        super().__init__(meta_keys=meta_keys)
        self.label_key = label_key

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        if self.label_key not in results:
            raise KeyError(f'PackVideoQAInputs: {results.get("filename")} '
                           f'has no {self.label_key!r}')
        packed['data_samples'].set_gt_label(int(results[self.label_key]))
        return packed

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(label_key={self.label_key!r}, '
                f'meta_keys={self.meta_keys})')
