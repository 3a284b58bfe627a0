"""Where the videos to index or extract come from.

* a **folder**: every file with a video extension under it (recursively),
  sorted by relative path;
* a **list file** (``.txt``/``.lst``): one ``PATH`` or ``PATH<TAB>ID`` per
  line, as :func:`simvtp.apis.feature_file.read_video_list` reads it;
* an **annotation file** (``.json``/``.csv``) of the config's test dataset
  type (e.g. ``MSRVTTDataset``, ``WebVidDataset``): its videos, with their
  captions, read by that dataset class from the config's ``data_prefix``.
"""
import copy
import os
import os.path as osp
from typing import List, Optional, Tuple

from mmengine.config import Config

from .feature_file import VIDEO_EXTENSIONS, read_video_list

__all__ = ['list_videos', 'read_annotated_videos', 'annotated_video_ids',
           'ANNOTATION_EXTENSIONS']

ANNOTATION_EXTENSIONS = ('.json', '.csv')


def _test_dataset_cfg(cfg: Config) -> dict:
    dataset = (cfg.get('test_dataloader') or {}).get('dataset')
    while isinstance(dataset, dict) and 'ann_file' not in dataset:
        dataset = dataset.get('dataset')
    if not isinstance(dataset, dict):
        raise KeyError(f'config {cfg.filename}: test_dataloader.dataset '
                       '(or a dataset it wraps) has no ann_file')
    return copy.deepcopy(dict(dataset))


def read_annotated_videos(cfg: Config, ann_file: Optional[str] = None,
                          data_root: Optional[str] = None
                          ) -> Tuple[List[str], List[List[str]]]:
    """Videos and their captions from an annotation file.

    Args:
        cfg: a config whose test dataset (through wrappers) names the
            dataset type that reads the file.
        ann_file: default: the config's test annotation file.
        data_root: the video root; default: the config's
            ``data_prefix.video``.

    Returns:
        ``(paths, captions)``: unique videos in file order and, per video,
        its captions.
    """
    from mmengine.registry import init_default_scope

    from ..registry import DATASETS
    init_default_scope(cfg.get('default_scope', 'simvtp'))
    ds = _test_dataset_cfg(cfg)
    if ann_file is not None:
        ds['ann_file'] = ann_file
    if data_root is not None:
        ds['data_prefix'] = dict(video=data_root)
    ds.update(pipeline=[], per_video=True, test_mode=True)
    dataset = DATASETS.build(ds)
    paths, captions = [], []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        text = info.get('text')
        paths.append(info['filename'])
        captions.append([text] if isinstance(text, str) else list(text))
    return paths, captions


def list_videos(source: str, cfg: Optional[Config] = None) -> List[str]:
    """Video paths from a folder, a list file or an annotation file (see
    the module docstring; an annotation file needs ``cfg``)."""
    if osp.isdir(source):
        found = []
        for root, dirs, files in os.walk(source):
            dirs.sort()
            found += [osp.join(root, f) for f in sorted(files)
                      if f.lower().endswith(VIDEO_EXTENSIONS)]
        if not found:
            raise FileNotFoundError(
                f'{source}: no video files (extensions '
                f'{", ".join(VIDEO_EXTENSIONS)}) in this folder or below')
        return found
    if not osp.isfile(source):
        raise FileNotFoundError(f'{source!r} is neither a folder nor a file')
    if source.lower().endswith(ANNOTATION_EXTENSIONS):
        if cfg is None:
            raise ValueError(f'{source}: reading an annotation file needs '
                             'the config whose test dataset type reads it')
        return read_annotated_videos(cfg, source)[0]
    return [path for _, path in read_video_list(source, key='name')]



def annotated_video_ids(cfg: Config, ann_file: str, key: str = 'stem'
                        ) -> List[Tuple[str, str]]:
    """``[(video_id, path)]`` of an annotation file's videos, ids made as
    :func:`~simvtp.apis.feature_file.read_video_list` makes them (file
    name without (``'stem'``) or with (``'name'``) its extension).

    Raises:
        ValueError: naming two videos that would get the same id.
    """
    out, seen = [], {}
    for path in read_annotated_videos(cfg, ann_file)[0]:
        name = osp.basename(path)
        vid = osp.splitext(name)[0] if key == 'stem' else name
        if vid in seen:
            raise ValueError(f'{ann_file}: videos {seen[vid]} and {path} '
                             f'get the same id {vid!r}; use --key name or '
                             'a list file with explicit ids')
        seen[vid] = path
        out.append((vid, path))
    return out
