"""Periodic reconstruction images during pre-training."""
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from simvtp.registry import HOOKS

__all__ = ['ReconstructionVisHook']


@HOOKS.register_module()
class ReconstructionVisHook(Hook):
    """Every ``interval`` training iterations, draw the model's
    reconstruction of (the first ``num_samples`` clips of) the current batch
    and send it to every vis backend of ``runner.visualizer``.

    The batch already carries the tube and text masks of the train pipeline.
    The model runs ``predict`` in eval mode under ``no_grad`` (each
    submodule's train/eval flag is restored afterwards); nothing is
    back-propagated. The image (rows original / masked / reconstructed per
    frame, plus original / masked / predicted captions, one grid per clip)
    is written with ``runner.visualizer.add_image(name, image,
    step=iteration)``: ``LocalVisBackend`` saves
    ``vis_data/vis_image/{name}_{iteration}.png``, ``TensorboardVisBackend``
    logs it. Only the main process draws.

    Args:
        interval (int): Draw every ``interval`` iterations (<= 0: never).
        num_samples (int): Clips of the batch to draw.
        use_target_stats (bool): Un-normalise the hidden patches with their
            ground-truth statistics (flagged in the image title); default
            False (prediction only).
        scale (int): Integer up-scaling of the frames.
        name (str): Image name for the vis backends.
    """

    priority = 'LOW'

    def __init__(self,
                 interval: int = 500,
                 num_samples: int = 2,
                 use_target_stats: bool = False,
                 scale: int = 1,
                 name: str = 'reconstruction') -> None:
        if num_samples < 1:
            raise ValueError(f'num_samples must be >= 1, got {num_samples}')
        self.interval = int(interval)
        self.num_samples = int(num_samples)
        self.use_target_stats = bool(use_target_stats)
        self.scale = int(scale)
        self.name = name
        self._tokenizer = None
        self._tokenizer_searched = False
        self._warned = False

    # ---------------------------------------------------------------- hooks
    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if self.interval <= 0 or data_batch is None:
            return
        if not self.every_n_train_iters(runner, self.interval):
            return
        if not is_main_process():
            return
        self.visualize(runner, data_batch, step=runner.iter + 1)

    # --------------------------------------------------------------- helpers
    def _subset(self, data_batch: dict) -> dict:
        """The first ``num_samples`` items of a (pseudo- or default-)
        collated batch."""
        n = self.num_samples
        inputs = data_batch['inputs']
        if isinstance(inputs, dict):
            inputs = {k: v[:n] for k, v in inputs.items()}
        else:
            inputs = list(inputs)[:n]
        samples = data_batch.get('data_samples')
        if isinstance(samples, Sequence) and not isinstance(samples, str):
            samples = list(samples)[:n]
        return dict(inputs=inputs, data_samples=samples)

    def _find_tokenizer(self, runner):
        if self._tokenizer_searched:
            return self._tokenizer
        self._tokenizer_searched = True
        try:
            from simvtp.visualization.inputs import find_tokenizer
            dataset = runner.train_dataloader.dataset
            while not hasattr(dataset, 'pipeline') and hasattr(
                    dataset, 'dataset'):
                dataset = dataset.dataset
            self._tokenizer = find_tokenizer(getattr(dataset, 'pipeline',
                                                     None))
        except Exception:  # no dataloader / pipeline: show token ids
            self._tokenizer = None
        return self._tokenizer

    @torch.no_grad()
    def visualize(self, runner, data_batch: dict, step: int) -> None:
        """Predict on ``data_batch``'s first clips and log the image."""
        from simvtp.visualization.reconstruction import (
            predict_reconstruction, render_batch)
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        modes = {m: m.training for m in model.modules()}
        model.eval()
        try:
            data = model.data_preprocessor(self._subset(data_batch), False)
            inputs = data['inputs']
            if 'video_mask' not in inputs or 'mlm_labels' not in inputs:
                if not self._warned:
                    runner.logger.warning(
                        'ReconstructionVisHook: the batch has no video_mask '
                        '/ mlm_labels (TubeMasking + TextMasking in the '
                        'train pipeline); nothing drawn')
                    self._warned = True
                return
            result = predict_reconstruction(model, inputs,
                                            self.use_target_stats)
        finally:
            for module, training in modes.items():
                module.training = training
        image = render_batch(result, inputs, self._find_tokenizer(runner),
                             self.use_target_stats, self.scale,
                             header=f'iteration {step}')
        runner.visualizer.add_image(self.name, np.asarray(image), step=step)
