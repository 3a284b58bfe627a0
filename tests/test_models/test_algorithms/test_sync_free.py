"""The training step of an accelerator reads nothing back from the device.

A ``TorchFunctionMode`` records every operation that makes the host wait for
the device (``item``, ``bool(tensor)``, ``tolist``, ``nonzero``, boolean-mask
indexing, ...). On the CPU these cost nothing, but the same calls are the
host syncs of a GPU step, so counting them here is device-independent.
SimVTP picks the sync-free path from the device; ``accelerator_path``
makes a CPU model take it.
"""
import traceback
from collections import Counter

import pytest
import torch
from torch.overrides import TorchFunctionMode

from tests.test_analysis.common import build, make_batch, total

SYNC_OPS = {'item', 'tolist', '__bool__', '__int__', '__float__',
            '__index__', 'nonzero', 'masked_select', 'unique', 'numpy',
            'equal', 'allclose', 'argwhere'}


class SyncCounter(TorchFunctionMode):

    def __init__(self):
        super().__init__()
        self.calls = Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, '__name__', str(func))
        hit = name in SYNC_OPS
        if name in ('__getitem__', '__setitem__') and len(args) > 1:
            index = args[1] if isinstance(args[1], tuple) else (args[1],)
            hit = any(torch.is_tensor(i) and i.dtype == torch.bool
                      for i in index)
        if hit:
            frame = traceback.extract_stack()[-2]
            self.calls[f'{name} at {frame.filename}:{frame.lineno}'] += 1
        return func(*args, **(kwargs or {}))


def _step(model, inputs):
    losses = model(inputs, mode='loss')
    total(losses).backward()
    return losses


def accelerator_path(model):
    """What SimVTP does on a GPU: word logits everywhere (no count read)."""
    model._words_to_decode = lambda masked_words: None
    return model


@pytest.mark.parametrize('options', [
    dict(), dict(objectives=('msm', 'vtc', 'vtm'), drop_masked_text=True),
    dict(type='ReferenceFlowSimVTP')])
def test_sync_free_loss_has_no_host_sync(options):
    model = accelerator_path(build(**options))
    if options.get('type') == 'ReferenceFlowSimVTP':  # its loop reads ids
        model.sample_negatives_loop = model.vtm_head.sample_negatives
    inputs = model.data_preprocessor(make_batch(), True)['inputs']
    assert inputs['num_visible'] == 8 and inputs['text_padded'] is True
    with SyncCounter() as counter:
        _step(model, inputs)
    assert not counter.calls, dict(counter.calls)


def test_counter_sees_the_default_cpu_path_syncs():
    """The control: the CPU default (word logits at hidden places only)
    reads one count, so the counter is not blind."""
    model = build()
    inputs = model.data_preprocessor(make_batch(), True)['inputs']
    with SyncCounter() as counter:
        _step(model, inputs)
    assert counter.calls


def test_sync_free_gives_the_same_losses_and_gradients():
    ref, free = build(), accelerator_path(build())
    free.load_state_dict(ref.state_dict())
    inputs = ref.data_preprocessor(make_batch(seed=3), True)['inputs']
    torch.manual_seed(0)
    a = _step(ref, inputs)
    torch.manual_seed(0)
    b = _step(free, inputs)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    for (name, p), q in zip(ref.named_parameters(), free.parameters()):
        if p.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-4,
                                       atol=1e-6, msg=name)


def test_preprocessor_rejects_unequal_mask_counts():
    model = build()
    batch = make_batch()
    batch['inputs'][1]['video_mask'][0] = ~batch['inputs'][1]['video_mask'][0]
    with pytest.raises(ValueError, match='same number of visible tokens'):
        model.data_preprocessor(batch, True)


def test_unpadded_batch_skips_the_key_mask_with_the_same_losses():
    model = accelerator_path(build())
    inputs = model.data_preprocessor(make_batch(lengths=(6, 6, 6, 6)),
                                     True)['inputs']
    assert inputs['text_padded'] is False
    torch.manual_seed(0)
    without = model(inputs, mode='loss')
    torch.manual_seed(0)
    with_mask = model(dict(inputs, text_padded=True), mode='loss')
    for key in without:
        torch.testing.assert_close(without[key], with_mask[key])
