"""A tiny SimVTP and a batch for the analysis tests."""
import torch
from mmengine.registry import init_default_scope

import simvtp  # noqa: F401
from simvtp.registry import MODELS

B, T, S, P = 4, 4, 32, 8  # clips, frames, pixels, patch
N = (T // 2) * (S // P) ** 2  # 32 tubes
HIDDEN_CELLS = 12  # of 16 per temporal slice
VOCAB = 40


def build(**kwargs):
    init_default_scope('simvtp')
    cfg = dict(
        type='SimVTP',
        backbone=dict(type='UnifiedViT',
                      arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                                mlp_ratio=2),
                      img_size=S, patch_size=P, num_frames=T,
                      vocab_size=VOCAB, max_text_len=16),
        video_decoder=dict(type='VideoMAEDecoder', embed_dims=16, depth=1,
                           num_heads=1),
        vtc_head=dict(type='VTCHead', learnable_temperature=True))
    for key, value in kwargs.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = dict(cfg[key], **value)
        else:
            cfg[key] = value
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def make_batch(seed=0, lengths=(7, 5, 6, 7)):
    """Captions of different lengths (so the batch has padding)."""
    g = torch.Generator().manual_seed(seed)
    samples = []
    for n in lengths:
        ids = torch.randint(5, VOCAB, (n, ), generator=g)
        ids[0], ids[-1] = 2, 3
        labels = torch.full((n, ), -100)
        labels[1:3] = ids[1:3]
        masked = ids.clone()
        masked[1:3] = 4
        spatial = torch.zeros(N // (T // 2), dtype=torch.bool)
        spatial[torch.randperm(spatial.numel(),
                               generator=g)[:HIDDEN_CELLS]] = True
        samples.append(dict(
            video=torch.randint(0, 256, (3, T, S, S), dtype=torch.uint8,
                                generator=g),
            video_mask=spatial.repeat(T // 2), input_ids=masked,
            input_ids_unmasked=ids,
            attention_mask=torch.ones(n, dtype=torch.long),
            mlm_labels=labels))
    return dict(inputs=samples, data_samples=None)


def inputs_of(model, seed=0):
    return model.data_preprocessor(make_batch(seed), True)['inputs']


def total(losses):
    return sum(v for k, v in losses.items() if k.startswith('loss'))
