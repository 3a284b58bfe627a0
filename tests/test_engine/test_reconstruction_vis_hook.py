"""ReconstructionVisHook writes images through mmengine's vis backends."""
import glob
import os.path as osp
import uuid
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.visualization import Visualizer
from PIL import Image

import simvtp  # noqa: F401
from simvtp.engine.hooks import ReconstructionVisHook
from simvtp.registry import HOOKS, MODELS
from tests.tiny_model import build_tiny
from simvtp.visualization import LABEL_WIDTH

B, T, S, P, V = 4, 4, 32, 16, 40
N = (T // 2) * (S // P)**2


def build_model():
    return build_tiny(seed=None, layers=1, frames=T, size=S, patch=P,
                      vocab=V, vtc_head=dict(learnable_temperature=False))


def samples(num=B, masked=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(num):
        n = 5 + i % 3
        ids = torch.randint(5, V, (n, ), generator=g)
        ids[0], ids[-1] = 2, 3
        inputs = dict(video=torch.randint(0, 256, (3, T, S, S),
                                          dtype=torch.uint8, generator=g),
                      input_ids=ids.clone(),
                      attention_mask=torch.ones(n, dtype=torch.long))
        if masked:
            mask = torch.zeros(N, dtype=torch.bool)
            mask[torch.tensor([0, 3, 4, 7])] = True
            labels = torch.full((n, ), -100)
            labels[1] = ids[1]
            inputs['input_ids'][1] = 4
            inputs.update(video_mask=mask, mlm_labels=labels,
                          input_ids_unmasked=ids)
        out.append(dict(inputs=inputs, data_samples=None))
    return out


def test_hook_is_registered():
    init_default_scope('simvtp')
    hook = HOOKS.build(dict(type='ReconstructionVisHook', interval=3,
                            num_samples=1))
    assert isinstance(hook, ReconstructionVisHook) and hook.interval == 3


def test_hook_in_a_short_runner_run(tmp_path):
    from mmengine.runner import Runner
    loader = torch.utils.data.DataLoader(samples(8), batch_size=B,
                                         collate_fn=pseudo_collate)
    runner = Runner(
        model=build_model(), work_dir=str(tmp_path),
        train_dataloader=loader,
        train_cfg=dict(by_epoch=False, max_iters=2, val_interval=100),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-4)),
        custom_hooks=[dict(type='ReconstructionVisHook', interval=2,
                           num_samples=2)],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=100),
                           logger=dict(type='LoggerHook', interval=1)),
        visualizer=dict(type='Visualizer', name=f'vis-{uuid.uuid4().hex}',
                        vis_backends=[dict(type='LocalVisBackend')]),
        default_scope='simvtp', log_level='WARNING')
    runner.train()
    files = glob.glob(osp.join(str(tmp_path), '*', 'vis_data', 'vis_image',
                               'reconstruction_*.png'))
    assert [osp.basename(f) for f in files] == ['reconstruction_2.png']
    image = Image.open(files[0])
    assert image.width == LABEL_WIDTH + T * S
    assert image.height > 2 * 3 * S  # two clips, three rows each
    assert runner.model.training


def fake_runner(tmp_path, model, iteration):
    vis = Visualizer(name=f'vis-{uuid.uuid4().hex}', save_dir=str(tmp_path),
                     vis_backends=[dict(type='LocalVisBackend')])
    return SimpleNamespace(model=model, visualizer=vis, iter=iteration,
                           logger=MMLogger.get_current_instance(),
                           train_dataloader=None)


def test_hook_restores_modes_and_weights(tmp_path):
    model = build_model()
    model.train()
    model.backbone.blocks[0].eval()  # e.g. a frozen part stays frozen
    before = {k: v.clone() for k, v in model.state_dict().items()}
    hook = ReconstructionVisHook(interval=5, num_samples=3, scale=2)
    batch = pseudo_collate(samples())
    runner = fake_runner(tmp_path, model, iteration=3)  # 4 % 5 != 0
    hook.after_train_iter(runner, 3, batch)
    assert not glob.glob(str(tmp_path / 'vis_data' / 'vis_image' / '*.png'))
    runner.iter = 9  # the 10th iteration
    hook.after_train_iter(runner, 9, batch)
    path = tmp_path / 'vis_data' / 'vis_image' / 'reconstruction_10.png'
    image = np.asarray(Image.open(path))
    assert image.shape[1] == LABEL_WIDTH + T * S * 2
    assert model.training and model.video_decoder.training
    assert not model.backbone.blocks[0].training
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_hook_skips_unmasked_batches(tmp_path, caplog):
    model = build_model()
    hook = ReconstructionVisHook(interval=1)
    runner = fake_runner(tmp_path, model, iteration=0)
    hook.after_train_iter(runner, 0, pseudo_collate(samples(masked=False)))
    assert not glob.glob(str(tmp_path / 'vis_data' / 'vis_image' / '*.png'))
    assert hook._warned


def test_hook_rejects_bad_arguments():
    with pytest.raises(ValueError):
        ReconstructionVisHook(num_samples=0)
