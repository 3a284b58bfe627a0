"""Tokenizer loading never downloads; TokenizeText output layout."""
import numpy as np
import pytest

from simvtp.datasets import load_tokenizer
from simvtp.datasets.transforms import TokenizeText


def test_local_folder_loads(tiny_tokenizer_dir):
    tok = load_tokenizer(tiny_tokenizer_dir)
    assert tok.mask_token_id == 4 and tok.pad_token_id == 0
    assert tok('A red circle')['input_ids'] == [2, 5, 6, 9, 3]


def test_unknown_name_is_not_downloaded(monkeypatch, tmp_path):
    # an empty cache: a hub name must fail fast with a fix, not download
    monkeypatch.setenv('HF_HOME', str(tmp_path))
    monkeypatch.setenv('HF_HUB_CACHE', str(tmp_path / 'hub'))
    with pytest.raises(FileNotFoundError, match='never downloads'):
        load_tokenizer.__wrapped__('bert-base-uncased')


def test_name_resolves_through_local_hf_cache(monkeypatch, tmp_path,
                                             tiny_tokenizer_dir):
    """A hub name found in the cache loads offline (how WebVid configs run)."""
    import shutil
    repo = tmp_path / 'hub' / 'models--my-org--tiny-bert'
    snap = repo / 'snapshots' / ('a' * 40)
    snap.mkdir(parents=True)
    shutil.copy(f'{tiny_tokenizer_dir}/vocab.txt', snap / 'vocab.txt')
    (repo / 'refs').mkdir()
    (repo / 'refs' / 'main').write_text('a' * 40)
    monkeypatch.setenv('HF_HUB_CACHE', str(tmp_path / 'hub'))
    monkeypatch.setattr('huggingface_hub.constants.HF_HUB_CACHE',
                        str(tmp_path / 'hub'))
    tok = load_tokenizer.__wrapped__('my-org/tiny-bert')
    assert tok('a dog')['input_ids'] == [2, 5, 17, 3]


def test_folder_without_vocab_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='neither vocab.txt'):
        load_tokenizer.__wrapped__(str(tmp_path))


def test_tokenize_text_transform(tiny_tokenizer_dir):
    t = TokenizeText(tokenizer=tiny_tokenizer_dir, max_length=4)
    out = t(dict(text='a red circle moves left'))
    # truncated to max_length with [CLS] ... [SEP]
    assert out['input_ids'].tolist() == [2, 5, 6, 3]
    assert out['special_tokens_mask'].tolist() == [1, 0, 0, 1]
    assert out['attention_mask'].dtype == np.int64
    assert out['mask_token_id'] == 4 and out['vocab_size'] == 19
    with pytest.raises(TypeError, match="results\\['text'\\]"):
        t(dict(text=3))
    # a per-video item: (K, L) arrays padded to its longest caption
    # (max_length 4: the first caption is truncated to [CLS] a red [SEP])
    many = t(dict(text=['a red circle', 'dog']))
    assert many['input_ids'].shape == (2, 4)
    assert many['input_ids'][0].tolist() == [2, 5, 6, 3]
    assert many['attention_mask'].tolist() == [[1] * 4, [1, 1, 1, 0]]
    assert many['input_ids'][1, 3] == 0  # [PAD]


def test_tokenize_text_pickles_without_tokenizer(tiny_tokenizer_dir):
    import pickle
    t = TokenizeText(tokenizer=tiny_tokenizer_dir)
    t(dict(text='a dog'))
    clone = pickle.loads(pickle.dumps(t))
    assert clone._tokenizer is None
    assert clone(dict(text='a dog'))['input_ids'].tolist() == [2, 5, 17, 3]
