"""Open-ended video QA: (video, question) -> one class of the answer
vocabulary."""
import os.path as osp
from typing import Callable, Dict, List, Optional, Union

from mmaction.datasets import BaseActionDataset

from ...registry import DATASETS
from .answer_vocab import AnswerVocabulary, normalize_answer
from .readers import OPEN_ENDED_LAYOUTS, read_annotations

QUESTION_WORDS = ('what', 'who', 'how', 'where', 'when')


def first_word_type(question: str) -> str:
    """MSRVTT-QA / MSVD-QA's question type: the question word it starts
    with (what, who, how, where, when), else ``'other'``."""
    words = question.lower().split()
    return words[0] if words and words[0] in QUESTION_WORDS else 'other'


@DATASETS.register_module()
class OpenEndedQADataset(BaseActionDataset):
    """Open-ended video QA items.

    Each item: ``filename``, ``text`` (the question), ``gt_answers``
    (normalised answers, as annotated), ``label`` (class of the most
    frequent in-vocabulary answer, -1 if none is in the vocabulary),
    ``question_id`` and ``question_type`` (None when the data has none).

    Args:
        ann_file: annotation file in ``layout`` (see
            :mod:`~simvtp.datasets.vqa.readers`).
        answer_vocab: ``dict(ann_file=TRAIN file, layout=..., top_k=1500,
            answer_list=None)``: the answer classes, always from the
            training file (the model builds the same vocabulary).
        layout: ``'mmaction'`` or ``'tgif_frameqa'``.
        pipeline: the data pipeline.
        data_prefix: ``dict(video=root)`` joined to the video names.
        video_ext: appended to TGIF ``gif_name`` s.
        question_type: ``'field'`` (the file's type field, if any) or
            ``'first_word'`` (what/who/how/where/when, for MSRVTT-QA and
            MSVD-QA files without a type).
        drop_unanswerable: leave out questions none of whose answers is in
            the vocabulary (they cannot be learnt). Training only: test
            questions are never dropped (an out-of-vocabulary answer counts
            as wrong; dropping them inflates accuracy), so this with
            ``test_mode=True`` raises.
    """

    def __init__(self,
                 ann_file: str,
                 answer_vocab: dict,
                 layout: str = 'mmaction',
                 pipeline: List[Union[dict, Callable]] = [],
                 data_prefix: Dict = dict(video=''),
                 video_ext: str = '.mp4',
                 question_type: str = 'field',
                 drop_unanswerable: bool = False,
                 test_mode: bool = False,
                 **kwargs) -> None:
        if layout not in OPEN_ENDED_LAYOUTS:
            raise ValueError(f'layout must be one of {OPEN_ENDED_LAYOUTS}, '
                             f'got {layout!r}')
        if question_type not in ('field', 'first_word'):
            raise ValueError("question_type must be 'field' or "
                             f"'first_word', got {question_type!r}")
        if drop_unanswerable and test_mode:
            raise ValueError(
                'drop_unanswerable=True in test mode would leave out test '
                'questions whose answer is not in the vocabulary; they must '
                'count as wrong')
        self.layout = layout
        self.video_ext = video_ext
        self.question_type = question_type
        self.drop_unanswerable = drop_unanswerable
        self.vocab = AnswerVocabulary.from_train_file(**answer_vocab)
        self.num_dropped = 0
        super().__init__(ann_file, pipeline=pipeline, data_prefix=data_prefix,
                         test_mode=test_mode, **kwargs)

    def load_data_list(self) -> List[dict]:
        root = self.data_prefix.get('video', '') or ''
        items = []
        for rec in read_annotations(self.ann_file, self.layout,
                                    video_ext=self.video_ext):
            label = self.vocab.label(rec['answers'])
            if label < 0 and self.drop_unanswerable:
                self.num_dropped += 1
                continue
            qtype = rec['question_type']
            if self.question_type == 'first_word':
                qtype = first_word_type(rec['question'])
            items.append(dict(
                filename=osp.join(root, rec['video']),
                text=rec['question'],
                gt_answers=[normalize_answer(a) for a in rec['answers']],
                label=label, question_id=rec['question_id'],
                question_type=qtype))
        return items
