"""Non-finite losses are skipped, counted, and stop training when repeated."""
from unittest import mock

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner

import simvtp  # noqa: F401
from simvtp.engine.optim_wrappers import (NonFiniteLossError,
                                          SkipNonFiniteAmpOptimWrapper,
                                          SkipNonFiniteOptimWrapper)
from simvtp.registry import OPTIM_WRAPPERS


class NaNOnCalls(BaseModel):
    """A linear model whose loss is NaN (or inf) on the given calls."""

    def __init__(self, bad_calls=(), value=float('nan')):
        super().__init__()
        self.fc = nn.Linear(2, 1)
        self.bad_calls = set(bad_calls)
        self.value = value
        self.calls = 0

    def forward(self, inputs, data_samples=None, mode='loss'):
        self.calls += 1
        loss = (self.fc(inputs) - 1).pow(2).mean()
        if self.calls in self.bad_calls:
            loss = loss * self.value
        return dict(loss=loss)


def train(tmp_path, model, iters=6, **wrapper):
    data = [dict(inputs=torch.tensor([1.0, float(i % 3)])) for i in range(8)]
    runner = Runner(
        model=model, work_dir=str(tmp_path), default_scope='simvtp',
        train_dataloader=dict(
            dataset=data, batch_size=2, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(type='SkipNonFiniteOptimWrapper',
                           optimizer=dict(type='SGD', lr=0.05), **wrapper),
        train_cfg=dict(by_epoch=False, max_iters=iters),
        default_hooks=dict(checkpoint=None, logger=dict(
            type='LoggerHook', interval=1)))
    return runner


def params(model):
    return [p.detach().clone() for p in model.parameters()]


def test_nan_and_inf_steps_are_skipped_and_counted(tmp_path):
    model = NaNOnCalls(bad_calls={2, 4})
    runner = train(tmp_path, model)
    runner.train()
    wrapper = runner.optim_wrapper
    assert isinstance(wrapper, SkipNonFiniteOptimWrapper)
    assert wrapper.num_skipped == 2 and wrapper.num_consecutive == 0
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert runner.message_hub.get_info('nonfinite_skipped') == 2
    # a skipped step leaves the weights exactly as they were
    model2 = NaNOnCalls(bad_calls={1}, value=float('inf'))
    model2.load_state_dict(model.state_dict())
    before = params(model2)
    w2 = OPTIM_WRAPPERS.build(dict(
        type='SkipNonFiniteOptimWrapper',
        optimizer=torch.optim.SGD(model2.parameters(), lr=0.05)))
    w2.update_params(model2(torch.ones(1, 2))['loss'])
    assert all(torch.equal(a, b) for a, b in zip(before, params(model2)))
    assert w2.num_skipped == 1


def test_consecutive_non_finite_losses_stop_training(tmp_path):
    model = NaNOnCalls(bad_calls={3, 4, 5})
    runner = train(tmp_path, model, max_consecutive=3)
    with pytest.raises(NonFiniteLossError,
                       match=r'not finite \(nan\) in 3 consecutive steps '
                             r'\(max_consecutive=3\).*weights intact'):
        runner.train()
    assert runner.iter == 4  # stopped at the 5th iteration
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_counts_survive_checkpointing():
    model = nn.Linear(2, 1)
    wrapper = SkipNonFiniteOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    wrapper.update_params(model(torch.ones(1, 2)).sum() * float('nan'))
    state = wrapper.state_dict()
    fresh = SkipNonFiniteOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    fresh.load_state_dict(state)
    assert (fresh.num_skipped, fresh.num_consecutive) == (1, 1)


def test_amp_variant_skips_a_nan_loss_before_the_scaler_sees_it():
    """On CPU the loss scaler is disabled; the GPU path is the same code."""
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp
    model = nn.Linear(2, 1)
    with mock.patch.object(amp, 'is_cuda_available', return_value=True):
        wrapper = OPTIM_WRAPPERS.build(dict(
            type='SkipNonFiniteAmpOptimWrapper', dtype='bfloat16',
            max_consecutive=2,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
    assert isinstance(wrapper, SkipNonFiniteAmpOptimWrapper)
    before = params(model)
    wrapper.update_params(model(torch.ones(1, 2)).sum() * float('nan'))
    assert all(torch.equal(a, b) for a, b in zip(before, params(model)))
    wrapper.update_params(model(torch.ones(1, 2)).sum())
    assert not torch.equal(before[0], params(model)[0])
    assert wrapper.num_consecutive == 0
    assert 'loss_scaler' in wrapper.state_dict()
