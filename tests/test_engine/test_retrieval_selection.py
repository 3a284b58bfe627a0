"""Honest selection: held-out val split, best-on-val testing, test.py init."""
import json
import textwrap

import pytest
import torch
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from mmengine.runner import Runner

import simvtp  # noqa: F401
from simvtp.datasets import MSRVTTDataset
from simvtp.registry import MODELS
from simvtp.utils.config_check import ConfigError
from simvtp.utils.model_selection import (check_selection_split,
                                          evaluate_checkpoints)
from tests.tiny_model import build_tiny, tiny_geometry
from tests.tool_loader import import_tool

NUM = 10
# R@1 (%) after epoch e on each split: val peaks at epoch 2, test at 3
QUALITY = dict(val={1: 20, 2: 80, 3: 50}, test={1: 30, 2: 40, 3: 100})


@MODELS.register_module(force=True)
class _EpochRetriever(BaseModel):
    """Each training step is one epoch; its retrieval quality on a split
    is read from QUALITY by the epoch counter (a saved parameter)."""

    def __init__(self):
        super().__init__()
        self.epoch = torch.nn.Parameter(torch.zeros(()),
                                        requires_grad=False)

    def train_step(self, data, optim_wrapper):
        self.epoch.data += 1
        return {}

    def forward(self, inputs, data_samples=None, mode='predict'):
        correct = round(QUALITY[data_samples[0].split][int(self.epoch)]
                        * NUM / 100)
        eye = torch.eye(NUM)
        for i, sample in zip(inputs, data_samples):
            text = i if i < correct else (i + 1) % NUM  # a wrong caption
            sample.features = InstanceData(video_feature=eye[i],
                                           text_feature=eye[text])
        return data_samples


def _split(name):
    return [dict(inputs=i, data_samples=ActionDataSample(
        metainfo=dict(video_id=i, split=name))) for i in range(NUM)]


def _loader(name, batch=NUM):
    return dict(dataset=_split(name), batch_size=batch,
                sampler=dict(type='DefaultSampler', shuffle=False),
                collate_fn=dict(type='pseudo_collate'))


def _runner(tmp_path, max_epochs=3):
    return Runner(
        model=_EpochRetriever(), work_dir=str(tmp_path),
        train_dataloader=_loader('val', batch=NUM),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs, val_interval=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.0)),
        val_dataloader=_loader('val'), val_cfg=dict(),
        val_evaluator=dict(type='VideoTextRetrievalMetric',
                           metric_list=('R1', )),
        test_dataloader=_loader('test'), test_cfg=dict(),
        test_evaluator=dict(type='VideoTextRetrievalMetric',
                            metric_list=('R1', )),
        default_hooks=dict(checkpoint=dict(
            type='CheckpointHook', interval=1, save_best='retrieval/R1',
            rule='greater')),
        default_scope='simvtp', log_level='WARNING',
        # its own MessageHub: two runners built within the same second share
        # the timestamp name, and the first one's best score with it
        experiment_name=f'selection_{tmp_path.name}')


def test_selection_on_val_picks_the_val_best_not_the_test_best(tmp_path):
    runner = _runner(tmp_path)
    runner.train()
    best, last = evaluate_checkpoints(runner, ['best', 'last'])
    assert 'epoch_2' in best['checkpoint']
    assert best['metrics']['retrieval/R1'] == pytest.approx(40)  # not 100
    assert last['metrics']['retrieval/R1'] == pytest.approx(100)


def test_best_at_the_last_epoch_is_tested_once(tmp_path, monkeypatch):
    runner = _runner(tmp_path, max_epochs=2)  # val peaks at epoch 2 = last
    runner.train()
    calls = []
    test = runner.test
    monkeypatch.setattr(runner, 'test', lambda: calls.append(1) or test())
    best, last = evaluate_checkpoints(runner, ['best', 'last'])
    assert 'epoch_2' in best['checkpoint'] and len(calls) == 1
    assert best['metrics'] == last['metrics']
    assert last['metrics']['retrieval/R1'] == pytest.approx(40)


