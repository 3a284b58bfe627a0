"""Hugging Face BERT embeddings -> ``backbone.text_embeddings.*``.

SimVTP initialises its text embeddings (word + position + token type +
LayerNorm) from ``bert-base-uncased``; nothing else of BERT is used. The
source is a local folder (``model.safetensors`` or ``pytorch_model.bin``), one
of those files, or an already loaded state dict, with keys
``bert.embeddings.*`` (``BertForMaskedLM``/``BertForPreTraining``) or
``embeddings.*`` (``BertModel``). The ``position_ids`` / ``token_type_ids``
buffers are ignored (simvtp recomputes them); old TF-converted
``LayerNorm.gamma``/``beta`` names are accepted.
"""
import os.path as osp
from typing import Dict, Optional, Tuple, Union

import torch

from .common import KeyMapper, find_state_dict, load_source
from .report import ConversionError, ConversionReport
from .simvtp_reference import BUFFER_NOTE, TEXT_EMBEDDING_BUFFERS

__all__ = ['bert_to_simvtp', 'load_bert_state_dict']

WEIGHT_FILES = ('model.safetensors', 'pytorch_model.bin')
_TABLES = ('word_embeddings.weight', 'position_embeddings.weight',
           'token_type_embeddings.weight')
_NORM = (('LayerNorm.weight', 'LayerNorm.gamma'),
         ('LayerNorm.bias', 'LayerNorm.beta'))
_BERT_PARTS = ('bert.', 'embeddings.', 'encoder.', 'pooler.', 'cls.')


def load_bert_state_dict(path: str) -> Tuple[Dict[str, torch.Tensor], str]:
    """Tensors of a local HF BERT folder or weight file (safely).

    Returns:
        ``(state_dict, the file read)``.
    """
    if osp.isdir(path):
        for name in WEIGHT_FILES:
            if osp.isfile(osp.join(path, name)):
                path = osp.join(path, name)
                break
        else:
            raise FileNotFoundError(
                f'{path!r} holds none of {list(WEIGHT_FILES)} (sharded '
                'checkpoints are not supported: pass the shard that holds '
                'bert.embeddings.*)')
    state, _, _ = find_state_dict(load_source(path),
                                  ('state_dict', 'model'))
    return state, path


def bert_to_simvtp(source: Union[str, Dict[str, torch.Tensor]],
                   max_text_len: Optional[int] = None,
                   description: str = ''
                   ) -> Tuple[Dict[str, torch.Tensor], ConversionReport]:
    """BERT's embedding module -> ``backbone.text_embeddings.*``.

    Args:
        source: a folder / file path or a state dict.
        max_text_len: keep only the first ``max_text_len`` position
            embeddings (the backbone's ``max_text_len``); None keeps all.
        description: shown as the report's source.
    """
    if isinstance(source, str):
        state, description = load_bert_state_dict(source)
    else:
        state, _, _ = find_state_dict(source, ('state_dict', 'model'))
    report = ConversionReport('hf-bert', 'simvtp', description)
    prefix = None
    for cand in ('bert.embeddings.', 'embeddings.'):
        if any(k.startswith(cand) for k in state):
            prefix = cand
            break
    if prefix is None:
        raise ConversionError(
            f'{description or "state dict"}: no BERT embeddings found (keys '
            'bert.embeddings.* or embeddings.*)')
    mapper = KeyMapper(state, report)
    dst = 'backbone.text_embeddings.'
    for name in _TABLES:
        keep = None
        if name.startswith('position') and max_text_len is not None:
            table = state.get(prefix + name)
            if table is not None and table.shape[0] > max_text_len:
                keep = max_text_len
                report.notes.append(
                    f'kept the first {max_text_len} of {table.shape[0]} '
                    'position embeddings (max_text_len)')
        if mapper.has(prefix + name):
            mapper.take(prefix + name, dst + name,
                        None if keep is None else
                        (lambda t, n=keep: t[:n].clone()))
        else:
            report.missing[dst + name] = f'the source has no {prefix + name}'
    for new, old in _NORM:
        if mapper.has(prefix + new):
            mapper.take(prefix + new, dst + new)
        elif mapper.has(prefix + old):
            mapper.take(prefix + old, dst + new)
        else:
            report.missing[dst + new] = f'the source has no {prefix + new}'
    for buf in TEXT_EMBEDDING_BUFFERS:
        if mapper.has(prefix + buf):
            mapper.drop(prefix + buf, BUFFER_NOTE)
    for key in state:
        if key not in mapper.used and key.startswith(_BERT_PARTS):
            mapper.drop(key, 'BERT encoder layers / pooler / pre-training '
                        'heads: SimVTP uses only the embedding module')
    report.notes.append('text_decoder.head is not initialised from BERT (the '
                        'reference initialises text_cls at random)')
    out = mapper.finish('not a BERT tensor')
    return out, report
