"""A config's test pipeline, split for inference on videos and captions.

The evaluation pipeline of a simvtp config (``test_dataloader.dataset``,
through any wrapper such as ``BrokenSampleGuard``) reads a video file,
samples and decodes frames, resizes/crops, formats ``NCTHW`` and, for the
caption, tokenizes. :class:`InferencePipeline` runs exactly those steps on
what a user hands the API:

* a video **path**: every video step, as the dataset would;
* decoded **frames** ``(T, H, W, 3)`` uint8 (RGB): the sampling steps (on
  ``total_frames = T``), the frames at the sampled indices, then the steps
  after decoding;
* a torch **tensor** ``(C, T, H, W)`` / ``(V, C, T, H, W)`` (``C = 3``)
  already at the model's geometry, values in 0-255: used as is (a 4-D
  tensor whose last dimension is 3 counts as decoded frames);
* a **caption**: the config's ``TokenizeText`` step.

Training-only steps (``TubeMasking``, ``TextMasking``) and the packing step
are left out: the API packs its own inputs.
"""
import copy
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config

from ..registry import TRANSFORMS

__all__ = ['InferencePipeline', 'eval_pipeline_of', 'VideoInput']

#: what a video can be handed as (see the module docstring)
VideoInput = Union[str, np.ndarray, torch.Tensor]

# steps that make training targets or pack samples: not run at inference
SKIPPED_STEPS = ('TubeMasking', 'TextMasking', 'PackVideoTextInputs',
                 'PackActionInputs')
TEXT_STEPS = ('TokenizeText', )


def _type_name(step: dict) -> str:
    name = step['type'] if isinstance(step['type'], str) else \
        step['type'].__name__
    return name.split('.')[-1]


def eval_pipeline_of(cfg: Config) -> List[dict]:
    """The evaluation pipeline of ``cfg``.

    Looks at ``test_dataloader.dataset`` (descending through wrappers that
    hold a ``dataset``), then ``val_dataloader.dataset``, then a top-level
    ``test_pipeline``.

    Raises:
        KeyError: naming the keys looked at when none has a pipeline.
    """
    for loader in ('test_dataloader', 'val_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset')
        while isinstance(dataset, dict):
            if 'pipeline' in dataset:
                return copy.deepcopy(list(dataset['pipeline']))
            dataset = dataset.get('dataset')
    if cfg.get('test_pipeline'):
        return copy.deepcopy(list(cfg['test_pipeline']))
    raise KeyError(f'config {cfg.filename}: no pipeline in test_dataloader.'
                   'dataset[.dataset...].pipeline, val_dataloader.dataset, '
                   'or test_pipeline')


