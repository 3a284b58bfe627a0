"""Class names as text features: the zero-shot classifier of a video-text
model.

Each class name is written into every prompt template (``'a video of
{}'``), the prompts are embedded with the model's text side (the caption
feature that VTC aligned with the video feature) and their L2-normalised
features are averaged and normalised again: one ``(D, )`` row per class
(CLIP's prompt ensembling). ``video_features @ rows.T`` is then a zero-shot
classifier, and the rows initialise a fine-tuned classification head
(:class:`~simvtp.models.heads.TextPromptClsHead`).
"""
import os.path as osp
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.config import Config

__all__ = ['read_class_names', 'config_of_checkpoint', 'class_text_features']


def read_class_names(class_names: Union[str, Sequence[str]]) -> list:
    """A list of names, or a text file with one name a line (mmaction2's
    label maps, e.g. ``label_map_k400.txt``; blank lines are skipped)."""
    if isinstance(class_names, str):
        if not osp.isfile(class_names):
            raise FileNotFoundError(
                f'class name file {class_names!r} does not exist (expected '
                'one class name a line, in label order)')
        with open(class_names, encoding='utf-8') as f:
            names = [line.strip() for line in f if line.strip()]
        if not names:
            raise ValueError(f'class name file {class_names!r} is empty')
        return names
    names = [str(n) for n in class_names]
    if not names:
        raise ValueError('class_names is empty')
    return names


def config_of_checkpoint(checkpoint: str) -> Config:
    """The config an mmengine runner stored in ``checkpoint``'s
    ``meta['cfg']`` (the pre-training's model, tokenizer and pipeline)."""
    from simvtp.utils.safe_load import load_checkpoint_file
    if not osp.isfile(checkpoint):
        from simvtp.checkpoint.pretrained import SYNTHETIC_HINT
        raise FileNotFoundError(f'checkpoint {checkpoint!r} does not exist; '
                                f'{SYNTHETIC_HINT}')
    meta = load_checkpoint_file(checkpoint)
    meta = meta.get('meta') if isinstance(meta, dict) else None
    text = meta.get('cfg') if isinstance(meta, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise ValueError(
            f'{checkpoint}: no config stored in meta["cfg"] (a converted or '
            'hand-made checkpoint); pass the pre-training config explicitly '
            '(text_init=dict(..., config=PATH))')
    return Config.fromstring(text, file_format='.py')


def class_text_features(checkpoint: str,
                        class_names: Union[str, Sequence[str]],
                        templates: Sequence[str] = ('{}', ),
                        config: Optional[Union[str, Config]] = None,
                        batch_size: int = 64) -> torch.Tensor:
    """Prompt-ensembled text features of class names.

    Args:
        checkpoint: a video-text checkpoint (a simvtp pre-training or
            retrieval fine-tuning).
        class_names: names in label order, or a file of them
            (:func:`read_class_names`).
        templates: prompts with one ``{}`` for the class name, e.g.
            ``('a video of {}', 'a person {}')``.
        config: the checkpoint's config (path or Config); default: the one
            stored in the checkpoint (:func:`config_of_checkpoint`).
        batch_size: prompts per text pass.

    Returns:
        ``(num_classes, D)`` float32, rows L2-normalised.
    """
    from .encode import encode_texts
    from .inference import init_model
    names = read_class_names(class_names)
    templates = [str(t) for t in templates]
    if not templates:
        raise ValueError('templates is empty: give at least one, e.g. "{}"')
    bad = [t for t in templates if t.count('{}') != 1]
    if bad:
        raise ValueError(f'each template needs exactly one "{{}}" for the '
                         f'class name; got {bad[:3]}')
    where = 'the config given' if config is not None else \
        f'the config stored in {checkpoint}'
    if config is None:
        config = config_of_checkpoint(checkpoint)
    try:
        model = init_model(config, checkpoint)
        rows = []
        for name in names:
            feats = encode_texts(model, [t.format(name) for t in templates],
                                 batch_size=batch_size, progress=False)
            rows.append(F.normalize(feats.mean(dim=0), dim=0))
    except FileNotFoundError as exc:
        # typically the tokenizer: a stored config's paths are relative to
        # where the pre-training ran
        raise FileNotFoundError(
            f'class-name text features of {checkpoint}: {where} refers to '
            f'a file that is not here: {exc} Run from the folder the '
            'pre-training ran in, or pass the pre-training config with '
            'local paths (text_init=dict(..., config=PATH))') from exc
    return torch.stack(rows)
