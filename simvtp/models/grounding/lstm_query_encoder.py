"""2D-TAN's query encoder: word vectors + LSTM, last valid step."""
import os.path as osp
from typing import Optional

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule

from ...registry import MODELS

__all__ = ['LSTMQueryEncoder', 'load_word_vectors']


def load_word_vectors(path: str, vocab: dict, dims: int) -> tuple:
    """Vectors of ``vocab``'s tokens from a GloVe-style text file.

    Each line is ``word v_1 ... v_dims`` (GloVe, fastText ``.vec`` after
    its header line). Returns ``(rows (V, dims) float32, found (V,) bool)``
    for ``vocab`` (token -> row); WordPiece continuations (``##x``) and
    tokens absent from the file are not found.

    Raises:
        FileNotFoundError / ValueError naming the file and line.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'word vector file {path!r} does not exist')
    rows = np.zeros((max(vocab.values()) + 1, dims), np.float32)
    found = np.zeros(len(rows), bool)
    with open(path, encoding='utf-8', errors='replace') as f:
        for lineno, line in enumerate(f, 1):
            parts = line.rstrip().split(' ')
            if lineno == 1 and len(parts) == 2:
                continue  # fastText header "count dims"
            word = parts[0]
            if word not in vocab:
                continue
            if len(parts) != dims + 1:
                raise ValueError(f'{path}:{lineno}: expected a word and '
                                 f'{dims} numbers, got {len(parts) - 1} '
                                 'numbers (set embed_dims to the file\'s '
                                 'width)')
            try:
                rows[vocab[word]] = np.asarray(parts[1:], np.float32)
            except ValueError:
                raise ValueError(f'{path}:{lineno}: non-numeric vector for '
                                 f'{word!r}') from None
            found[vocab[word]] = True
    return rows, found


@MODELS.register_module()
class LSTMQueryEncoder(BaseModule):
    """Word embeddings + LSTM; the query is the output at its last token.

    2D-TAN uses frozen GloVe 6B-300d vectors and a 3-layer unidirectional
    LSTM of width 512. GloVe cannot be downloaded here: the embeddings are
    learned, or initialised from a local GloVe-style file
    (``word_vectors``) for the tokens of ``tokenizer``'s vocabulary that
    the file has (a WordPiece vocabulary such as bert-base-uncased keeps
    whole words as single tokens for most of GloVe's vocabulary).

    Args:
        tokenizer: the tokenizer folder of the pipeline's ``TokenizeText``
            (sets the vocabulary size and, with ``word_vectors``, which
            word each row is).
        vocab_size: rows of the embedding (default: the tokenizer's size).
        embed_dims: word vector width (GloVe 300).
        hidden_dims: query width ``out_dims`` (2D-TAN 512; split over the
            two directions when bidirectional).
        num_layers, bidirectional: LSTM shape (2D-TAN: 3, False).
        word_vectors: optional GloVe-style text file, read by
            ``init_weights`` (i.e. when training starts).
        freeze_word_vectors: keep the embedding fixed (2D-TAN does).
        pad_token_id: the padding id.
    """

    def __init__(self, tokenizer: Optional[str] = None,
                 vocab_size: Optional[int] = None,
                 embed_dims: int = 300,
                 hidden_dims: int = 512,
                 num_layers: int = 3,
                 bidirectional: bool = False,
                 word_vectors: Optional[str] = None,
                 freeze_word_vectors: bool = False,
                 pad_token_id: int = 0,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if vocab_size is None:
            if tokenizer is None:
                raise ValueError('LSTMQueryEncoder needs tokenizer or '
                                 'vocab_size')
            from ...datasets.tokenizer import load_tokenizer
            vocab_size = len(load_tokenizer(tokenizer))
        if word_vectors is not None and tokenizer is None:
            raise ValueError('word_vectors needs the tokenizer whose '
                             'vocabulary the rows follow')
        if bidirectional and hidden_dims % 2:
            raise ValueError(f'bidirectional needs an even hidden_dims, got '
                             f'{hidden_dims}')
        self.tokenizer = tokenizer
        self.word_vectors = word_vectors
        self.out_dims = int(hidden_dims)
        self.embedding = nn.Embedding(int(vocab_size), int(embed_dims),
                                      padding_idx=pad_token_id)
        self.embedding.weight.requires_grad_(not freeze_word_vectors)
        self.lstm = nn.LSTM(int(embed_dims),
                            hidden_dims // 2 if bidirectional else
                            hidden_dims, num_layers=int(num_layers),
                            bidirectional=bool(bidirectional),
                            batch_first=True)

    def init_weights(self) -> None:
        super().init_weights()
        if self.word_vectors is None:
            return
        from ...datasets.tokenizer import load_tokenizer
        vocab = load_tokenizer(self.tokenizer).get_vocab()
        rows, found = load_word_vectors(self.word_vectors, vocab,
                                        self.embedding.embedding_dim)
        n = min(len(rows), self.embedding.num_embeddings)
        hit = torch.from_numpy(found[:n])
        with torch.no_grad():
            self.embedding.weight[:n][hit] = torch.from_numpy(rows[:n])[hit]
        print_log(f'{self.word_vectors}: vectors for {int(hit.sum())} of '
                  f'{self.embedding.num_embeddings} vocabulary tokens; the '
                  'others keep their random initialisation',
                  logger='current')

    def forward(self, input_ids: torch.Tensor,
                attention_mask: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` ids + mask -> ``(B, hidden_dims)``."""
        lengths = attention_mask.long().sum(1).clamp(min=1)
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embedding(input_ids), lengths.cpu(), batch_first=True,
            enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
        rows = torch.arange(len(out), device=out.device)
        return out[rows, lengths.to(out.device) - 1]
