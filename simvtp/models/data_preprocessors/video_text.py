"""Batching and normalisation of packed video-text samples."""
from typing import Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from ...registry import MODELS
from ..layers.tokens import num_visible

PAD_VALUES = dict(input_ids=None, input_ids_unmasked=None, attention_mask=0,
                  mlm_labels=-100)


@MODELS.register_module()
class VideoTextDataPreprocessor(BaseDataPreprocessor):
    """Stack and normalise videos, pad token arrays to the batch's longest.

    Output ``inputs`` (on the model's device):
        ``video``: float (B, C, T, H, W), ``(x - mean) / std`` with mean/std
        in 0-255 units (ImageNet's by default, as the reference);
        ``video_mask``: bool (B, N) when the samples carry one;
        ``input_ids``/``input_ids_unmasked``: long (B, L) padded with
        ``pad_token_id``; ``attention_mask``: long (B, L) padded with 0;
        ``mlm_labels``: long (B, L) padded with -100;
        ``num_visible``: int, visible tubes per sample (with ``video_mask``);
        ``video_group``: long (B,), the video each clip was cut from, when
        the samples carry one (``MultiClipDecode``: several clips per
        video; the losses never pair two clips of one video as a negative);
        ``text_padded``: bool, whether any caption is shorter than L;
        ``text_counts``: list of ints, only for per-video items carrying
        several captions ``(K_i, L_i)``: their captions are stacked into
        ``(sum K_i, L)`` rows, sample by sample.

    The two host-side facts are read from the samples before they are moved
    to the device, so the model needs no device-to-host read for them
    (SimVTP uses them on accelerators). Samples are stacked/padded on the host
    and moved as one tensor per key.

    Args:
        mean, std: per-channel normalisation in 0-255 units.
        pad_token_id: the tokenizer's [PAD] id (0 for BERT vocabularies).
    """

    def __init__(self,
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 pad_token_id: int = 0,
                 non_blocking: bool = True) -> None:
        super().__init__(non_blocking=non_blocking)
        self.register_buffer(
            'mean', torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1, 1),
            persistent=False)
        self.register_buffer(
            'std', torch.tensor(std, dtype=torch.float32).view(-1, 1, 1, 1),
            persistent=False)
        self.pad_token_id = pad_token_id

    def normalize(self, video: torch.Tensor) -> torch.Tensor:
        """uint8/float (B, C, T, H, W) in 0-255 -> normalised float."""
        return (video.float() - self.mean) / self.std

    def to_unit_range(self, video: torch.Tensor) -> torch.Tensor:
        """Normalised (B, C, T, H, W) -> pixels in [0, 1] (float32)."""
        return (video.float() * self.std + self.mean) / 255.

    def forward(self, data: dict, training: bool = False) -> dict:
        samples = data['inputs']
        if isinstance(samples, dict):  # already collated by default_collate
            samples = [dict(zip(samples, vals))
                       for vals in zip(*samples.values())]
        inputs = {}
        keys = samples[0].keys()
        if 'video' in keys:
            inputs['video'] = torch.stack([torch.as_tensor(s['video'])
                                           for s in samples])
        if 'video_mask' in keys:
            mask = torch.stack([torch.as_tensor(s['video_mask'])
                                for s in samples]).bool()
            inputs['video_mask'] = mask
            inputs['num_visible'] = num_visible(mask)  # host: no sync
        if 'video_group' in keys:  # clips of one video (MultiClipDecode)
            inputs['video_group'] = torch.stack(
                [torch.as_tensor(s['video_group']) for s in samples]).long()
        counts = None  # captions per sample, for per-video items
        for key, pad in PAD_VALUES.items():
            if key in keys:
                value = self.pad_token_id if pad is None else pad
                rows = [torch.as_tensor(s[key]) for s in samples]
                if any(r.dim() == 2 for r in rows):
                    rows = [r.reshape(-1, r.shape[-1]) for r in rows]
                    counts = [r.shape[0] for r in rows]
                    rows = [row for r in rows for row in r]
                inputs[key] = pad_sequences(rows, value)
        if counts is not None:
            inputs['text_counts'] = counts
        if 'attention_mask' in inputs:
            inputs['text_padded'] = not bool(inputs['attention_mask'].all())
        data = self.cast_data(dict(inputs=inputs,
                                   data_samples=data.get('data_samples')))
        if 'video' in data['inputs']:
            data['inputs']['video'] = self.normalize(data['inputs']['video'])
        return data


def pad_sequences(seqs: Sequence[torch.Tensor], value: int,
                  length: Optional[int] = None) -> torch.Tensor:
    """Right-pad 1-D tensors to ``length`` (default: the longest) -> (B, L)."""
    length = length or max(len(s) for s in seqs)
    out = seqs[0].new_full((len(seqs), length), value)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out
