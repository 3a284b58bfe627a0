"""Frame sampling that keeps the decoder away from long keyframe leads."""
from typing import Optional

import numpy as np
from mmaction.datasets.transforms import SampleFrames

from ...registry import TRANSFORMS


@TRANSFORMS.register_module()
class KeyframeSampleFrames(SampleFrames):
    """mmaction's ``SampleFrames`` with clip starts near keyframes.

    A decoder can only start at a keyframe: a clip whose first frame lies
    ``d`` frames after the previous keyframe costs ``d`` extra decoded (and
    thrown away) frames. With FFmpeg's default keyframe interval (250 frames)
    and a 16x4 clip that lead is on average twice the clip itself. In
    training this transform draws each clip's start uniformly from the frames
    at most ``max_lead`` after a keyframe (so at most ``max_lead`` extra
    frames are decoded), instead of from the whole video.

    The price is temporal diversity: only ``(max_lead + 1)`` starts per
    keyframe interval remain. On long-GOP files (WebVid-like: one keyframe
    every 10 s) prefer re-encoding with a short interval
    (``tools/data/resize_videos.py --gop 16``), where every start is within
    15 frames of a keyframe anyway.

    Needs the ``video_reader`` that ``DecordInit`` puts in the results; it
    falls back to ``SampleFrames`` when there is none, in test mode (where
    sampling stays deterministic), or when no keyframe window fits a clip.

    Args:
        max_lead: the most frames decoded before a clip's first frame.
        **kwargs: see ``mmaction.datasets.transforms.SampleFrames``.
    """

    def __init__(self, *args, max_lead: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if int(max_lead) < 0:
            raise ValueError(f'max_lead must be >= 0, got {max_lead}')
        self.max_lead = int(max_lead)
        self._keyframes: Optional[np.ndarray] = None

    def transform(self, results: dict) -> dict:
        reader = results.get('video_reader')
        if self.test_mode or reader is None or not hasattr(
                reader, 'get_key_indices'):
            return super().transform(results)
        self._keyframes = np.asarray(reader.get_key_indices(), np.int64)
        try:
            return super().transform(results)
        finally:
            self._keyframes = None

    def _get_train_clips(self, num_frames: int,
                         ori_clip_len: float) -> np.ndarray:
        keys = self._keyframes
        last_start = int(num_frames - ori_clip_len)  # inclusive
        if keys is None or keys.size == 0 or last_start < 0:
            return super()._get_train_clips(num_frames, ori_clip_len)
        # allowed starts: [k, k + max_lead] for each keyframe k, clipped
        lo = keys[keys <= last_start]
        if lo.size == 0:
            return super()._get_train_clips(num_frames, ori_clip_len)
        hi = np.minimum(lo + self.max_lead, last_start)
        # one window per clip segment, as SampleFrames does
        seg = (last_start + 1) / self.num_clips
        offsets = np.empty(self.num_clips, np.int64)
        for c in range(self.num_clips):
            s0, s1 = int(np.ceil(c * seg)), int(np.ceil((c + 1) * seg)) - 1
            a, b = np.maximum(lo, s0), np.minimum(hi, s1)
            ok = a <= b
            if not ok.any():  # no keyframe window in this segment
                offsets[c] = np.random.randint(s0, max(s1, s0) + 1)
                continue
            a, b = a[ok], b[ok]
            sizes = b - a + 1
            pick = np.random.randint(int(sizes.sum()))
            window = int(np.searchsorted(np.cumsum(sizes), pick, 'right'))
            offsets[c] = a[window] + pick - int(sizes[:window].sum())
        return offsets

    def __repr__(self) -> str:
        return (f'{super().__repr__()[:-1]}, max_lead={self.max_lead})')
