"""Honest checkpoint selection: which split selects, which checkpoint is tested.

* :func:`check_selection_split`: a config whose validation loader reads the
  same annotations as its test loader would select its checkpoint on the
  test split. That is refused unless the config says ``select_on_test =
  True`` (only the explicitly named ``*_select_on_test.py`` configs do), and
  then every run logs a warning saying so.
* :func:`resolve_checkpoint`: ``'last'`` / ``'best'`` (the one
  ``CheckpointHook(save_best=...)`` kept, i.e. the best on validation) /
  a path -> a checkpoint file of the work dir.
* :func:`evaluate_checkpoints`: test several checkpoints with one runner and
  return their figures, labelled.
"""
import glob
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmengine.logging import print_log

from .config_check import ConfigError

__all__ = ['check_selection_split', 'resolve_checkpoint', 'evaluate_checkpoints',
           'SELECT_ON_TEST_WARNING']

SELECT_ON_TEST_WARNING = (
    'checkpoint selection uses the TEST split (select_on_test=True, the '
    "authors' protocol): the selected checkpoint's test figures are "
    'optimistic; prefer a validation split carved from training')
# dataset keys that decide which annotations a loader reads
_IDENTITY_KEYS = ('type', 'ann_file', 'split', 'video_list', 'holdout',
                  'max_pairs')


def _dataset_identity(loader) -> Optional[tuple]:
    dataset = (loader or {}).get('dataset')
    while isinstance(dataset, dict) and 'dataset' in dataset and \
            'ann_file' not in dataset:
        dataset = dataset['dataset']  # wrappers (BrokenSampleGuard, ...)
    if not isinstance(dataset, dict) or 'ann_file' not in dataset:
        return None
    return tuple(repr(dataset.get(k)) for k in _IDENTITY_KEYS)


def check_selection_split(cfg) -> bool:
    """Refuse (or, with ``select_on_test=True``, log) selection on test.

    Returns:
        True when the config selects on its test split (allowed because it
        says so), False otherwise.

    Raises:
        ConfigError: ``val_dataloader`` and ``test_dataloader`` read the
            same annotations and the config does not set
            ``select_on_test = True``.
    """
    val = _dataset_identity(cfg.get('val_dataloader'))
    test = _dataset_identity(cfg.get('test_dataloader'))
    same = val is not None and val == test
    if cfg.get('select_on_test', False):
        print_log(SELECT_ON_TEST_WARNING, logger='current',
                  level=logging.WARNING)
        return True
    if same:
        raise ConfigError(
            'val_dataloader.dataset and test_dataloader.dataset read the '
            'same annotations, so checkpoints would be selected on the test '
            'split. Validate on a split carved from training (dataset '
            "holdout=dict(part='val', ...)) or, to reproduce a protocol that "
            'selects on test, use a config that sets select_on_test = True '
            '(e.g. configs/retrieval/finetune_msrvtt_9k_select_on_test.py)')
    return False


def resolve_checkpoint(name: str, work_dir: str) -> str:
    """``'last'``, ``'best'`` or a path -> an existing checkpoint file.

    ``'last'`` reads ``work_dir/last_checkpoint`` (written by
    ``CheckpointHook``); ``'best'`` is the newest ``work_dir/best_*.pth``
    (``save_best``: selected on the validation split).
    """
    if name == 'last':
        marker = osp.join(work_dir, 'last_checkpoint')
        if not osp.isfile(marker):
            raise FileNotFoundError(
                f'no {marker}: nothing was trained in {work_dir} (train '
                'first, or pass --work-dir / a checkpoint path)')
        with open(marker, encoding='utf-8') as f:
            path = f.read().strip()
        if not osp.isfile(path):
            path = osp.join(work_dir, osp.basename(path))
    elif name == 'best':
        found = sorted(glob.glob(osp.join(work_dir, 'best_*.pth')),
                       key=osp.getmtime)
        if not found:
            raise FileNotFoundError(
                f'no best_*.pth in {work_dir}: the config must select '
                'checkpoints on validation (default_hooks.checkpoint.'
                "save_best='retrieval/R1') and have been trained there")
        path = found[-1]
        if len(found) > 1:
            print_log(f'{len(found)} best checkpoints in {work_dir}; using '
                      f'the newest, {path}', logger='current',
                      level=logging.WARNING)
    else:
        path = name
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path!r} does not exist')
    return path


def evaluate_checkpoints(runner, names: Sequence[str]) -> List[Dict]:
    """Test each checkpoint (``'last'``, ``'best'`` or a path) in turn with
    ``runner`` and log one summary line per checkpoint.

    Returns:
        ``[dict(name=..., checkpoint=path, metrics={...}), ...]``.
    """
    results = []
    tested = {}  # (epoch, iter) of the weights -> metrics
    for name in names:
        path = resolve_checkpoint(name, runner.work_dir)
        checkpoint = runner.load_checkpoint(path, map_location='cpu')
        label = dict(best='best on validation', last='last').get(name, name)
        meta = checkpoint.get('meta', {}) if isinstance(checkpoint,
                                                        dict) else {}
        # 'best' and 'last' come from one run (work_dir): the same training
        # step means the same weights; explicit paths may come from others
        step = (meta.get('epoch'), meta.get('iter')) \
            if name in ('best', 'last') else (None, None)
        if None not in step and step in tested:
            # best on validation = the last epoch: the same weights
            print_log(f'{label}: {path} holds the weights of epoch '
                      f'{step[0]} (iteration {step[1]}), already tested',
                      logger='current')
            metrics = tested[step]
        else:
            print_log(f'testing {label}: {path}', logger='current')
            metrics = runner.test()
            if None not in step:
                tested[step] = metrics
        results.append(dict(name=name, checkpoint=path, metrics=metrics))
    for res in results:
        figures = ', '.join(f'{k.split("/")[-1]} {v:.2f}' if isinstance(
            v, float) else f'{k.split("/")[-1]} {v}'
            for k, v in res['metrics'].items())
        print_log(f"test [{res['name']}] {osp.basename(res['checkpoint'])}: "
                  f'{figures}', logger='current')
    return results
