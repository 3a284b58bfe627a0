"""The synthetic grounding config's pipeline through mmengine's Runner:
train, select on val, test the selected checkpoint."""
import json
import os

import h5py
import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import simvtp  # noqa: F401
from simvtp.utils.safe_load import load_checkpoint_file

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def write_split(root, name, num_videos, rng, feats):
    ann = {}
    for i in range(num_videos):
        vid = f'{name}{i}'
        ann[vid] = dict(duration=20.0, timestamps=[[2.0, 6.0], [10.0, 18.0]],
                        sentences=['a red circle', 'the blue square'])
        feats[vid] = rng.normal(size=(int(rng.integers(5, 12)), 8))
    path = os.path.join(root, f'{name}.json')
    with open(path, 'w') as f:
        json.dump(ann, f)
    return path


def test_train_select_on_val_and_test(tmp_path, tiny_tokenizer_dir):
    rng = np.random.default_rng(0)
    feats = {}
    anns = {s: write_split(str(tmp_path), s, n, rng, feats)
            for s, n in (('train', 6), ('val', 2), ('test', 3))}
    feature_file = str(tmp_path / 'f.hdf5')
    with h5py.File(feature_file, 'w') as f:
        for vid, arr in feats.items():
            f.create_group(vid).create_dataset('c3d_features', data=arr)
    cfg = Config.fromfile(f'{REPO}/configs/grounding/tan2d_synthetic.py')
    cfg.synthetic_data = cfg.synthetic_grounding_data = None
    cfg.feature_extraction = None
    cfg.model.frame_pool.update(in_channels=8, hidden_dims=8)
    cfg.model.query_encoder = dict(type='LSTMQueryEncoder',
                                   tokenizer=tiny_tokenizer_dir,
                                   embed_dims=4, hidden_dims=8, num_layers=1)
    cfg.model.map_conv.hidden_dims = [8, 8]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        split = loader.split('_')[0]
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
        cfg[loader].dataset.update(ann_file=anns[split],
                                   feature_file=feature_file,
                                   serialize_data=False)
        cfg[loader].dataset.pipeline[0].tokenizer = tiny_tokenizer_dir
    cfg.train_cfg.max_epochs = 2
    cfg.param_scheduler = []
    cfg.work_dir = str(tmp_path / 'work')
    cfg.default_hooks.logger.interval = 1
    runner = Runner.from_cfg(cfg)
    runner.train()
    best = runner.message_hub.get_info('best_ckpt')
    assert best and os.path.isfile(best)
    metrics = runner.test()
    assert metrics['grounding/num_queries'] == 6
    assert 0 <= metrics['grounding/R1@IoU0.5'] <= metrics[
        'grounding/R5@IoU0.5'] <= 100
    # the tested weights are the selected checkpoint's
    state = load_checkpoint_file(best)['state_dict']
    for name, value in runner.model.state_dict().items():
        torch.testing.assert_close(value, state[name])
