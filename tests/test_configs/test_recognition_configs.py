"""The action-recognition configs (issue 18): the synthetic default runs end
to end from a simvtp pre-training checkpoint; the Kinetics-400 and SSv2
configs are VideoMAE's fine-tuning recipe with mmaction2's test protocol."""
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import simvtp  # noqa: F401
from simvtp.datasets.synthetic import MOTIONS, generate_action_dataset
from simvtp.registry import MODELS
from tests.tiny_model import tiny_simvtp_cfg

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
RECOGNITION = f'{REPO}/configs/recognition'


def _step(pipeline, name):
    return next(s for s in pipeline if s['type'] == name)


@pytest.fixture
def simvtp_scope():
    with DefaultScope.overwrite_default_scope('simvtp'):
        yield


def test_action_dataset_is_balanced_and_labelled_by_motion(tmp_path):
    root = tmp_path / 'action'
    meta = generate_action_dataset(str(root), num_train=10, num_val=0,
                                   num_test=3, num_frames=4, size=32,
                                   motions=['moves left', 'grows'],
                                   workers=1, progress=False)
    assert meta['complete'] and meta['motions'] == ['moves left', 'grows']
    lines = (root / 'annotations' / 'train_list.txt').read_text().split('\n')
    labels = [int(line.split()[1]) for line in lines if line]
    assert labels == [0, 1] * 5
    assert (root / 'videos' / lines[0].split()[0]).is_file()
    assert (root / 'annotations' / 'classes.txt').read_text() == \
        'moves left\ngrows\n'
    with pytest.raises(ValueError, match='motions must be'):
        generate_action_dataset(str(root), motions=['moves sideways', 'grows'])


def test_synthetic_motion_from_pretraining_end_to_end(tmp_path,
                                                      simvtp_scope):
    """configs/recognition/synthetic_motion.py at toy scale: the encoder is
    initialised from a SimVTP pre-training checkpoint (with a report), then
    trained and tested by mmengine's Runner with mmaction2's AccMetric."""
    from mmengine.runner import Runner
    base = Config.fromfile(f'{RECOGNITION}/synthetic_motion.py')
    assert base.model.cls_head.num_classes == len(MOTIONS)
    bb = base.model.backbone
    # a toy pre-training run's checkpoint, same geometry, 1 block
    pre_cfg = tiny_simvtp_cfg(dims=32, layers=1, heads=2, frames=bb.num_frames,
                              size=bb.img_size, patch=bb.patch_size)
    torch.manual_seed(1)
    pretrain = MODELS.build(pre_cfg)
    pretrain.init_weights()
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save(dict(meta=dict(epoch=1), state_dict=pretrain.state_dict()),
               ckpt)

    data = tmp_path / 'action'
    cfg = base.copy()
    cfg.synthetic_action_data = dict(root=str(data), num_train=8, num_val=0,
                                     num_test=8, num_frames=32, fps=10,
                                     size=64, seed=0, workers=1,
                                     progress=False)
    cfg.model.backbone.arch = pre_cfg['backbone']['arch']
    cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    cells = bb.num_frames // bb.tubelet_size * bb.pool_grid[1] * \
        bb.pool_grid[2]
    assert base.model.cls_head.in_channels == 128 * cells
    cfg.model.cls_head.in_channels = 32 * cells
    for key in ('train_dataloader', 'test_dataloader'):
        loader = cfg[key]
        split = 'train' if key.startswith('train') else 'test'
        loader.update(batch_size=4, num_workers=0, persistent_workers=False)
        loader.dataset.ann_file = f'{data}/annotations/{split}_list.txt'
        loader.dataset.data_prefix = dict(video=f'{data}/videos')
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)
    cfg.work_dir = str(tmp_path / 'work')

    from simvtp.utils.setup import prepare_runtime
    prepare_runtime(cfg)  # generates the toy dataset
    assert (data / 'meta.json').is_file()

    model = MODELS.build(cfg.model)
    model.init_weights()
    source = pretrain.state_dict()
    loaded = model.backbone.state_dict()
    assert {k for k in loaded if 'backbone.' + k not in source} == \
        {'fc_norm.weight', 'fc_norm.bias'}  # new: fresh init
    for name, value in loaded.items():
        if not name.startswith('fc_norm.'):
            assert torch.equal(value, source['backbone.' + name]), name

    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    assert 0.0 <= metrics['acc/top1'] <= 1.0
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()


@pytest.mark.parametrize('name,clips,sampler,flips,classes', [
    ('vitb_16x4x1_kinetics400.py', 5, 'SampleFrames', True, 400),
    ('vitb_u16_sthv2.py', 2, 'UniformSample', False, 174),
])
def test_kinetics_and_sthv2_follow_videomae(name, clips, sampler, flips,
                                            classes):
    cfg = Config.fromfile(f'{RECOGNITION}/{name}')
    bb = cfg.model.backbone
    assert (bb.arch, bb.img_size, bb.num_frames, bb.patch_size) == \
        ('base', 224, 16, 16)
    assert bb.out_type == 'avg_featmap' and bb.fc_norm and \
        not bb.final_norm and bb.drop_path_rate == 0.1
    assert bb.init_cfg.type == 'SimVTPPretrained'
    assert cfg.model.cls_head.num_classes == classes
    blend = cfg.model.data_preprocessor.blending.augments
    assert [b.num_classes for b in blend] == [classes, classes]
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.75
    train = cfg.train_dataloader.dataset.pipeline
    assert _step(train, sampler)['clip_len'] == 16
    assert any(s['type'] == 'Flip' for s in train) == flips
    for aug in ('VideoRandAugment', 'VideoRandomErasing'):
        _step(train, aug)
    test = cfg.test_dataloader.dataset.pipeline
    assert _step(test, sampler)['num_clips'] == clips
    assert _step(test, 'ThreeCrop')['crop_size'] == 224
    assert cfg.test_evaluator.type == 'AccMetric'
