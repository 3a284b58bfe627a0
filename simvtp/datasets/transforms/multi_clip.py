"""Several training clips from one opened and decoded video."""
import copy
from typing import List, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform, Compose

from ...registry import TRANSFORMS
from .torchcodec_decode import decode_frames


@TRANSFORMS.register_module()
class MultiClipDecode(BaseTransform):
    """Sample ``num_clips`` clips of one video, decode all their frames in
    one decoder call, and run ``clip_pipeline`` on each clip.

    Opening a video (``DecordInit``: container, index, codec) and decoding
    from a keyframe to the frames asked for are shared by the clips: the
    frames of all clips are fetched with one ``get_batch`` over their sorted
    union (a frame two clips share is decoded once), so the cost per clip
    falls as ``num_clips`` grows. mmaction2's ``SampleFrames(num_clips=K)``
    returns one index array of K clips that ``DecordDecode`` decodes as one
    ``imgs`` list; the transforms after it would then treat the K clips as
    one (one crop, one tube mask, one text mask). Here each clip goes
    through ``clip_pipeline`` on its own: its own crop, tube mask and masked
    caption.

    Required keys: ``video_reader``, ``total_frames`` (``DecordInit`` or
    ``TorchCodecInit``),
    ``sample_idx`` (the dataset index, the video's identity).

    Output: ``dict(clips=[packed, ...])``, one packed sample per clip (what
    ``clip_pipeline`` ends with, ``PackVideoTextInputs``), each with
    ``inputs['video_group']``: the ``sample_idx`` of its video, a 0-d int64
    tensor. The ``multi_clip_collate`` collate function flattens the clips
    into the batch; the model's VTC and VTM then never use two clips of the
    same video as a negative pair (they share the caption).

    Args:
        num_clips: clips per video, ``K >= 1``.
        sampler: a frame sampler config returning one clip's
            ``frame_inds`` (``SampleFrames`` with ``num_clips=1`` or
            ``KeyframeSampleFrames``); called once per clip.
        clip_pipeline: the transforms after decoding, ending with the
            packing (crop, resize, ``FormatShape``, ``TubeMasking``,
            ``TokenizeText``, ``TextMasking``, ``PackVideoTextInputs``).
    """

    def __init__(self, num_clips: int, sampler: dict,
                 clip_pipeline: Sequence[dict]) -> None:
        if int(num_clips) < 1:
            raise ValueError(f'MultiClipDecode: num_clips must be >= 1, got '
                             f'{num_clips}')
        if sampler.get('num_clips', 1) != 1:
            raise ValueError(
                'MultiClipDecode: the sampler must return one clip '
                f"(num_clips=1), got num_clips={sampler['num_clips']}; set "
                'MultiClipDecode.num_clips instead')
        self.num_clips = int(num_clips)
        self.sampler = TRANSFORMS.build(sampler)
        self.clip_pipeline = Compose(list(clip_pipeline))

    def sample(self, results: dict) -> List[dict]:
        """``num_clips`` copies of ``results``, each with its own clip's
        ``frame_inds`` ``(T,)`` and the sampler's keys (``clip_len``,
        ``num_clips``, ... which ``FormatShape`` reads)."""
        out = []
        for _ in range(self.num_clips):
            # the reader itself, not a copy (a copy would free its handle
            # a second time): KeyframeSampleFrames reads its keyframes
            clip = self.sampler({k: v if k == 'video_reader' else
                                 copy.copy(v) for k, v in results.items()})
            clip['video_reader'] = None  # the clip pipeline never decodes
            clip['frame_inds'] = np.asarray(clip['frame_inds']).reshape(-1)
            out.append(clip)
        return out

    def transform(self, results: dict) -> dict:
        reader = results.get('video_reader')
        if reader is None:
            raise KeyError('MultiClipDecode needs results["video_reader"]: '
                           'put DecordInit (or TorchCodecInit) before it')
        if 'sample_idx' not in results:
            raise KeyError('MultiClipDecode needs results["sample_idx"] (the '
                           'video identity the losses mask pairs by)')
        clips = self.sample(results)
        union, where = np.unique(
            np.concatenate([c['frame_inds'] for c in clips]),
            return_inverse=True)
        frames = decode_frames(reader, union)  # (U, H, W, 3), once
        results['video_reader'] = None
        del reader
        group = torch.tensor(int(results['sample_idx']), dtype=torch.long)
        packed, start = [], 0
        for clip in clips:
            count = len(clip['frame_inds'])
            clip['imgs'] = list(frames[where[start:start + count]])
            start += count
            clip['original_shape'] = clip['img_shape'] = frames.shape[1:3]
            out = self.clip_pipeline(clip)
            if out is None:
                return None  # a transform refused the sample
            out['inputs']['video_group'] = group
            packed.append(out)
        return dict(clips=packed)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_clips={self.num_clips}, '
                f'sampler={self.sampler!r}, '
                f'clip_pipeline={self.clip_pipeline!r})')


def to_multi_clip(pipeline: Sequence[dict], num_clips: int) -> List[dict]:
    """A one-clip pipeline config ``[..., <sampler>, DecordDecode, *rest]``
    (or ``TorchCodecDecode``) rewritten as
    ``[..., MultiClipDecode(num_clips, <sampler>, rest)]``.

    The sampler is the transform right before the decode step.
    """
    names = [t['type'].split('.')[-1] for t in pipeline]
    decode = [i for i, n in enumerate(names)
              if n in ('DecordDecode', 'TorchCodecDecode')]
    if not decode or decode[0] < 1:
        raise ValueError('to_multi_clip: the pipeline needs a frame sampler '
                         f'followed by DecordDecode or TorchCodecDecode, got '
                         f'{names}')
    i = decode[0]
    return [copy.deepcopy(t) for t in pipeline[:i - 1]] + [dict(
        type='MultiClipDecode', num_clips=num_clips,
        sampler=copy.deepcopy(pipeline[i - 1]),
        clip_pipeline=[copy.deepcopy(t) for t in pipeline[i + 1:]])]
