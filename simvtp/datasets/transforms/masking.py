"""Masking transforms of SimVTP's masked signal modelling (MSM).

* :class:`TubeMasking` draws the video tube mask: one random spatial mask
  repeated over every temporal slice (tubelet), so a masked patch cannot be
  copied from its neighbour in time and every clip has the same number of
  visible tokens.
* :class:`TextMasking` draws the masked-language-modelling corruption of a
  tokenised caption (BERT 80/10/10 or MAE-style all-[MASK]).

Randomness: both transforms draw from a ``numpy.random.Generator`` seeded by
``np.random.randint`` on the *global* numpy state, which mmengine's
``worker_init_fn`` seeds per dataloader worker (``randomness=dict(seed=...)``),
so runs are reproducible and workers draw different masks.
"""
from typing import Dict, Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from simvtp.registry import TRANSFORMS

IGNORE_INDEX = -100


def _rng(seed: Optional[int] = None,
         results: Optional[Dict] = None) -> np.random.Generator:
    """A fresh Generator.

    ``seed=None``: seeded from numpy's global state (a new mask every time a
    sample is drawn). Otherwise from ``(seed, results['sample_idx'])``: every
    sample gets the same mask in every epoch, process layout and worker,
    which reproducible evaluation and the distributed equivalence test need.
    """
    if seed is None:
        return np.random.default_rng(
            np.random.randint(0, np.iinfo(np.int64).max, dtype=np.int64))
    if results is None or 'sample_idx' not in results:
        raise KeyError('a fixed masking seed needs results["sample_idx"], '
                       'which mmengine datasets add to every sample')
    return np.random.default_rng([int(seed), int(results['sample_idx'])])


