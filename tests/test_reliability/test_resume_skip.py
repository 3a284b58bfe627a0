"""ResumableIterBasedTrainLoop: a resumed run loads no skipped sample and
continues with the batches an uninterrupted run draws."""
import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import simvtp  # noqa: F401

LOADED = []  # indices passed to __getitem__ (num_workers=0: this process)
SEEN = []  # indices the model trained on, batch by batch


class CountingData(Dataset):

    def __len__(self):
        return 10

    def __getitem__(self, i):
        LOADED.append(i)
        return dict(inputs=torch.tensor([float(i), 1.0]))


class RecordingModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='loss'):
        SEEN.append(inputs[:, 0].long().tolist())
        return dict(loss=(self.fc(inputs) ** 2).mean())


def make_runner(work_dir, max_iters, sampler, resume=False, workers=0):
    torch.manual_seed(0)
    return Runner(
        model=RecordingModel(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=CountingData(), batch_size=2,
                              num_workers=workers,
                              persistent_workers=workers > 0,
                              sampler=sampler,
                              collate_fn=dict(type='default_collate')),
        train_cfg=dict(type='ResumableIterBasedTrainLoop',
                       max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=max_iters,
                                           by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        default_scope='simvtp', randomness=dict(seed=0), resume=resume,
        experiment_name=f'{work_dir.name}-{max_iters}-{resume}')


@pytest.mark.parametrize('sampler', [
    dict(type='DefaultSampler', shuffle=True),
    dict(type='InfiniteSampler', shuffle=True)])
def test_resume_skips_without_loading(tmp_path, sampler):
    # 12 iterations straight (5 batches an epoch: crosses two epochs)
    LOADED.clear(), SEEN.clear()
    make_runner(tmp_path / 'straight', 12, sampler).train()
    straight = list(SEEN)
    assert len(straight) == 12
    # 7 iterations, checkpoint, then resume to 12
    SEEN.clear()
    make_runner(tmp_path / 'cut', 7, sampler).train()
    assert SEEN == straight[:7]
    LOADED.clear(), SEEN.clear()
    make_runner(tmp_path / 'cut', 12, sampler, resume=True).train()
    assert SEEN == straight[7:]  # the same batches as the straight run
    assert len(LOADED) == 5 * 2  # only the 5 remaining batches were loaded


def test_resume_with_persistent_workers_continues_the_batches(tmp_path):
    """Workers already prefetching epoch 0 are reset, not read from."""
    sampler = dict(type='DefaultSampler', shuffle=True)
    SEEN.clear()
    make_runner(tmp_path / 'straight', 7, sampler, workers=2).train()
    straight = list(SEEN)
    make_runner(tmp_path / 'cut', 3, sampler, workers=2).train()
    SEEN.clear()
    make_runner(tmp_path / 'cut', 7, sampler, resume=True,
                workers=2).train()
    assert SEEN == straight[3:]
