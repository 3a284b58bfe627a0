"""Opening a video that is already in memory (a WebDataset shard member)."""
import io
from typing import Dict

from mmaction.datasets.transforms import DecordInit

from ...registry import TRANSFORMS


@TRANSFORMS.register_module()
class DecordInitBytes(DecordInit):
    """mmaction's ``DecordInit`` for a video held in ``results['video_bytes']``.

    ``DecordInit`` reads a file's bytes and opens ``decord.VideoReader`` on
    a ``BytesIO`` of them; this step does the same with bytes a streaming
    dataset already holds (:class:`~simvtp.datasets.WebVidShardDataset`),
    so ``SampleFrames``, ``DecordDecode`` and everything after them are the
    file pipeline's steps, unchanged, and decode the same frames. The bytes
    are removed from ``results`` once the reader holds them. Without
    ``video_bytes`` it reads ``results['filename']`` as ``DecordInit`` does.

    Added keys: ``video_reader``, ``total_frames``, ``avg_fps``.

    Args:
        num_threads: decoding threads of the reader.
        **kwargs: see ``mmaction.datasets.transforms.DecordInit``.
    """

    def transform(self, results: Dict) -> Dict:
        data = results.pop('video_bytes', None)
        if data is None:
            return super().transform(results)
        import decord
        reader = decord.VideoReader(io.BytesIO(data),
                                    num_threads=self.num_threads)
        results['total_frames'] = len(reader)
        results['video_reader'] = reader
        results['avg_fps'] = reader.get_avg_fps()
        return results