@TRANSFORMS.register_module()
class TubeMasking(BaseTransform):
    """Tube masking of VideoMAE/SimVTP.

    Required keys: ``input_key`` (array of shape ``(C, T, H, W)`` or
    ``(1, C, T, H, W)``; only the last three dims are read).
    Added keys: ``video_mask`` -- ``np.bool_`` array of shape ``(N,)`` with
    ``N = (T / tubelet_size) * (H / patch_size) * (W / patch_size)``, tokens
    ordered ``(t', h', w')`` row-major, ``True`` = hidden (masked).

    Exactly ``int(mask_ratio * H' * W')`` spatial cells are hidden, and the
    same cells at every ``t'``, so every sample hides
    ``T' * int(mask_ratio * H' * W')`` tokens.

    Args:
        mask_ratio (float): fraction of spatial cells hidden, in ``[0, 1)``.
            Defaults to 0.9 (SimVTP).
        tubelet_size (int): frames per token. Defaults to 2.
        patch_size (int): pixels per token side. Defaults to 16.
        input_key (str): key of the video in ``results``. Defaults to 'imgs'.
        seed (int, optional): fix each sample's mask to a function of
            ``(seed, sample_idx)``; None (default) draws a new one each time.
    """

    def __init__(self,
                 mask_ratio: float = 0.9,
                 tubelet_size: int = 2,
                 patch_size: int = 16,
                 input_key: str = 'imgs',
                 seed: Optional[int] = None) -> None:
        if not 0 <= mask_ratio < 1:
            raise ValueError(
                f'mask_ratio must be in [0, 1), got mask_ratio={mask_ratio}')
        for name, value in (('tubelet_size', tubelet_size),
                            ('patch_size', patch_size)):
            if int(value) != value or value < 1:
                raise ValueError(
                    f'{name} must be a positive integer, got {name}={value}')
        self.mask_ratio = float(mask_ratio)
        self.tubelet_size = int(tubelet_size)
        self.patch_size = int(patch_size)
        self.input_key = input_key
        self.seed = seed

    def grid(self, shape: Sequence[int]) -> tuple:
        """Token grid ``(T', H', W')`` of a video of shape ``(..., T, H, W)``."""
        if len(shape) not in (4, 5) or (len(shape) == 5 and shape[0] != 1):
            raise ValueError(
                f'{self.input_key} must have shape (C, T, H, W) or '
                f'(1, C, T, H, W), got shape {tuple(shape)}')
        t, h, w = (int(s) for s in shape[-3:])
        checks = (('T', t, 'tubelet_size', self.tubelet_size),
                  ('H', h, 'patch_size', self.patch_size),
                  ('W', w, 'patch_size', self.patch_size))
        for dim, size, name, div in checks:
            if size % div:
                raise ValueError(
                    f'{self.input_key}: {dim}={size} is not divisible by '
                    f'{name}={div}')
        return (t // self.tubelet_size, h // self.patch_size,
                w // self.patch_size)

    def transform(self, results: Dict) -> Dict:
        t, h, w = self.grid(np.shape(results[self.input_key]))
        num_cells = h * w
        num_hidden = int(self.mask_ratio * num_cells)
        spatial = np.zeros(num_cells, dtype=np.bool_)
        spatial[_rng(self.seed, results).permutation(num_cells)[:num_hidden]] = True
        results['video_mask'] = np.tile(spatial, t)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(mask_ratio={self.mask_ratio}, '
                f'tubelet_size={self.tubelet_size}, '
                f'patch_size={self.patch_size}, '
                f'input_key={self.input_key!r})')


@TRANSFORMS.register_module()
class TextMasking(BaseTransform):
    """Masked-language-modelling corruption of a tokenised caption.

    Required keys: ``input_ids`` (int array ``(L,)``: ``[CLS] words [SEP]``),
    ``special_tokens_mask`` (1 at [CLS]/[SEP]/[PAD]; when absent, tokens whose
    id is in ``special_token_ids`` are treated as special), and, when the
    corresponding argument is None, ``mask_token_id`` / ``vocab_size``;
    ``special_token_ids`` is read when present.

    Modified keys: ``input_ids`` (corrupted copy, ``np.int64``).
    Added keys: ``input_ids_unmasked`` (the original ids, ``np.int64``),
    ``mlm_labels`` (``np.int64``; original id at selected positions, -100
    elsewhere).

    Selection never touches special tokens. ``count='exact'`` selects exactly
    ``max(1, round(mask_ratio * n_words))`` word tokens uniformly without
    replacement (Python's ``round``: halves go to the even integer);
    ``count='bernoulli'`` selects each word token independently with
    probability ``mask_ratio`` (SimVTP's reference code) and, if none was
    drawn, one uniformly. A caption without word tokens is left unchanged with
    all labels -100.

    Corruption of the selected tokens: ``strategy='bert'`` replaces each one
    independently by [MASK] with probability 0.8, by a random non-special id
    (uniform over ``[0, vocab_size)`` minus ``special_token_ids`` and
    ``mask_token_id``) with probability 0.1, and keeps it with probability
    0.1; ``strategy='mae'`` replaces all of them by [MASK] (SimVTP's
    reference code and paper Table 4f).

    Args:
        mask_ratio (float): in ``(0, 1]``. Defaults to 0.75.
        strategy (str): 'bert' or 'mae'. Defaults to 'bert'.
        count (str): 'exact' or 'bernoulli'. Defaults to 'exact'.
        mask_token_id (int, optional): id of [MASK]; ``results`` by default.
        vocab_size (int, optional): vocabulary size; ``results`` by default.
        seed (int, optional): fix each sample's masking to a function of
            ``(seed, sample_idx)``; None (default) draws anew each time.
    """

    STRATEGIES = ('bert', 'mae')
    COUNTS = ('exact', 'bernoulli')

    def __init__(self,
                 mask_ratio: float = 0.75,
                 strategy: str = 'bert',
                 count: str = 'exact',
                 mask_token_id: Optional[int] = None,
                 vocab_size: Optional[int] = None,
                 seed: Optional[int] = None) -> None:
        if not 0 < mask_ratio <= 1:
            raise ValueError(
                f'mask_ratio must be in (0, 1], got mask_ratio={mask_ratio}')
        if strategy not in self.STRATEGIES:
            raise ValueError(f'strategy must be one of {self.STRATEGIES}, '
                             f'got strategy={strategy!r}')
        if count not in self.COUNTS:
            raise ValueError(
                f'count must be one of {self.COUNTS}, got count={count!r}')
        self.mask_ratio = float(mask_ratio)
        self.strategy = strategy
        self.count = count
        self.mask_token_id = mask_token_id
        self.vocab_size = vocab_size
        self.seed = seed

    @staticmethod
    def _lookup(results: Dict, key: str, value):
        if value is not None:
            return value
        if key not in results:
            raise KeyError(f'TextMasking needs {key!r}: pass it as an '
                           f'argument or put it in results')
        return results[key]

    def _select(self, rng: np.random.Generator, n_words: int) -> np.ndarray:
        """Boolean selection over the ``n_words`` word tokens (n_words >= 1)."""
        if self.count == 'exact':
            k = min(n_words, max(1, int(round(self.mask_ratio * n_words))))
            chosen = np.zeros(n_words, dtype=np.bool_)
            chosen[rng.choice(n_words, size=k, replace=False)] = True
            return chosen
        chosen = rng.random(n_words) < self.mask_ratio
        if not chosen.any():
            chosen[rng.integers(n_words)] = True
        return chosen

    @staticmethod
    def _random_ids(rng: np.random.Generator, size: int, vocab_size: int,
                    excluded: np.ndarray) -> np.ndarray:
        """``size`` ids uniform over ``[0, vocab_size)`` minus ``excluded``."""
        excluded = np.unique(excluded[(excluded >= 0)
                                      & (excluded < vocab_size)])
        num_allowed = vocab_size - excluded.size
        if num_allowed <= 0:
            raise ValueError('TextMasking: every id of the vocabulary is a '
                             'special token; no random replacement possible')
        ids = rng.integers(0, num_allowed, size=size, dtype=np.int64)
        # the k-th allowed id: shift past every excluded id at or below it
        for special in excluded:  # ascending
            ids += ids >= special
        return ids

    def transform(self, results: Dict) -> Dict:
        original = np.asarray(results['input_ids'], dtype=np.int64)
        if original.ndim != 1:
            raise ValueError(
                f'TextMasking masks one caption per sample, got input_ids of '
                f'shape {original.shape}: per-video items (several captions, '
                'per_video=True) are for evaluation pipelines')
        flat = original.reshape(-1)
        special_ids = results.get('special_token_ids')
        special_ids = (np.asarray(special_ids, dtype=np.int64).reshape(-1)
                       if special_ids is not None else
                       np.zeros(0, dtype=np.int64))
        if 'special_tokens_mask' in results:
            special = np.asarray(results['special_tokens_mask']).reshape(-1)
            special = special.astype(np.bool_)
            if special.shape != flat.shape:
                raise ValueError(
                    f'special_tokens_mask has shape {special.shape} but '
                    f'input_ids has shape {flat.shape}')
        else:
            special = np.isin(flat, special_ids)

        masked = flat.copy()
        labels = np.full_like(flat, IGNORE_INDEX)
        words = np.flatnonzero(~special)
        if words.size:
            mask_token_id = int(
                self._lookup(results, 'mask_token_id', self.mask_token_id))
            rng = _rng(self.seed, results)
            selected = words[self._select(rng, words.size)]
            labels[selected] = flat[selected]
            if self.strategy == 'mae':
                masked[selected] = mask_token_id
            else:
                u = rng.random(selected.size)
                masked[selected[u < 0.8]] = mask_token_id
                to_random = selected[(u >= 0.8) & (u < 0.9)]
                if to_random.size:
                    vocab_size = int(
                        self._lookup(results, 'vocab_size', self.vocab_size))
                    excluded = np.append(special_ids, mask_token_id)
                    masked[to_random] = self._random_ids(
                        rng, to_random.size, vocab_size, excluded)

        results['input_ids_unmasked'] = original.copy()
        results['input_ids'] = masked.reshape(original.shape)
        results['mlm_labels'] = labels.reshape(original.shape)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(mask_ratio={self.mask_ratio}, '
                f'strategy={self.strategy!r}, count={self.count!r}, '
                f'mask_token_id={self.mask_token_id}, '
                f'vocab_size={self.vocab_size})')
