"""LazyRuntimeInfoHook: same message-hub values, no per-step .item()."""
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import simvtp  # noqa: F401  (registers the hook)


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='loss'):
        x = inputs if torch.is_tensor(inputs) else torch.stack(inputs)
        out = self.fc(x)
        return dict(loss=(out ** 2).mean(), loss_aux=out.abs().mean(),
                    acc=(out > 0).float().mean())


class ToyData(Dataset):

    def __len__(self):
        return 10

    def __getitem__(self, i):
        return dict(inputs=torch.tensor([float(i), 1.0]))


def _train(tmp_path, name, runtime_info, monkeypatch, ckpt_interval=4):
    calls = []
    original = torch.Tensor.item

    def counting_item(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(torch.Tensor, 'item', counting_item)
    torch.manual_seed(0)  # the same initial weights in both runs
    runner = Runner(
        model=ToyModel(), work_dir=str(tmp_path / name),
        train_dataloader=dict(dataset=ToyData(), batch_size=2,
                              sampler=dict(type='DefaultSampler',
                                           shuffle=False),
                              collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(runtime_info=runtime_info,
                           logger=dict(type='LoggerHook', interval=3),
                           checkpoint=dict(type='CheckpointHook',
                                           interval=ckpt_interval,
                                           by_epoch=False)),
        default_scope='simvtp', randomness=dict(seed=0),
        experiment_name=f'{name}-{tmp_path.name}')  # own message hub
    runner.train()
    monkeypatch.setattr(torch.Tensor, 'item', original)
    hub = runner.message_hub
    history = {k: list(hub.get_scalar(f'train/{k}').data[0])
               for k in ('loss', 'loss_aux', 'acc')}
    return history, len(calls), runner


def test_same_history_without_per_step_item(tmp_path, monkeypatch):
    stock, stock_items, _ = _train(
        tmp_path, 'stock', dict(type='RuntimeInfoHook'), monkeypatch)
    lazy, lazy_items, runner = _train(
        tmp_path, 'lazy', dict(type='LazyRuntimeInfoHook'), monkeypatch)
    assert lazy == stock
    assert len(lazy['loss']) == 10  # 2 epochs x 5 iterations
    # stock: one .item() per log variable per iteration (3 x 10 at least)
    assert stock_items >= 30 and lazy_items <= stock_items - 30
    hook = [h for h in runner.hooks if type(h).__name__ ==
            'LazyRuntimeInfoHook'][0]
    assert hook._inner_intervals == [3] and hook._global_intervals == [4]
    assert hook._pending == []


def test_every_logged_value_equals_the_stock_hooks(tmp_path, monkeypatch):
    """5 iterations per epoch, logged every 3 within the epoch: LoggerHook
    logs inner iteration 3 of each epoch (global iterations 3 and 8); each
    log line must carry the values of its own iteration."""
    from mmengine.runner import LogProcessor
    original = LogProcessor.get_log_after_iter

    def logged(name):
        lines = []

        def record(self, runner, batch_idx, mode):
            tag, log_str = original(self, runner, batch_idx, mode)
            lines.append({k: v for k, v in tag.items()
                          if k in ('loss', 'loss_aux', 'acc')})
            return tag, log_str
        monkeypatch.setattr(LogProcessor, 'get_log_after_iter', record)
        return lines

    stock_lines = logged('stock')
    _train(tmp_path, 'stock', dict(type='RuntimeInfoHook'), monkeypatch,
           ckpt_interval=7)
    lazy_lines = logged('lazy')
    _train(tmp_path, 'lazy', dict(type='LazyRuntimeInfoHook'), monkeypatch,
           ckpt_interval=7)
    assert len(stock_lines) == 2
    assert lazy_lines == stock_lines
