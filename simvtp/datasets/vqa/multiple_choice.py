"""Multiple-choice video QA: (video, question + option k) for K options."""
import logging
import os.path as osp
from typing import Callable, Dict, List, Optional, Union

from mmaction.datasets import BaseActionDataset
from mmengine.logging import print_log

from ...registry import DATASETS
from .readers import MULTIPLE_CHOICE_LAYOUTS, read_annotations


def option_texts(question: str, options: List[str]) -> List[str]:
    """``"question option"`` per option (the option alone without a
    question): the text half of each ``[video ; question + option]`` pair."""
    return [f'{question} {o}' if question else o for o in options]


def video_key(name: str) -> str:
    """A video's name without folder and extension (``video7010``)."""
    return osp.splitext(osp.basename(str(name)))[0]


@DATASETS.register_module()
class MultipleChoiceQADataset(BaseActionDataset):
    """Multiple-choice video QA items.

    Each item: ``filename``, ``text`` (K strings, :func:`option_texts`),
    ``label`` (index of the true option), ``question_id``, ``num_options``.

    Args:
        ann_file: annotation file in ``layout`` (see
            :mod:`~simvtp.datasets.vqa.readers`).
        layout: ``'mmaction_mc'``, ``'tgif_mc'`` or ``'jsonl_mc'``.
        pipeline, data_prefix: as usual (``dict(video=root)``).
        video_ext: appended to names given without an extension.
        train_videos: optional annotation file of the videos a model to be
            evaluated here was trained on (any layout
            :class:`~simvtp.datasets.MSRVTTDataset` reads, e.g. the MSR-VTT
            9k split): the videos this file shares with it are logged as a
            warning and kept in ``self.overlap`` (the 9k split shares
            videos with MSRVTT-MC's test set; the 7k split does not).
    """

    def __init__(self,
                 ann_file: str,
                 layout: str = 'mmaction_mc',
                 pipeline: List[Union[dict, Callable]] = [],
                 data_prefix: Dict = dict(video=''),
                 video_ext: str = '.mp4',
                 train_videos: Optional[str] = None,
                 **kwargs) -> None:
        if layout not in MULTIPLE_CHOICE_LAYOUTS:
            raise ValueError(f'layout must be one of '
                             f'{MULTIPLE_CHOICE_LAYOUTS}, got {layout!r}')
        self.layout = layout
        self.video_ext = video_ext
        self.train_videos = train_videos
        self.overlap: List[str] = []
        super().__init__(ann_file, pipeline=pipeline, data_prefix=data_prefix,
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        root = self.data_prefix.get('video', '') or ''
        items = []
        for rec in read_annotations(self.ann_file, self.layout,
                                    video_ext=self.video_ext):
            items.append(dict(
                filename=osp.join(root, rec['video']),
                text=option_texts(rec['question'], rec['options']),
                label=rec['answer'], question_id=rec['question_id'],
                num_options=len(rec['options'])))
        if self.train_videos is not None:
            self.overlap = self.check_overlap(items)
        return items

    def check_overlap(self, items: List[dict]) -> List[str]:
        """Videos of ``items`` that also appear in ``train_videos``."""
        from ..msrvtt import MSRVTTDataset
        train = MSRVTTDataset(self.train_videos, lazy_init=True)
        seen = {video_key(v) for v, _ in train.read_pairs()}
        shared = sorted({video_key(i['filename']) for i in items} & seen)
        if shared:
            print_log(
                f'{self.ann_file}: {len(shared)} of its videos are also in '
                f'the training annotations {self.train_videos} (e.g. '
                f'{shared[:3]}): a model trained there has seen them; '
                'MSRVTT-MC is usually evaluated with a model trained on the '
                '7k split, which shares none', logger='current',
                level=logging.WARNING)
        return shared
