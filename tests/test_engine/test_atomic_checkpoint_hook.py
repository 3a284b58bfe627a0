"""AtomicCheckpointHook: a failed save never costs the previous checkpoint
(latest or best), and saves land under their final names complete."""
import os

import pytest
import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import simvtp  # noqa: F401  (registers the hook)
from simvtp.utils.atomic_io import TMP_SUFFIX

SCORES = [0.5, 0.8, 0.6, 0.9]  # validation score after epochs 1..4


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='loss'):
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        if mode == 'loss':
            return dict(loss=self.fc(x).pow(2).mean())
        return [dict() for _ in range(x.shape[0])]


class ToyData(Dataset):

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return dict(inputs=torch.tensor([float(i), 1.0]))


class EpochScore(BaseMetric):
    """Reports SCORES[epoch - 1] as ``acc``."""

    def __init__(self, runner_ref):
        super().__init__()
        self.runner_ref = runner_ref

    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        return dict(acc=SCORES[self.runner_ref[0].epoch - 1])


def make_runner(work_dir, fail_on=None):
    ref = []
    loader = dict(dataset=ToyData(), batch_size=2,
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='default_collate'))
    runner = Runner(
        model=ToyModel(), work_dir=str(work_dir),
        train_dataloader=loader, val_dataloader=loader,
        val_evaluator=Evaluator(EpochScore(ref)), val_cfg=dict(),
        train_cfg=dict(by_epoch=True, max_epochs=len(SCORES)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(
            type='AtomicCheckpointHook', interval=1, max_keep_ckpts=1,
            save_best='acc', rule='greater')),
        default_scope='simvtp', randomness=dict(seed=0),
        experiment_name=f'atomic-{os.path.basename(str(work_dir))}')
    ref.append(runner)
    if fail_on is not None:
        original = runner.save_checkpoint

        def save(out_dir, filename, *args, **kwargs):
            original(out_dir, filename, *args, **kwargs)
            if fail_on(runner, filename):
                raise OSError('disk full (injected)')
        runner.save_checkpoint = save
    return runner


def test_latest_and_best_files(tmp_path):
    runner = make_runner(tmp_path)
    runner.train()
    files = sorted(os.listdir(tmp_path))
    assert 'epoch_4.pth' in files and 'epoch_3.pth' not in files
    assert [f for f in files if f.startswith('best_')] == \
        ['best_acc_epoch_4.pth']
    assert (tmp_path / 'last_checkpoint').read_text().endswith(
        'epoch_4.pth')
    assert not [f for f in files if f.endswith(TMP_SUFFIX)]
    best = torch.load(tmp_path / 'best_acc_epoch_4.pth', weights_only=True)
    assert best['meta']['epoch'] == 4


def test_failed_best_save_keeps_the_previous_best(tmp_path):
    """The save of the new best (epoch 2) fails after writing: the best of
    epoch 1 must still be there (mmengine removes it before writing), and
    nothing partial sits under a final name."""
    def fail(runner, filename):
        return 'best_acc_epoch_2.pth' in filename

    runner = make_runner(tmp_path, fail_on=fail)
    with pytest.raises(OSError, match='injected'):
        runner.train()
    files = sorted(os.listdir(tmp_path))
    assert 'best_acc_epoch_1.pth' in files
    assert 'best_acc_epoch_2.pth' not in files
    assert not [f for f in files if f.endswith(TMP_SUFFIX)]
    torch.load(tmp_path / 'best_acc_epoch_1.pth', weights_only=True)


def test_failed_latest_save_keeps_pointer_and_previous_file(tmp_path):
    def fail(runner, filename):
        return 'epoch_3.pth' in filename and 'best' not in filename

    runner = make_runner(tmp_path, fail_on=fail)
    with pytest.raises(OSError, match='injected'):
        runner.train()
    files = sorted(os.listdir(tmp_path))
    assert 'epoch_2.pth' in files and 'epoch_3.pth' not in files
    assert (tmp_path / 'last_checkpoint').read_text().endswith(
        'epoch_2.pth')
    assert not [f for f in files if f.endswith(TMP_SUFFIX)]
