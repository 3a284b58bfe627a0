"""validate_config: each bad value is caught at build time, naming its key."""
import copy
import re

import pytest
from mmengine.config import Config

import simvtp  # noqa: F401
from simvtp.utils.config_check import (ConfigError, pipeline_of,
                                       validate_config)
from simvtp.utils.setup import prepare_runtime
from tests.test_reliability.helpers import REPO



@pytest.fixture
def cfg(tiny_tokenizer_dir):
    """The synthetic config, tokenizer pointed at a local tiny vocabulary."""
    cfg = Config.fromfile(f'{REPO}/configs/simvtp/pretrain_synthetic.py')
    for loader in ('train_dataloader', 'test_dataloader'):
        for step in pipeline_of(cfg, loader)[1]:
            if step['type'] == 'TokenizeText':
                step['tokenizer'] = tiny_tokenizer_dir
    return cfg


def step(cfg, loader, name):
    pipeline = pipeline_of(cfg, loader)[1]
    return next(s for s in pipeline if s['type'] == name)


def key(cfg, loader, name):
    """Dotted key of the step, e.g.
    train_dataloader.dataset.dataset.pipeline.6 (indices computed: the
    shipped pipelines may change)."""
    where, pipeline = pipeline_of(cfg, loader)
    i = next(i for i, s in enumerate(pipeline) if s['type'] == name)
    return re.escape(f'{where}.{i}')


def test_shipped_configs_pass(cfg):
    assert validate_config(cfg) == []
    vitb = Config.fromfile(f'{REPO}/configs/simvtp/pretrain_vitb.py')
    notes = validate_config(vitb)  # bert-base-uncased may not be cached
    assert all('does not resolve locally' in n for n in notes)


@pytest.mark.parametrize('ratio', [1.0, -0.1, 1.5])
def test_video_mask_ratio_outside_0_1(cfg, ratio):
    step(cfg, 'train_dataloader', 'TubeMasking')['mask_ratio'] = ratio
    where = key(cfg, 'train_dataloader', 'TubeMasking')
    with pytest.raises(ConfigError, match=rf'{where}\.mask_ratio='
                       rf'{ratio} \(TubeMasking\): must be in \[0, 1\)'):
        validate_config(cfg)


@pytest.mark.parametrize('ratio', [0, 0.0, 1.01])
def test_text_mask_ratio_outside_0_1(cfg, ratio):
    step(cfg, 'train_dataloader', 'TextMasking')['mask_ratio'] = ratio
    where = key(cfg, 'train_dataloader', 'TextMasking')
    with pytest.raises(ConfigError, match=rf'{where}\.mask_ratio='
                       r'.* \(TextMasking\): must be in \(0, 1\]'):
        validate_config(cfg)


def test_clip_len_not_divisible_by_tubelet(cfg):
    step(cfg, 'test_dataloader', 'SampleFrames')['clip_len'] = 7
    where = key(cfg, 'test_dataloader', 'SampleFrames')
    with pytest.raises(ConfigError, match=rf'{where}\.clip_len=7 '
                       r'\(SampleFrames\) is not divisible by '
                       r'model\.backbone\.tubelet_size=2'):
        validate_config(cfg)


def test_frame_size_not_divisible_by_patch(cfg):
    step(cfg, 'train_dataloader', 'Resize')['scale'] = (60, 64)  # (w, h)
    where = key(cfg, 'train_dataloader', 'Resize')
    with pytest.raises(ConfigError, match=rf'{where}\.scale \(Resize\) '
                       r'makes 64x60 \(HxW\) frames, not divisible by '
                       r'model\.backbone\.patch_size=8'):
        validate_config(cfg)


def test_final_crop_decides_and_other_sizes_than_img_size_are_fine(cfg):
    pipeline = pipeline_of(cfg, 'test_dataloader')[1]
    resize = step(cfg, 'test_dataloader', 'Resize')
    resize.update(scale=(-1, 70), keep_ratio=True)  # any size, then a crop
    i = pipeline.index(resize) + 1
    pipeline.insert(i, dict(type='CenterCrop', crop_size=48))  # != 64: fine
    assert validate_config(cfg) == []
    pipeline[i]['crop_size'] = 50
    where = re.escape(pipeline_of(cfg, 'test_dataloader')[0])
    with pytest.raises(ConfigError, match=rf'{where}\.{i}\.crop_size '
                       r'\(CenterCrop\) makes 50x50'):
        validate_config(cfg)


def test_max_length_beyond_position_table(cfg):
    step(cfg, 'train_dataloader', 'TokenizeText')['max_length'] = 40
    where = key(cfg, 'train_dataloader', 'TokenizeText')
    with pytest.raises(ConfigError, match=rf'{where}\.max_length=40 '
                       r'\(TokenizeText\) exceeds '
                       r'model\.backbone\.max_text_len=32'):
        validate_config(cfg)


def test_unknown_objective(cfg):
    cfg.model.objectives = ('msm', 'itc')
    with pytest.raises(ConfigError, match=r"model\.objectives=\('msm', "
                       r"'itc'\): unknown or empty \['itc'\]"):
        validate_config(cfg)


def test_tokenizer_larger_than_vocab_size(cfg, tiny_tokenizer_dir):
    cfg.model.backbone.vocab_size = 10  # the tiny vocabulary has 19 tokens
    where = key(cfg, 'train_dataloader', 'TokenizeText')
    with pytest.raises(ConfigError, match=rf'{where}\.tokenizer=.* has 19 '
                       r'tokens, more than model\.backbone\.vocab_size=10'):
        validate_config(cfg)


def test_tokenizer_that_does_not_resolve_is_skipped_with_a_note(cfg):
    for loader in ('train_dataloader', 'test_dataloader'):
        step(cfg, loader, 'TokenizeText')['tokenizer'] = 'no/such-tokenizer'
    notes = validate_config(cfg)
    assert len(notes) == 1 and 'no/such-tokenizer' in notes[0]


def test_every_problem_is_listed_at_once(cfg):
    step(cfg, 'train_dataloader', 'TubeMasking')['mask_ratio'] = 1.0
    step(cfg, 'test_dataloader', 'SampleFrames')['clip_len'] = 5
    cfg.model.objectives = ('vtc', 'nope')
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    assert len(str(info.value).splitlines()) == 4  # title + 3 problems


def test_prepare_runtime_validates_before_the_runner_is_built(cfg):
    bad = copy.deepcopy(cfg)
    bad.synthetic_data = None
    step(bad, 'train_dataloader', 'TubeMasking')['mask_ratio'] = 1.0
    with pytest.raises(ConfigError, match='TubeMasking'):
        prepare_runtime(bad)


def test_hard_vtm_negatives_without_vtc(cfg):
    """Hard negatives are drawn from VTC's similarities: caught before the
    first step (it used to fail there)."""
    cfg.model.objectives = ('msm', 'vtm')
    cfg.model.vtm_head = dict(type='VTMHead', negative='hard')
    with pytest.raises(ConfigError, match=r"model\.vtm_head\.negative='hard'"
                       r" needs the VTC similarities"):
        validate_config(cfg)
    cfg.model.objectives = ('msm', 'vtc', 'vtm')
    assert validate_config(cfg) == []
