"""Train a BERT-style WordPiece vocabulary on the synthetic captions.

The result is a folder that ``transformers.BertTokenizerFast.from_pretrained``
loads offline (``vocab.txt``, ``tokenizer.json``, ``tokenizer_config.json``,
``special_tokens_map.json``), with the special tokens at fixed ids::

    [PAD]=0  [UNK]=1  [CLS]=2  [SEP]=3  [MASK]=4
"""
import os
import os.path as osp
import string
from collections import Counter
from typing import Iterable, List

from .scene import COLOURS, MOTIONS, SHAPES, TEMPLATES

SPECIAL_TOKENS: List[str] = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
MAX_VOCAB_SIZE = 1000
MODEL_MAX_LENGTH = 64


def grammar_words() -> List[str]:
    """Every word the caption grammar can produce, sorted."""
    words = set(COLOURS) | set(SHAPES) | {'a', 'an', 'and'}
    for forms in MOTIONS.values():
        for form in forms:
            words.update(form.split())
    for article, _ in TEMPLATES:
        words.update(article.split())
    return sorted(words)


def train_vocab(captions: Iterable[str], out_dir: str,
                vocab_size: int = MAX_VOCAB_SIZE) -> int:
    """Train WordPiece on ``captions`` and save a BertTokenizerFast folder.

    Besides the captions, the trainer sees one line with the whole grammar
    lexicon, so a tiny training split still yields whole-word tokens for
    every word that val/test captions can contain.

    The Rust trainer breaks ties between equally frequent merges in hash-map
    order, so its intermediate sub-word pieces and its ids change from run to
    run. To make ``vocab.txt`` a function of the captions only, the trained
    vocabulary is canonicalised: special tokens (ids 0-4), single characters
    (word-initial and ``##``; always ``a-z`` and ``0-9``, so no lowercase
    ASCII word maps to ``[UNK]``), then the trained whole words by
    decreasing frequency, ties alphabetical.

    Args:
        captions: training captions.
        out_dir: folder to write (created; existing files overwritten).
        vocab_size: upper bound; the grammar needs far fewer tokens.

    Returns:
        The number of tokens in the vocabulary.
    """
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    corpus = list(captions) + [' '.join(grammar_words())]
    wordpiece = BertWordPieceTokenizer(lowercase=True, strip_accents=True)
    wordpiece.train_from_iterator(
        corpus, vocab_size=vocab_size, min_frequency=1,
        special_tokens=SPECIAL_TOKENS, show_progress=False)
    trained = wordpiece.get_vocab()

    # Word counts under the tokenizer's own normalisation and splitting.
    counts = Counter()
    for text in corpus:
        pieces = wordpiece.pre_tokenizer.pre_tokenize_str(
            wordpiece.normalizer.normalize_str(text))
        counts.update(word for word, _ in pieces)
    chars = sorted(set(''.join(counts)) |
                   set(string.ascii_lowercase + string.digits))
    tokens = list(SPECIAL_TOKENS) + chars + ['##' + c for c in chars]
    words = sorted((w for w in counts if w in trained and w not in chars),
                   key=lambda w: (-counts[w], w))
    tokens += words[:max(0, vocab_size - len(tokens))]

    os.makedirs(out_dir, exist_ok=True)
    vocab_file = osp.join(out_dir, 'vocab.txt')
    with open(vocab_file, 'w', encoding='utf-8', newline='') as f:
        f.write(''.join(token + '\n' for token in tokens))

    tokenizer = BertTokenizerFast(vocab_file=vocab_file, do_lower_case=True,
                                  model_max_length=MODEL_MAX_LENGTH)
    for i, token in enumerate(SPECIAL_TOKENS):
        if tokenizer.convert_tokens_to_ids(token) != i:
            raise RuntimeError(f'{token} got id '
                               f'{tokenizer.convert_tokens_to_ids(token)}, '
                               f'expected {i}')
    tokenizer.save_pretrained(out_dir)
    return len(tokenizer)
