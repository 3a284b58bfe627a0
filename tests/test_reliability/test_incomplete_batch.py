"""An epoch whose last batch holds one sample trains through (VTM has no
negative for it) and the shipped configs drop incomplete batches anyway."""
import os

from mmengine.config import Config
from mmengine.runner import Runner

from tests.test_reliability.helpers import REPO, make_dataset, tiny_cfg


def test_batch_size_times_k_plus_one_samples_train_two_epochs(
        tiny_tokenizer_dir, tmp_path):
    ann, _ = make_dataset(str(tmp_path), num=2 * 2 + 1, frames=8)
    cfg = tiny_cfg(tmp_path, tiny_tokenizer_dir, ann,
                   str(tmp_path / 'videos'), [])
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2)
    cfg.train_dataloader.drop_last = False  # what a user's config may do
    cfg.train_dataloader.batch_size = 2
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.epoch == 2 and runner.iter == 6  # 3 batches (2, 2, 1)
    losses = runner.message_hub.get_scalar('train/loss_vtm').data[0]
    assert len(losses) == 6 and losses[2] == 0.0 and losses[5] == 0.0


def test_shipped_training_configs_drop_the_last_incomplete_batch():
    for name in ('pretrain_vitb.py', 'pretrain_synthetic.py'):
        cfg = Config.fromfile(os.path.join(REPO, 'configs', 'simvtp', name))
        assert cfg.train_dataloader.drop_last is True, name
