"""Reconstruction and attention visualisers on a tiny random model."""
import os.path as osp
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

import simvtp  # noqa: F401
from simvtp.visualization import (LABEL_WIDTH, attention_probabilities,
                                  capture_attention_input, caption_lines,
                                  find_word_positions, predict_reconstruction,
                                  reconstruction_animation,
                                  reconstruction_grid, tokens_to_text,
                                  upsample_heatmap, word_to_video_attention)
from simvtp.visualization.inputs import (build_clip_pipeline, load_model,
                                         prepare_clip)
from tests.conftest import write_video
from tests.tiny_model import tiny_simvtp_cfg
from tests.tool_loader import import_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
T, S, P = 4, 32, 16  # frames, pixels, patch: 2 x 2 x 2 tubes
CAPTION = 'a red circle moves left and the red dog runs'


def tool(name):
    return import_tool('visualizations', name)


CONFIG = """
default_scope = 'simvtp'
tokenizer = {tok!r}
model = {model!r}
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len={T}, frame_interval=2, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RandomResizedCrop'),
    dict(type='Resize', scale=({S}, {S}), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='TubeMasking', mask_ratio=0.5, tubelet_size=2, patch_size={P}),
    dict(type='TokenizeText', tokenizer=tokenizer, max_length=16),
    dict(type='TextMasking', mask_ratio=0.5, strategy='mae'),
    dict(type='PackVideoTextInputs'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len={T}, frame_interval=2, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=({S}, {S}), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='TokenizeText', tokenizer=tokenizer, max_length=16),
    dict(type='PackVideoTextInputs'),
]
train_dataloader = dict(dataset=dict(dataset=dict(pipeline=train_pipeline)))
test_dataloader = dict(dataset=dict(dataset=dict(pipeline=test_pipeline)))
"""


@pytest.fixture(scope='module')
def setup(tmp_path_factory, tiny_tokenizer_dir):
    d = tmp_path_factory.mktemp('vis')
    config = d / 'tiny.py'
    model = tiny_simvtp_cfg(frames=T, size=S, patch=P, vocab=19,
                            vtc_head=dict(learnable_temperature=False))
    config.write_text(textwrap.dedent(CONFIG.format(
        tok=tiny_tokenizer_dir, S=S, P=P, T=T, model=model)))
    model, _ = load_model(str(config), None)
    torch.manual_seed(0)
    model.init_weights()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    ckpt = d / 'ckpt.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    video = write_video(d / 'clip.mp4', num_frames=12, size=(48, 64))
    return dict(config=str(config), ckpt=str(ckpt), video=str(video), dir=d)


def test_clip_pipeline_uses_test_steps_plus_train_masking(setup):
    from mmengine.config import Config
    cfg = Config.fromfile(setup['config'])
    plain = [s['type'] for s in build_clip_pipeline(cfg)]
    assert 'RandomResizedCrop' not in plain and 'TubeMasking' not in plain
    steps = build_clip_pipeline(cfg, with_masking=True, mask_ratio=0.25,
                                seed=3)
    types = [s['type'] for s in steps]
    assert types == ['DecordInit', 'SampleFrames', 'DecordDecode', 'Resize',
                     'FormatShape', 'TubeMasking', 'TokenizeText',
                     'TextMasking', 'PackVideoTextInputs']
    assert steps[5]['mask_ratio'] == 0.25 and steps[5]['seed'] == 3
    assert steps[7]['strategy'] == 'mae' and steps[7]['seed'] == 3


