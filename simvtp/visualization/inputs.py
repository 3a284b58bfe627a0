"""Model and single-clip inputs for the visualisation tools.

:func:`load_model` builds the config's model and loads a checkpoint safely;
:func:`build_clip_pipeline` assembles the config's test-style pipeline
(decode, resize, tokenize) with, on request, the masking steps of its train
pipeline; :func:`prepare_clip` runs it on one video file and caption and
batches the result through the model's data preprocessor.
"""
import copy
from typing import List, Optional, Tuple

__all__ = ['load_model', 'build_clip_pipeline', 'prepare_clip',
           'find_tokenizer']


def _type_name(step: dict) -> str:
    return str(step.get('type', '')).split('.')[-1]


def load_model(config: str, checkpoint: Optional[str],
               device: str = 'cpu', cfg_options: Optional[dict] = None):
    """Build ``config``'s model, load ``checkpoint`` (``state_dict`` or bare)
    without unpickling arbitrary objects, put it in eval mode.

    Returns:
        ``(model, cfg)``; missing / unexpected checkpoint keys are printed.
    """
    import simvtp  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from simvtp.checkpoint.common import find_state_dict
    from simvtp.registry import MODELS
    from simvtp.utils import load_checkpoint_file
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'simvtp'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pop('init_cfg', None)
    model = MODELS.build(model_cfg)
    if checkpoint:
        state, _, _ = find_state_dict(load_checkpoint_file(checkpoint),
                                      ('state_dict', 'model'))
        if all(k.startswith('module.') for k in state):
            state = {k[len('module.'):]: v for k, v in state.items()}
        result = model.load_state_dict(state, strict=False)
        if result.missing_keys:
            print(f'warning: {len(result.missing_keys)} model keys not in '
                  f'the checkpoint (random init): '
                  f'{result.missing_keys[:8]}')
        if result.unexpected_keys:
            print(f'warning: {len(result.unexpected_keys)} checkpoint keys '
                  f'unused: {result.unexpected_keys[:8]}')
    return model.to(device).eval(), cfg


def _pipeline_of(cfg, name: str) -> Optional[List[dict]]:
    loader = cfg.get(name)
    if not loader:
        return None
    dataset = loader.get('dataset', {})
    while 'pipeline' not in dataset and 'dataset' in dataset:  # wrappers
        dataset = dataset['dataset']
    pipeline = dataset.get('pipeline')
    return copy.deepcopy(list(pipeline)) if pipeline else None


def build_clip_pipeline(cfg, model=None, with_masking: bool = False,
                        mask_ratio: Optional[float] = None,
                        seed: Optional[int] = None) -> List[dict]:
    """Pipeline configs for one clip + caption.

    The config's test (else val, else train) pipeline without its packing
    step; with ``with_masking``, ``TubeMasking`` is inserted after
    ``FormatShape`` and ``TextMasking`` after ``TokenizeText`` (taken from
    the train pipeline when it has them, else defaults 0.9 / 0.75 with the
    model's geometry); ``mask_ratio`` overrides the tube mask ratio and
    ``seed`` fixes both masks. ``TokenizeText`` comes from the train
    pipeline if the test one has none. Ends with ``PackVideoTextInputs``.
    """
    test = (_pipeline_of(cfg, 'test_dataloader')
            or _pipeline_of(cfg, 'val_dataloader')
            or _pipeline_of(cfg, 'train_dataloader'))
    if not test:
        raise ValueError('the config has no dataloader pipeline to reuse')
    train = _pipeline_of(cfg, 'train_dataloader') or []

    def from_train(name):
        for step in train:
            if _type_name(step) == name:
                return copy.deepcopy(step)
        return None

    steps = [s for s in test if _type_name(s) != 'PackVideoTextInputs']
    if not any(_type_name(s) == 'TokenizeText' for s in steps):
        tok = from_train('TokenizeText')
        if tok is None:
            raise ValueError('no TokenizeText step in the config pipelines')
        steps.append(tok)
    if with_masking:
        tube = from_train('TubeMasking')
        if tube is None:
            backbone = getattr(model, 'backbone', None)
            tube = dict(type='TubeMasking', mask_ratio=0.9,
                        tubelet_size=getattr(backbone, 'tubelet_size', 2),
                        patch_size=getattr(backbone, 'patch_size', 16))
        if mask_ratio is not None:
            tube['mask_ratio'] = mask_ratio
        text = from_train('TextMasking') or dict(type='TextMasking',
                                                 mask_ratio=0.75)
        if seed is not None:
            tube['seed'] = seed
            text['seed'] = seed
        out = []
        for step in steps:
            out.append(step)
            if _type_name(step) == 'FormatShape':
                out.append(tube)
            elif _type_name(step) == 'TokenizeText':
                out.append(text)
        if tube not in out:
            raise ValueError('the pipeline has no FormatShape step to put '
                             'TubeMasking after')
        steps = out
    steps.append(dict(type='PackVideoTextInputs'))
    return steps


def find_tokenizer(pipeline):
    """The tokenizer of the first ``TokenizeText`` in a built pipeline."""
    for t in getattr(pipeline, 'transforms', []):
        if hasattr(t, 'tokenizer') and hasattr(t, 'tokenizer_name'):
            return t.tokenizer
    return None


def prepare_clip(model, cfg, video: str, caption: str,
                 with_masking: bool = False,
                 mask_ratio: Optional[float] = None,
                 seed: Optional[int] = None) -> Tuple[dict, object]:
    """Run the clip pipeline on ``video`` + ``caption``; batch of one.

    Returns:
        ``(inputs, tokenizer)`` with ``inputs`` the data preprocessor's
        output dict (``video`` normalised ``(1, C, T, H, W)``, ...).
    """
    from mmengine.dataset import Compose
    steps = build_clip_pipeline(cfg, model, with_masking, mask_ratio, seed)
    pipeline = Compose(steps)
    results = dict(filename=video, text=caption, start_index=0,
                   modality='RGB', sample_idx=0, video_id=0, text_id=0)
    packed = pipeline(results)
    if packed is None:
        raise RuntimeError(f'the pipeline dropped {video!r}')
    data = model.data_preprocessor(
        dict(inputs=[packed['inputs']],
             data_samples=[packed['data_samples']]), False)
    return data['inputs'], find_tokenizer(pipeline)
