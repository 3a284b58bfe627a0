"""Loading a BERT WordPiece tokenizer without touching the network."""
import os.path as osp
from functools import lru_cache

from transformers import BertTokenizerFast


@lru_cache(maxsize=8)
def load_tokenizer(name_or_path: str) -> BertTokenizerFast:
    """Load ``BertTokenizerFast`` from a local folder or the local HF cache.

    Args:
        name_or_path: a folder holding ``vocab.txt`` (and optionally
            ``tokenizer.json``), or a hub name such as ``'bert-base-uncased'``
            that is already in the Hugging Face cache. Nothing is downloaded.

    Raises:
        FileNotFoundError: naming what was looked for and how to fix it.
    """
    if osp.isdir(name_or_path) or osp.isfile(name_or_path):
        path = osp.dirname(name_or_path) if osp.isfile(name_or_path) \
            else name_or_path
        if not osp.isfile(osp.join(path, 'vocab.txt')) and not osp.isfile(
                osp.join(path, 'tokenizer.json')):
            raise FileNotFoundError(
                f'tokenizer folder {path!r} has neither vocab.txt nor '
                'tokenizer.json')
        return BertTokenizerFast.from_pretrained(path, local_files_only=True)
    from huggingface_hub import snapshot_download
    try:  # resolve the name in the local cache only; never the network
        path = snapshot_download(name_or_path, local_files_only=True,
                                 allow_patterns=['*.txt', '*.json'])
    except Exception:  # LocalEntryNotFoundError, invalid repo ids, ...
        path = None
    if path is None or not (osp.isfile(osp.join(path, 'vocab.txt')) or
                            osp.isfile(osp.join(path, 'tokenizer.json'))):
        raise FileNotFoundError(
            f'tokenizer {name_or_path!r} is neither a local folder nor in the '
            'Hugging Face cache, and simvtp never downloads at run time. Put '
            'its vocab.txt in a folder and give that folder as the '
            "tokenizer of TokenizeText (e.g. tokenizer='/models/"
            "bert-base-uncased'), or run `huggingface-cli download "
            f'{name_or_path}` on a machine with internet and copy its cache.')
    return BertTokenizerFast.from_pretrained(path, local_files_only=True)
