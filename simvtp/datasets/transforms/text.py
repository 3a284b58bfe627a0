"""Caption tokenization for the data pipeline."""
import logging
import os
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

from ...registry import TRANSFORMS
from ..tokenizer import load_tokenizer

# One caption is encoded at a time, so the Rust thread pool buys nothing; and
# once used before a fork (dataloader workers) it prints a warning per worker
# and disables itself. A user's explicit setting wins.
os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')


@TRANSFORMS.register_module()
class TokenizeText(BaseTransform):
    """Tokenize ``results[text_key]`` into BERT ids ``[CLS] words [SEP]``.

    One caption gives ``(L,)`` arrays; a list of captions (a per-video
    evaluation item) gives ``(K, L)`` arrays padded to its longest caption.

    No padding here: the data preprocessor pads each batch to its longest
    caption. Writes ``input_ids``, ``attention_mask`` and
    ``special_tokens_mask`` (np.int64, shape (L,)), plus the scalars the
    masking transform needs: ``mask_token_id``, ``vocab_size``,
    ``special_token_ids``.

    A caption whose word tokens are mostly [UNK] (a script or words the
    vocabulary does not know) is kept but reported: logged once per video
    and listed in ``results['data_warnings']`` as ``(filename, reason)``,
    which :class:`PackVideoTextInputs` puts in the sample's metainfo for
    :class:`~simvtp.engine.hooks.DataHealthHook`.

    Args:
        tokenizer: a local tokenizer folder or a name in the HF cache.
        max_length: captions are truncated to this many tokens (with
            [CLS]/[SEP]); must not exceed the model's text position table.
        text_key: where the caption is.
        unk_warning_ratio: share of [UNK] among a caption's word tokens from
            which it is reported (None: never).
    """

    def __init__(self, tokenizer: str, max_length: int = 32,
                 text_key: str = 'text',
                 unk_warning_ratio: Optional[float] = 0.5) -> None:
        if max_length < 3:
            raise ValueError(f'max_length must be >= 3, got {max_length}')
        self.tokenizer_name = tokenizer
        self.max_length = max_length
        self.text_key = text_key
        self.unk_warning_ratio = unk_warning_ratio
        self._tokenizer = None
        self._reported = set()

    @property
    def tokenizer(self):
        if self._tokenizer is None:  # lazily, so workers load their own
            self._tokenizer = load_tokenizer(self.tokenizer_name)
        return self._tokenizer

    def __getstate__(self):
        state = self.__dict__.copy()
        state['_tokenizer'] = None
        return state

    def transform(self, results: dict) -> Optional[dict]:
        text = results[self.text_key]
        many = isinstance(text, (list, tuple)) and bool(text) and all(
            isinstance(t, str) for t in text)
        if not many and not isinstance(text, str):
            raise TypeError(
                f'TokenizeText expects results[{self.text_key!r}] to be one '
                f'caption string or a list of them, got '
                f'{type(text).__name__}')
        tok = self.tokenizer
        # several captions (a per-video evaluation item): (K, L) arrays
        # padded to the item's longest caption, attention_mask 0 there
        enc = tok(list(text) if many else text, truncation=True,
                  max_length=self.max_length,
                  padding='longest' if many else False,
                  return_special_tokens_mask=True)
        for key in ('input_ids', 'attention_mask', 'special_tokens_mask'):
            results[key] = np.asarray(enc[key], dtype=np.int64)
        results['mask_token_id'] = tok.mask_token_id
        results['vocab_size'] = len(tok)
        results['special_token_ids'] = list(tok.all_special_ids)
        if not many:
            self._check_unknown_words(results)
        return results

    def _check_unknown_words(self, results: dict) -> None:
        if self.unk_warning_ratio is None or \
                self.tokenizer.unk_token_id is None:
            return
        words = results['input_ids'][results['special_tokens_mask'] == 0]
        unknown = int((words == self.tokenizer.unk_token_id).sum())
        if not words.size or not unknown or \
                unknown < self.unk_warning_ratio * words.size:
            return
        path = str(results.get('filename', '?'))
        reason = (f'{unknown} of {words.size} caption tokens are [UNK] (a '
                  'script or words the tokenizer does not know)')
        results['data_warnings'] = list(results.get('data_warnings', [])) \
            + [(path, reason)]
        if path not in self._reported:
            self._reported.add(path)
            print_log(f'TokenizeText: {path}: {reason}', logger='current',
                      level=logging.WARNING)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(tokenizer={self.tokenizer_name!r}, '
                f'max_length={self.max_length})')
