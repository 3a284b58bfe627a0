import numpy as np
import pytest

from simvtp.datasets.transforms.masking import TextMasking, TubeMasking
from simvtp.registry import TRANSFORMS

# ---------------------------------------------------------------------------
# TubeMasking
# ---------------------------------------------------------------------------


@pytest.mark.parametrize('shape', [(1, 3, 16, 224, 224), (3, 16, 224, 224)])
def test_tube_masking_count_and_tubes(shape):
    np.random.seed(0)
    transform = TubeMasking(mask_ratio=0.9, tubelet_size=2, patch_size=16)
    t_, h_, w_ = 16 // 2, 224 // 16, 224 // 16
    hidden_per_slice = int(0.9 * h_ * w_)
    assert hidden_per_slice == 176
    masks = []
    for _ in range(5):
        results = transform(dict(imgs=np.zeros(shape, dtype=np.float32)))
        mask = results['video_mask']
        assert mask.dtype == np.bool_
        assert mask.shape == (t_ * h_ * w_, )
        assert mask.sum() == t_ * hidden_per_slice
        grid = mask.reshape(t_, h_, w_)
        for t in range(1, t_):
            assert np.array_equal(grid[t], grid[0])
        assert grid[0].sum() == hidden_per_slice
        masks.append(mask)
    # the masks are random
    assert any(not np.array_equal(masks[0], m) for m in masks[1:])


def test_tube_masking_small_and_seeded():
    transform = TRANSFORMS.build(
        dict(type='TubeMasking', mask_ratio=0.5, tubelet_size=1,
             patch_size=2, input_key='video'))
    video = np.zeros((1, 3, 3, 4, 6))  # grid (3, 2, 3): 6 cells, 3 hidden
    np.random.seed(1)
    first = transform(dict(video=video))['video_mask']
    np.random.seed(1)
    second = transform(dict(video=video))['video_mask']
    assert np.array_equal(first, second)
    assert first.shape == (18, )
    assert first.sum() == 3 * 3
    assert 'TubeMasking(mask_ratio=0.5' in repr(transform)


@pytest.mark.parametrize('ratio', [1.0, -0.1])
def test_tube_masking_bad_ratio(ratio):
    with pytest.raises(ValueError, match=f'mask_ratio.*{ratio}'):
        TubeMasking(mask_ratio=ratio)


def test_tube_masking_bad_sizes():
    transform = TubeMasking(tubelet_size=2, patch_size=16)
    with pytest.raises(ValueError, match=r'T=15.*tubelet_size=2'):
        transform(dict(imgs=np.zeros((1, 3, 15, 224, 224))))
    with pytest.raises(ValueError, match=r'H=200.*patch_size=16'):
        transform(dict(imgs=np.zeros((3, 16, 200, 224))))
    with pytest.raises(ValueError, match=r'W=100.*patch_size=16'):
        transform(dict(imgs=np.zeros((3, 16, 224, 100))))


# ---------------------------------------------------------------------------
# TextMasking
# ---------------------------------------------------------------------------
CLS, SEP, PAD, MASK, UNK = 101, 102, 0, 103, 100
SPECIALS = [PAD, UNK, CLS, SEP, MASK]
VOCAB = 1000


def make_results(words, pad=0):
    ids = np.array([CLS] + list(words) + [SEP] + [PAD] * pad, dtype=np.int64)
    special = np.zeros_like(ids)
    special[0] = 1
    special[len(words) + 1:] = 1
    return dict(
        input_ids=ids,
        attention_mask=np.ones_like(ids),
        special_tokens_mask=special,
        mask_token_id=MASK,
        vocab_size=VOCAB,
        special_token_ids=list(SPECIALS))


def test_text_masking_exact_count_and_specials():
    np.random.seed(0)
    words = list(range(200, 213))  # 13 words
    transform = TextMasking(mask_ratio=0.75, strategy='mae', count='exact')
    expected = 10  # round(9.75)
    for _ in range(50):
        results = transform(make_results(words, pad=2))
        ids, labels = results['input_ids'], results['mlm_labels']
        original = results['input_ids_unmasked']
        assert ids.dtype == np.int64 and labels.dtype == np.int64
        assert np.array_equal(original, make_results(words, pad=2)['input_ids'])
        selected = labels != -100
        assert selected.sum() == expected
        # special positions (CLS, SEP, 2x PAD) are never touched
        for pos in [0, 14, 15, 16]:
            assert not selected[pos]
            assert ids[pos] == original[pos]
        # labels are the original ids at selected positions, -100 elsewhere
        assert np.array_equal(labels[selected], original[selected])
        assert np.all(labels[~selected] == -100)
        # mae: all selected become [MASK], nothing else changes
        assert np.all(ids[selected] == MASK)
        assert np.array_equal(ids[~selected], original[~selected])


def test_text_masking_at_least_one():
    np.random.seed(0)
    for count in ['exact', 'bernoulli']:
        transform = TextMasking(mask_ratio=0.1, count=count, strategy='mae')
        for _ in range(20):
            results = transform(make_results([500]))
            assert list(results['mlm_labels']) == [-100, 500, -100]
            assert list(results['input_ids']) == [CLS, MASK, SEP]


