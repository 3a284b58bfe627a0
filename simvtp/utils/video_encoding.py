"""Writing and re-encoding H.264 mp4 files with PyAV (libx264).

Used by ``tools/data/resize_videos.py`` (pre-resize a dataset and shorten its
keyframe interval, so data loading decodes fewer pixels and shorter runs of
frames) and by ``tools/analysis_tools/benchmark_data.py`` (WebVid-like test
clips). OpenCV's pip wheels cannot encode H.264, hence PyAV (``pip install
av``; its wheels bundle an FFmpeg with libx264).

Every file is written to ``<dst>.tmp.<pid>`` and renamed into place, so an
interrupted run never leaves a truncated video under the final name.
"""
import os
import os.path as osp
from fractions import Fraction
from typing import Iterable, Optional, Tuple

import numpy as np


def import_av():
    try:
        import av
    except ImportError:
        raise ImportError(
            'writing H.264 needs PyAV: pip install av (its wheels include '
            'FFmpeg with libx264)') from None
    return av


def even(x: float) -> int:
    """Nearest even integer >= 2 (yuv420p needs even width and height)."""
    return max(2, int(round(x / 2.0)) * 2)


def scaled_size(width: int, height: int,
                short_side: Optional[int]) -> Tuple[int, int]:
    """``(width, height)`` with the shorter side ``short_side`` (never
    upscaled), both even."""
    if not short_side or min(width, height) <= short_side:
        return even(width), even(height)
    scale = short_side / min(width, height)
    return even(width * scale), even(height * scale)


class H264Writer:
    """Encode RGB frames to an mp4 file.

    Args:
        path: the output file.
        width, height: frame size (even).
        fps: frame rate (a float or a ``Fraction``).
        gop: keyframe interval in frames (x264 ``keyint``; FFmpeg's default is
            250). Scene-cut keyframes are disabled so the interval is exact.
        crf: x264 constant rate factor (quality; 23 is FFmpeg's default).
        preset: x264 speed preset.
    """

    def __init__(self, path: str, width: int, height: int, fps,
                 gop: int = 250, crf: int = 23,
                 preset: str = 'veryfast') -> None:
        av = import_av()
        self.path = path
        self._tmp = f'{path}.tmp.{os.getpid()}'
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        self._container = av.open(self._tmp, 'w', format='mp4')
        rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream('libx264', rate=rate)
        self._frame_time = 1 / rate
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = 'yuv420p'
        self._stream.options = {
            'crf': str(crf), 'preset': preset,
            'x264-params': f'keyint={gop}:min-keyint={gop}:scenecut=0'}
        self.frames = 0

    def write(self, frame_rgb: np.ndarray) -> None:
        """``frame_rgb``: ``(H, W, 3)`` uint8."""
        av = import_av()
        frame = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(frame_rgb), format='rgb24')
        self._mux(frame)

    def write_av_frame(self, frame) -> None:
        """A decoded ``av.VideoFrame`` (any format/size): scaled by FFmpeg."""
        self._mux(frame.reformat(width=self._stream.width,
                                 height=self._stream.height,
                                 format='yuv420p'))

    def _mux(self, frame) -> None:
        # constant frame rate: pts counts frames in 1/fps units (decoded
        # frames carry their source's time base, which would confuse it)
        frame.pts = self.frames
        frame.time_base = self._frame_time
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - best effort on a failed file
            pass
        if osp.exists(self._tmp):
            os.remove(self._tmp)

    def __enter__(self) -> 'H264Writer':
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_h264(path: str, frames: Iterable[np.ndarray], fps: float,
               **kwargs) -> int:
    """Encode an iterable of ``(H, W, 3)`` uint8 RGB frames; returns the
    frame count. ``kwargs``: see :class:`H264Writer`."""
    frames = iter(frames)
    first = next(frames)
    height, width = first.shape[:2]
    with H264Writer(path, width, height, fps, **kwargs) as writer:
        writer.write(first)
        for frame in frames:
            writer.write(frame)
    return writer.frames


def reencode(src: str, dst: str, short_side: Optional[int] = None,
             gop: int = 250, crf: int = 23, preset: str = 'veryfast',
             ) -> dict:
    """Re-encode ``src`` to H.264 ``dst``: shorter side ``short_side`` (kept
    when smaller or None), keyframe every ``gop`` frames, same frame rate.
    Audio is dropped. Returns sizes and frame count."""
    av = import_av()
    with av.open(src) as container:
        if not container.streams.video:
            raise ValueError(f'{src}: no video stream')
        stream = container.streams.video[0]
        stream.thread_type = 'AUTO'
        fps = stream.average_rate or stream.guessed_rate or 25
        width, height = scaled_size(stream.codec_context.width,
                                    stream.codec_context.height, short_side)
        with H264Writer(dst, width, height, fps, gop=gop, crf=crf,
                        preset=preset) as writer:
            for frame in container.decode(stream):
                writer.write_av_frame(frame)
            if writer.frames == 0:  # raised inside: nothing is renamed
                raise ValueError(f'{src}: no decodable frames')
    return dict(src=src, dst=dst, frames=writer.frames, width=width,
                height=height, fps=float(fps))