def test_predict_reconstruction_and_target_stats(setup):
    model, cfg = load_model(setup['config'], setup['ckpt'])
    inputs, tok = prepare_clip(model, cfg, setup['video'], CAPTION,
                               with_masking=True, seed=0)
    honest = predict_reconstruction(model, inputs)
    cheat = predict_reconstruction(model, inputs, use_target_stats=True)
    sample = model.predict(inputs)[0]
    torch.testing.assert_close(honest['reconstruction'][0],
                               sample.reconstruction)
    mask = inputs['video_mask'][0].view(T // 2, S // P, S // P)
    vis = (~mask).repeat_interleave(2, 0).repeat_interleave(P, 1) \
        .repeat_interleave(P, 2)
    for res in (honest, cheat):
        torch.testing.assert_close(res['reconstruction'][0][:, vis],
                                   res['original'][0][:, vis], atol=1e-5,
                                   rtol=0)
    diff = (honest['reconstruction'][0][:, ~vis]
            - cheat['reconstruction'][0][:, ~vis]).abs().max()
    assert diff > 1e-3  # target statistics change the hidden patches only
    caps = caption_lines(inputs['input_ids_unmasked'][0],
                         inputs['input_ids'][0], honest['pred_ids'][0],
                         inputs['mlm_labels'][0], tok)
    assert caps['original'] == CAPTION
    assert '[MASK]' in caps['masked'] and '*' in caps['reconstructed']


def test_grid_and_animation_layout():
    g = torch.Generator().manual_seed(0)
    videos = [torch.rand(3, 6, 10, 12, generator=g) for _ in range(3)]
    grid = reconstruction_grid(*videos, {'original': 'x ' * 80}, title=[],
                               scale=2)
    assert grid.width == LABEL_WIDTH + 6 * 12 * 2
    arr = np.asarray(grid)
    # first row, frame 4 (no title): exactly the upscaled frame
    frame = (videos[0][:, 4].permute(1, 2, 0).numpy() * 255).round()
    cell = arr[:20, LABEL_WIDTH + 4 * 24:LABEL_WIDTH + 5 * 24]
    np.testing.assert_array_equal(cell[::2, ::2], frame.astype(np.uint8))
    assert grid.height > 3 * 20  # plus the wrapped caption
    frames = reconstruction_animation(*videos, scale=3)
    assert len(frames) == 6 and frames[0].size == (3 * 12 * 3, 10 * 3)


def test_tokens_to_text(tiny_tokenizer_dir):
    from simvtp.datasets.tokenizer import load_tokenizer
    tok = load_tokenizer(tiny_tokenizer_dir)
    ids = tok('the red dog runs')['input_ids'] + [0, 0]
    assert tokens_to_text(ids, tok) == 'the red dog runs'
    marks = [i == 2 for i in range(len(ids))]
    assert tokens_to_text(ids, tok, marks) == 'the *red* dog runs'
    assert tokens_to_text([2, 7, 0], None) == '2 7'


def test_vis_reconstruction_tool_writes_png_and_gif(setup, capsys):
    out = setup['dir'] / 'rec'
    argv = [setup['config'], setup['ckpt'], '--video', setup['video'],
            '--caption', CAPTION, '--out', str(out), '--scale', '2']
    assert tool('vis_reconstruction').main(argv) == 0
    png = Image.open(out / 'reconstruction.png')
    assert png.width == LABEL_WIDTH + T * S * 2
    assert png.height > 3 * S * 2
    gif = Image.open(out / 'reconstruction.gif')
    assert gif.n_frames == T and gif.size == (3 * S * 2, S * 2)
    # the middle panel is the masked clip: half of the 2x2 cells are black
    gif.seek(0)
    masked = np.asarray(gif.convert('RGB'))[:, S * 2:2 * S * 2]
    cells = masked.reshape(2, P * 2, 2, P * 2, 3).max(axis=(1, 3, 4))
    assert int((cells < 40).sum()) == 2
    # the cheating variant is a different image
    argv2 = argv[:-4] + ['--out', str(setup['dir'] / 'rec2'),
                         '--use-target-stats', '--scale', '2']
    assert tool('vis_reconstruction').main(argv2) == 0
    other = Image.open(setup['dir'] / 'rec2' / 'reconstruction.png')
    assert other.width == png.width
    assert 'reconstruction.gif' in capsys.readouterr().out


def test_attention_probabilities_reproduce_the_block():
    """Recomputed softmax @ v, projected, equals the module's own output."""
    from simvtp.models.layers.transformer import Block
    torch.manual_seed(0)
    for impl in ('math', 'sdpa'):
        block = Block(16, 4, attn_impl=impl).eval()
        x = torch.randn(2, 7, 16)
        mask = torch.ones(2, 7, dtype=torch.bool)
        mask[1, -2:] = False
        seen = {}
        handle = block.attn.register_forward_hook(
            lambda m, a, out: seen.setdefault('out', out))
        with capture_attention_input(block) as store:
            block(x, mask)
        handle.remove()
        probs = attention_probabilities(block.attn, store['x'],
                                        store['key_padding_mask'])
        attn = block.attn
        bias = torch.cat((attn.q_bias, torch.zeros_like(attn.v_bias),
                          attn.v_bias))
        qkv = torch.nn.functional.linear(store['x'], attn.qkv.weight, bias)
        v = qkv.view(2, 7, 3, 4, 4)[:, :, 2].transpose(1, 2)
        out = attn.proj((probs @ v).transpose(1, 2).reshape(2, 7, 16))
        torch.testing.assert_close(out, seen['out'], rtol=1e-4, atol=1e-5)
        assert probs[1, :, :, -2:].max() < 1e-3


def test_word_attention_and_upsampling(setup, tiny_tokenizer_dir):
    model, cfg = load_model(setup['config'], setup['ckpt'])
    inputs, tok = prepare_clip(model, cfg, setup['video'], CAPTION)
    assert 'video_mask' not in inputs  # the full clip
    pos = find_word_positions(tok, inputs['input_ids'][0], 'red')
    assert pos == [2, 8]  # [CLS] a red circle moves left and the red
    with pytest.raises(ValueError, match='not in the tokenized caption'):
        find_word_positions(tok, inputs['input_ids'][0], 'square')
    heat, info = word_to_video_attention(
        model, inputs['video'], inputs['input_ids'],
        inputs['attention_mask'], pos, layer=-1)
    assert heat.shape == (1, T // 2, S // P, S // P) and info['layer'] == 1
    assert abs(float(heat.sum()) - info['video_share']) < 1e-5
    up = upsample_heatmap(heat[0], T, S, S)
    assert up.shape == (T, S, S)
    torch.testing.assert_close(up[0], up[1])  # one tube spans two frames


def test_vis_attention_tool_writes_png(setup, capsys):
    out = setup['dir'] / 'att'
    assert tool('vis_attention').main(
        [setup['config'], setup['ckpt'], '--video', setup['video'],
         '--caption', CAPTION, '--word', 'dog', '--layer', '0', '--out',
         str(out), '--scale', '2']) == 0
    png = Image.open(out / 'attention_dog_layer0.png')
    assert png.width == LABEL_WIDTH + T * S * 2
    assert png.height > 3 * S * 2
    assert 'attention_dog_layer0.png' in capsys.readouterr().out
