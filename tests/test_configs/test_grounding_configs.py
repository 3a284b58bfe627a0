"""Grounding configs carry 2D-TAN's per-dataset hyper-parameters."""
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import simvtp  # noqa: F401
from simvtp.registry import MODELS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# N, scales, map conv layers x kernel, IoU bounds: 2D-TAN's *-conv.yaml
TWO_D_TAN = {
    'tan2d_charades_sta.py': (16, [16], 8, 5, (0.5, 1.0)),
    'tan2d_activitynet_captions.py': (64, [16, 8, 8], 4, 9, (0.5, 1.0)),
    'tan2d_tacos.py': (128, [16, 8, 8, 8], 8, 5, (0.3, 0.7)),
}


def load(name):
    return Config.fromfile(f'{REPO}/configs/grounding/{name}')


@pytest.mark.parametrize('name', sorted(TWO_D_TAN))
def test_dataset_configs_follow_2dtan(name):
    cfg = load(name)
    num, scales, layers, kernel, bounds = TWO_D_TAN[name]
    m = cfg.model
    sampled = cfg.train_dataloader.dataset.num_sample_clips
    assert sampled == 256
    assert m.frame_pool.kernel_size == m.frame_pool.stride == sampled // num
    assert m.frame_pool.hidden_dims == 512 and m.frame_pool.in_channels == 768
    assert list(m.proposal.num_scale_layers) == scales
    assert list(m.map_conv.kernel_sizes) == [kernel] * layers
    assert list(m.map_conv.hidden_dims) == [512] * layers
    assert (m.loss.min_iou, m.loss.max_iou) == bounds
    assert m.nms_thresh == 0.5
    assert cfg.optim_wrapper.optimizer.type == 'Adam'
    assert cfg.optim_wrapper.optimizer.lr == 1e-4
    assert cfg.train_dataloader.batch_size == 32
    # a validation split that is not the test split selects checkpoints
    val, test = cfg.val_dataloader.dataset, cfg.test_dataloader.dataset
    assert (val.ann_file, val.get('holdout')) != (test.ann_file,
                                                   test.get('holdout'))
    assert cfg.default_hooks.checkpoint.save_best.startswith('grounding/')


def test_activitynet_validates_on_val1_tests_on_val2():
    cfg = load('tan2d_activitynet_captions.py')
    assert cfg.val_dataloader.dataset.ann_file.endswith('val_1.json')
    assert cfg.test_dataloader.dataset.ann_file.endswith('val_2.json')


def test_charades_val_is_heldout_from_train():
    cfg = load('tan2d_charades_sta.py')
    train, val = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    assert train.ann_file == val.ann_file
    assert (train.holdout.part, val.holdout.part) == ('train', 'heldout')
    assert train.holdout.seed == val.holdout.seed


def test_synthetic_config_uses_the_pretraining_data_and_builds():
    cfg = load('tan2d_synthetic.py')
    pre = Config.fromfile(f'{REPO}/configs/simvtp/pretrain_synthetic.py')
    # the text encoder's vocabulary is the pre-training's
    assert cfg.synthetic_data == pre.synthetic_data
    assert cfg.tokenizer == pre.tokenizer
    assert cfg.feature_extraction.checkpoint == \
        cfg.model.query_encoder.checkpoint == \
        'work_dirs/pretrain_synthetic/epoch_4.pth'
    ext = cfg.feature_extraction
    assert ext.clip_len == pre.num_frames and \
        ext.frame_interval == pre.frame_interval
    init_default_scope('simvtp')
    model = MODELS.build(cfg.model)
    assert model.query_encoder.out_dims == cfg.feature_dim
    inputs = dict(features=torch.randn(2, cfg.num_sample_clips,
                                       cfg.feature_dim),
                  input_ids=torch.tensor([[2, 9, 3], [2, 10, 3]]),
                  attention_mask=torch.ones(2, 3, dtype=torch.long))
    assert model(inputs).shape == (2, cfg.num_clips, cfg.num_clips)


def test_random_video_control_differs_only_in_features():
    base = load('tan2d_synthetic.py')
    control = load('tan2d_synthetic_random_video.py')
    assert control.feature_extraction.checkpoint is None
    assert control.model == base.model
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        feature_file = control[loader].dataset.feature_file
        assert feature_file == control.feature_extraction.out != \
            base.feature_extraction.out