class InferencePipeline:
    """Turn videos and captions into model inputs with a config's steps.

    Args:
        pipeline: the evaluation pipeline (list of transform configs), e.g.
            :func:`eval_pipeline_of`. It must contain a decoding step (a
            type ending in ``Decode``) and a ``FormatShape`` step.
        num_clips: overrides ``num_clips`` of the sampling step: ``S``
            temporal views per video (features are averaged over views).
    """

    def __init__(self, pipeline: Sequence[dict],
                 num_clips: Optional[int] = None) -> None:
        steps = [copy.deepcopy(dict(s)) for s in pipeline]
        names = [_type_name(s) for s in steps]
        decode = [i for i, n in enumerate(names) if n.endswith('Decode')]
        if not decode:
            raise ValueError('the pipeline has no decoding step (a type '
                             f'ending in "Decode"): {names}')
        if 'FormatShape' not in names:
            raise ValueError(f'the pipeline has no FormatShape step: {names}')
        d = decode[0]
        if num_clips is not None:
            if num_clips < 1:
                raise ValueError(f'num_clips must be >= 1, got {num_clips}')
            samplers = [s for s in steps[:d] if 'num_clips' in s or
                        _type_name(s).endswith('SampleFrames')]
            if not samplers:
                raise ValueError('num_clips given but the pipeline has no '
                                 f'sampling step before decoding: {names}')
            for s in samplers:
                s['num_clips'] = int(num_clips)
        self.num_clips = num_clips
        self.config = dict(
            video=[s for s, n in zip(steps, names)
                   if n not in SKIPPED_STEPS + TEXT_STEPS],
            text=[s for s, n in zip(steps, names) if n in TEXT_STEPS])
        build = TRANSFORMS.build
        self.opening = [build(s) for s, n in zip(steps[:d], names[:d])
                        if n.endswith('Init')]
        self.sampling = [build(s) for s, n in zip(steps[:d], names[:d])
                         if not n.endswith('Init') and n not in SKIPPED_STEPS]
        self.decoding = build(steps[d])
        self.frame_steps = [build(s) for s, n in zip(steps[d + 1:],
                                                     names[d + 1:])
                            if n not in SKIPPED_STEPS + TEXT_STEPS]
        text = [build(s) for s, n in zip(steps, names) if n in TEXT_STEPS]
        self.tokenize = text[0] if text else None

    # ------------------------------------------------------------- videos
    def video(self, item: VideoInput) -> torch.Tensor:
        """One video -> uint8/float ``(V, C, T, H, W)``, values in 0-255.

        Raises:
            TypeError: for an unsupported input type or shape.
            Whatever the reading steps raise for an unreadable file (the
            callers report it with the path).
        """
        if isinstance(item, str):
            results = dict(filename=item, start_index=0, modality='RGB')
            for step in self.opening + self.sampling + [self.decoding]:
                results = step(results)
            return self._finish(results)
        if isinstance(item, torch.Tensor) and item.dim() in (4, 5) and \
                item.shape[-4] == 3 and item.shape[-1] != 3:
            return item[None] if item.dim() == 4 else item
        if isinstance(item, np.ndarray) or isinstance(item, torch.Tensor):
            frames = np.asarray(item)
            if frames.ndim != 4 or frames.shape[-1] != 3:
                raise TypeError('decoded frames must be (T, H, W, 3) RGB, '
                                f'got shape {frames.shape}')
            results = dict(total_frames=len(frames), start_index=0,
                           modality='RGB')
            for step in self.sampling:
                results = step(results)
            inds = np.asarray(results['frame_inds']).reshape(-1)
            inds = np.mod(inds, len(frames))  # as DecordDecode's readers
            results['imgs'] = [frames[i] for i in inds]
            results['original_shape'] = results['img_shape'] = \
                frames.shape[1:3]
            return self._finish(results)
        raise TypeError('a video must be a path, decoded frames (T, H, W, '
                        '3) or a (C, T, H, W) / (V, C, T, H, W) tensor, got '
                        f'{type(item).__name__}')

    def _finish(self, results: dict) -> torch.Tensor:
        results.pop('video_reader', None)
        for step in self.frame_steps:
            results = step(results)
        imgs = np.ascontiguousarray(results['imgs'])
        if imgs.ndim != 5:
            raise ValueError('the pipeline must end with FormatShape('
                             f"'NCTHW'); got imgs of shape {imgs.shape}")
        return torch.from_numpy(imgs)

    # ----------------------------------------------------------- captions
    def text(self, caption: str) -> Tuple[torch.Tensor, torch.Tensor]:
        """One caption -> ``input_ids``, ``attention_mask`` (L,) int64."""
        if self.tokenize is None:
            raise ValueError('the config\'s test pipeline has no '
                             'TokenizeText step, so captions cannot be '
                             'encoded')
        if not isinstance(caption, str):
            raise TypeError(f'a caption must be a str, got '
                            f'{type(caption).__name__}')
        out = self.tokenize(dict(text=caption))
        return (torch.as_tensor(np.asarray(out['input_ids'], np.int64)),
                torch.as_tensor(np.asarray(out['attention_mask'], np.int64)))