def test_text_masking_no_words():
    transform = TextMasking()
    results = transform(make_results([], pad=3))
    assert np.all(results['mlm_labels'] == -100)
    assert np.array_equal(results['input_ids'],
                          results['input_ids_unmasked'])


def test_text_masking_arguments_override_results():
    np.random.seed(0)
    transform = TextMasking(mask_ratio=1.0, strategy='mae', mask_token_id=7,
                            vocab_size=VOCAB)
    results = make_results([300, 301])
    del results['mask_token_id']
    out = transform(results)
    assert list(out['input_ids']) == [CLS, 7, 7, SEP]
    with pytest.raises(ValueError, match='strategy'):
        TextMasking(strategy='span')
    with pytest.raises(ValueError, match='count'):
        TextMasking(count='poisson')


def test_text_masking_bert_proportions():
    np.random.seed(123)
    words = [200 + (i * 37) % 700 for i in range(100)]
    transform = TextMasking(mask_ratio=0.5, strategy='bert', count='exact')
    n_mask = n_random = n_kept = 0
    for _ in range(400):  # 400 * 50 = 20k selected tokens
        results = transform(make_results(words))
        ids, labels = results['input_ids'], results['mlm_labels']
        original = results['input_ids_unmasked']
        selected = labels != -100
        assert selected.sum() == 50
        assert np.array_equal(ids[~selected], original[~selected])
        new, old = ids[selected], original[selected]
        is_mask = new == MASK
        # a random replacement may coincide with the original id (chance
        # ~ 1/995 per random draw); it is then counted as "kept", which moves
        # ~0.0001 of the mass: far below the tolerance
        is_kept = (new == old) & ~is_mask
        is_random = ~is_mask & ~is_kept
        assert np.all((new[is_random] >= 0) & (new[is_random] < VOCAB))
        assert not np.isin(new[is_random], SPECIALS).any()
        n_mask += is_mask.sum()
        n_random += is_random.sum()
        n_kept += is_kept.sum()
    total = n_mask + n_random + n_kept
    assert total == 20000
    assert abs(n_mask / total - 0.8) < 0.02
    assert abs(n_random / total - 0.1) < 0.02
    assert abs(n_kept / total - 0.1) < 0.02


def test_text_masking_random_ids_exclude_specials():
    # tiny vocabulary: ids 0..9, specials {0, 3, 5, 9} -> allowed {1,2,4,6,7,8}
    np.random.seed(7)
    transform = TextMasking(mask_ratio=1.0, strategy='bert', mask_token_id=5,
                            vocab_size=10)
    draws = []
    for _ in range(300):
        ids = np.array([0] + [8] * 20 + [9], dtype=np.int64)
        special = np.array([1] + [0] * 20 + [1], dtype=np.int64)
        out = transform(dict(input_ids=ids, special_tokens_mask=special,
                             special_token_ids=[0, 3, 9]))
        new = out['input_ids'][1:-1]
        draws.extend(new[(new != 5) & (new != 8)].tolist())
    counts = np.bincount(draws, minlength=10)
    assert counts[[0, 3, 5, 9]].sum() == 0
    allowed_others = counts[[1, 2, 4, 6, 7]]
    # each allowed id has probability 1/6 among random draws
    n_random = len(draws) / (5 / 6)
    assert np.all(np.abs(allowed_others / n_random - 1 / 6) < 0.04)


def test_text_masking_bernoulli_ratio():
    np.random.seed(3)
    transform = TextMasking(mask_ratio=0.3, strategy='mae', count='bernoulli')
    words = list(range(200, 300))
    fractions = []
    for _ in range(200):
        labels = transform(make_results(words))['mlm_labels']
        assert labels[0] == -100 and labels[-1] == -100
        fractions.append((labels != -100).sum() / len(words))
    assert abs(np.mean(fractions) - 0.3) < 0.01
    assert np.std(fractions) > 0  # the count varies


def test_text_masking_repr():
    r = repr(TextMasking(mask_ratio=0.15, strategy='mae', count='bernoulli'))
    assert "TextMasking(mask_ratio=0.15, strategy='mae', count='bernoulli'" \
        in r


def test_fixed_seed_masks_depend_only_on_sample_index():
    from simvtp.datasets.transforms import TextMasking, TubeMasking
    video = np.zeros((1, 3, 4, 32, 32), dtype=np.uint8)
    tube = TubeMasking(mask_ratio=0.5, patch_size=8, seed=3)
    a = tube(dict(imgs=video, sample_idx=7))['video_mask']
    np.random.seed(123)  # the global state must not matter
    b = tube(dict(imgs=video, sample_idx=7))['video_mask']
    c = tube(dict(imgs=video, sample_idx=8))['video_mask']
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    with pytest.raises(KeyError, match='sample_idx'):
        tube(dict(imgs=video))
    ids = np.array([2] + list(range(10, 40)) + [3])
    special = np.zeros_like(ids)
    special[[0, -1]] = 1
    text = TextMasking(mask_ratio=0.5, seed=3, mask_token_id=4, vocab_size=50)
    r1 = text(dict(input_ids=ids, special_tokens_mask=special, sample_idx=1))
    r2 = text(dict(input_ids=ids, special_tokens_mask=special, sample_idx=1))
    assert np.array_equal(r1['mlm_labels'], r2['mlm_labels'])
