"""Caption tokenization for the data pipeline."""
import os
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

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

    Args:
        tokenizer: a local tokenizer folder or a name in the HF cache.
        max_length: captions are truncated to this many tokens (with
            [CLS]/[SEP]); must not exceed the model's text position table.
        text_key: where the caption is.
    """

    def __init__(self, tokenizer: str, max_length: int = 32,
                 text_key: str = 'text') -> None:
        if max_length < 3:
            raise ValueError(f'max_length must be >= 3, got {max_length}')
        self.tokenizer_name = tokenizer
        self.max_length = max_length
        self.text_key = text_key
        self._tokenizer = None

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
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(tokenizer={self.tokenizer_name!r}, '
                f'max_length={self.max_length})')
