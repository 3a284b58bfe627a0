"""The shipped configs parse, build and run; the paper recipe is what it says."""
import glob
import os
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import simvtp  # noqa: F401
from simvtp.registry import MODELS
from tests.tiny_model import tiny_geometry

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CONFIGS = sorted(glob.glob(f'{REPO}/configs/**/*.py', recursive=True))


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: os.path.relpath(p, REPO))
def test_config_parses(path):
    cfg = Config.fromfile(path)
    rel = os.path.relpath(path, REPO)
    if '_base_' not in rel:
        expected = {'grounding': 'TAN2D', 'recognition': 'Recognizer3D'
                    }.get(rel.split(os.sep)[1], 'SimVTP')
        assert cfg.model.type == expected
        assert cfg.default_scope == 'simvtp'


def step_of(pipeline, name):
    return next(s for s in pipeline if s['type'] == name)


def test_vitb_config_is_the_paper_recipe():
    cfg = Config.fromfile(f'{REPO}/configs/simvtp/pretrain_vitb.py')
    bb = cfg.model.backbone
    assert (bb.arch, bb.img_size, bb.patch_size, bb.num_frames) == \
        ('base', 224, 16, 16)
    assert cfg.model.video_decoder.embed_dims == 384
    assert cfg.model.video_decoder.depth == 4
    assert cfg.model.text_decoder.depth == 0
    assert set(cfg.model.objectives) == {'msm', 'vtc', 'vtm'}
    assert cfg.train_dataloader.dataset.type == 'BrokenSampleGuard'
    pipe = cfg.train_dataloader.dataset.dataset.pipeline
    frames = step_of(pipe, 'SampleFrames')
    assert (frames.clip_len, frames.frame_interval) == (16, 4)
    assert step_of(pipe, 'TubeMasking').mask_ratio == 0.9
    text = step_of(pipe, 'TextMasking')
    assert (text.mask_ratio, text.strategy) == (0.75, 'bert')
    # where the paper is silent, the reference's choices
    assert text.count == 'bernoulli'  # each word with p = 0.75
    tokenize = step_of(pipe, 'TokenizeText')
    assert tokenize.tokenizer == 'bert-base-uncased'
    assert tokenize.max_length == 512  # no caption cut
    assert 'Flip' not in [s['type'] for s in pipe]
    crop = step_of(pipe, 'MultiScaleCrop')
    assert (tuple(crop.scales), crop.max_wh_scale_gap, crop.random_crop,
            crop.num_fixed_crops) == ((1, .875, .75, .66), 1, False, 13)
    vtc = cfg.model.vtc_head
    assert vtc.symmetric_sum is True  # t2v + v2t, not their mean
    assert (vtc.temperature, vtc.learnable_temperature) == (0.05, False)
    assert cfg.train_dataloader.dataset.dataset.type == 'WebVidDataset'
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, tuple(opt.betas), opt.weight_decay, opt.lr) == \
        ('AdamW', (0.9, 0.95), 0.05, 1.5e-4)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.train_cfg.max_epochs == 200
    warmup, cosine = cfg.param_scheduler
    assert warmup.end == 40 and cosine.begin == 40 and cosine.end == 200
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=256)


def test_vitb_model_builds_and_trains_one_step():
    """The ViT-B model of the recipe runs a loss step (small input)."""
    cfg = Config.fromfile(f'{REPO}/configs/simvtp/pretrain_vitb.py')
    init_default_scope('simvtp')
    model = MODELS.build(cfg.model)
    n_params = sum(p.numel() for p in model.backbone.parameters())
    # ViT-B blocks + cube embed (~86M) + BERT embeddings (~24M)
    assert 105e6 < n_params < 115e6
    b, t, s = 2, 4, 64  # positions are rebuilt for other sizes
    n = (t // 2) * (s // 16) ** 2
    mask = torch.zeros(b, n, dtype=torch.bool)
    mask[:, ::2] = True
    ids = torch.tensor([[101, 2023, 103, 2003, 102], [101, 103, 2 ** 10, 102, 0]])
    labels = torch.full_like(ids, -100)
    labels[0, 2], labels[1, 1] = 4937, 3899
    inputs = dict(video=torch.randn(b, 3, t, s, s), video_mask=mask,
                  input_ids=ids, attention_mask=(ids > 0).long(),
                  mlm_labels=labels)
    losses = model(inputs, mode='loss')
    assert set(losses) >= {'loss_video', 'loss_text', 'loss_vtc', 'loss_vtm'}
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.backbone.blocks[0].attn.qkv.weight.grad is not None


def test_synthetic_quick_start_end_to_end(tmp_path):
    """README command 1 at toy scale: data generated, trained, evaluated."""
    data = tmp_path / 'synthetic'
    base = Config.fromfile(f'{REPO}/configs/simvtp/pretrain_synthetic.py')
    tok = str(data / 'tokenizer')
    train_pipe = [dict(s) for s in base.train_pipeline]
    test_pipe = [dict(s) for s in base.test_pipeline]
    for step in train_pipe + test_pipe:
        if step['type'] == 'TokenizeText':
            step['tokenizer'] = tok
    bb, dec = base.model.backbone, base.model.video_decoder
    model = tiny_geometry(
        dims=32, layers=1, heads=2, mlp_ratio=2, frames=bb.num_frames,
        size=bb.img_size, patch=bb.patch_size, tubelet=bb.tubelet_size,
        vocab=bb.vocab_size, max_text_len=bb.max_text_len, dec_dims=16,
        dec_depth=dec.depth, dec_heads=1)
    child = tmp_path / 'quick.py'
    child.write_text(f"""
_base_ = ['{REPO}/configs/simvtp/pretrain_synthetic.py']
synthetic_data = dict(root='{data}', num_train=16, num_val=4, num_test=8,
                      num_frames=32, fps=10, size=64, seed=0, workers=1)
model = {model!r}
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(dataset=dict(ann_file='{data}/annotations/train.csv',
                              data_prefix=dict(video='{data}/videos'),
                              pipeline={train_pipe!r})))
test_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(dataset=dict(ann_file='{data}/annotations/test.json',
                              data_prefix=dict(video='{data}/videos'),
                              pipeline={test_pipe!r})))
train_cfg = dict(max_epochs=1)
""")
    proc = subprocess.run(
        [sys.executable, f'{REPO}/tools/train.py', str(child), '--work-dir',
         str(tmp_path / 'work')], cwd=tmp_path, capture_output=True,
        text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert (data / 'meta.json').is_file()
    assert 'retrieval/R1:' in out and 'retrieval/MdR:' in out
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()
    # tools/test.py evaluates the saved checkpoint the same way
    proc = subprocess.run(
        [sys.executable, f'{REPO}/tools/test.py', str(child),
         str(tmp_path / 'work' / 'epoch_1.pth'), '--work-dir',
         str(tmp_path / 'test')], cwd=tmp_path, capture_output=True,
        text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert 'retrieval/R1:' in out