def _loaders(val_ann, test_ann):
    def loader(ann):
        return dict(dataset=dict(type='BrokenSampleGuard', dataset=dict(
            type='MSRVTTDataset', ann_file=ann, per_video=True)))
    return Config(dict(val_dataloader=loader(val_ann),
                       test_dataloader=loader(test_ann)))


def test_selecting_on_test_needs_an_explicit_config(monkeypatch):
    logged = []
    monkeypatch.setattr('simvtp.utils.model_selection.print_log',
                        lambda msg, **kw: logged.append((msg, kw)))
    with pytest.raises(ConfigError, match='select_on_test'):
        check_selection_split(_loaders('a/test.json', 'a/test.json'))
    assert not check_selection_split(_loaders('a/val.json', 'a/test.json'))
    cfg = _loaders('a/test.json', 'a/test.json')
    cfg.select_on_test = True
    assert check_selection_split(cfg)
    (message, kwargs), = logged
    assert 'selection uses the TEST split' in message
    assert kwargs['level'] == 30  # WARNING


def test_holdout_carves_a_fixed_disjoint_val_split(tmp_path):
    ann = tmp_path / 'train.json'
    ann.write_text(json.dumps({f'v{i}.mp4': f'caption {i}'
                               for i in range(50)}))
    shuffled = tmp_path / 'shuffled.json'
    shuffled.write_text(json.dumps({f'v{i}.mp4': f'caption {i}'
                                    for i in reversed(range(50))}))

    def videos(path, part, seed=0):
        ds = MSRVTTDataset(str(path), holdout=dict(part=part, num_videos=8,
                                                   seed=seed))
        return {ds.get_data_info(i)['filename'] for i in range(len(ds))}

    val, train = videos(ann, 'val'), videos(ann, 'train')
    assert len(val) == 8 and len(train) == 42 and not val & train
    assert videos(shuffled, 'val') == val  # independent of the file order
    assert videos(ann, 'val', seed=1) != val
    with pytest.raises(ValueError, match='exactly one of num_videos'):
        MSRVTTDataset(str(ann), holdout=dict(part='val'))
    with pytest.raises(ValueError, match="holdout.part must be 'train'"):
        MSRVTTDataset(str(ann), holdout=dict(part='test', fraction=0.1))


def test_test_py_without_checkpoint_runs_the_init_cfg(tmp_path, monkeypatch):
    src = build_tiny(seed=7, dims=32)
    path = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=src.state_dict()), path)
    geometry = tiny_geometry(dims=32)['backbone']
    config = tmp_path / 'zero_shot.py'
    config.write_text(textwrap.dedent(f"""
        default_scope = 'simvtp'
        model = dict(
            type='VideoTextRetriever',
            backbone=dict(type='UnifiedViT', **{geometry!r}),
            init_cfg=dict(type='SimVTPPretrained', checkpoint={str(path)!r},
                          prefix_map={{'backbone.': 'backbone.'}}))
        test_dataloader = dict(
            batch_size=1, dataset=dict(type='MSRVTTDataset',
                                       ann_file='never_read.json'),
            sampler=dict(type='DefaultSampler', shuffle=False))
        test_evaluator = dict(type='VideoTextRetrievalMetric')
        test_cfg = dict(type='TestLoop')
    """))
    seen = {}

    def fake_test(runner):
        seen['w'] = runner.model.backbone.blocks[0].mlp.fc1.weight.clone()
        return {}

    monkeypatch.setattr(Runner, 'test', fake_test)
    monkeypatch.setattr('sys.argv', ['test.py', str(config), '--work-dir',
                                     str(tmp_path / 'work')])
    import_tool('.', 'test').main()
    assert torch.equal(seen['w'], src.backbone.blocks[0].mlp.fc1.weight)
