"""Checkpoint converters between simvtp and other code bases.

One module per source format, all returning ``(state_dict, ConversionReport)``:

* :mod:`.simvtp_reference`: the authors' pre-training checkpoint <-> simvtp
  (:func:`reference_to_simvtp`, :func:`simvtp_to_reference`);
* :mod:`.simvtp_msrvtt`: the authors' MSR-VTT fine-tuned dual encoder ->
  simvtp backbone (:func:`msrvtt_finetuned_to_simvtp`);
* :mod:`.videomae`: VideoMAE pre-training / fine-tuning checkpoints
  (:func:`videomae_to_simvtp`);
* :mod:`.mmaction_vit`: mmaction2's VideoMAE ``VisionTransformer``
  (:func:`mmaction_vit_to_simvtp`);
* :mod:`.bert`: Hugging Face BERT embeddings (:func:`bert_to_simvtp`).

:func:`load_pretrained` (:mod:`.pretrained`) fills a fine-tuning model from a
simvtp pre-training checkpoint through a prefix map and reports what loaded.

Files are read with :func:`load_source`, which never unpickles arbitrary
objects. The command-line tools (one per format, sharing
``tools/model_converters/converter_cli.py``) live in
``tools/model_converters/``. Conversion is not a model: nothing here is
registered, and ``import simvtp`` does not import this package.
"""
from .bert import bert_to_simvtp, load_bert_state_dict
from .common import (fuse_qkv_bias, load_source, split_qkv_bias)
from .mmaction_vit import mmaction_vit_to_simvtp
from .pretrained import PretrainedLoadReport, load_pretrained, read_state_dict
from .report import ConversionError, ConversionReport, compare_with_model
from .simvtp_msrvtt import msrvtt_finetuned_to_simvtp
from .simvtp_reference import reference_to_simvtp, simvtp_to_reference
from .videomae import videomae_to_simvtp

__all__ = [
    'ConversionReport', 'ConversionError', 'compare_with_model',
    'load_source', 'split_qkv_bias', 'fuse_qkv_bias', 'reference_to_simvtp',
    'simvtp_to_reference', 'msrvtt_finetuned_to_simvtp',
    'videomae_to_simvtp', 'mmaction_vit_to_simvtp', 'bert_to_simvtp',
    'load_bert_state_dict', 'load_pretrained', 'PretrainedLoadReport',
    'read_state_dict'
]
