"""Batching of grounding samples: clip features plus a tokenized query."""
import torch

from ...registry import MODELS
from .video_text import VideoTextDataPreprocessor


@MODELS.register_module()
class GroundingDataPreprocessor(VideoTextDataPreprocessor):
    """Stack ``features`` ``(N_in, D)`` into ``(B, N_in, D)`` float; pad the
    query's ``input_ids`` / ``attention_mask`` as
    :class:`VideoTextDataPreprocessor` does."""

    def forward(self, data: dict, training: bool = False) -> dict:
        samples = data['inputs']
        if isinstance(samples, dict):  # already collated by default_collate
            samples = [dict(zip(samples, vals))
                       for vals in zip(*samples.values())]
        shapes = {tuple(s['features'].shape) for s in samples}
        if len(shapes) != 1:
            raise ValueError(f'features of one batch differ in shape '
                             f'{sorted(shapes)}: the dataset must resample '
                             'every video to num_sample_clips')
        features = torch.stack([torch.as_tensor(s['features'])
                                for s in samples]).float()
        rest = [{k: v for k, v in s.items() if k != 'features'}
                for s in samples]
        out = super().forward(dict(inputs=rest,
                                   data_samples=data.get('data_samples')),
                              training)
        out['inputs']['features'] = self.cast_data(features)
        return out
