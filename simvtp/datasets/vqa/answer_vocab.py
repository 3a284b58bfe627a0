"""The answer vocabulary of open-ended QA, built from training answers only."""
import json
from collections import Counter
from typing import Dict, List, Optional, Sequence

from .readers import read_annotations


def normalize_answer(answer: str) -> str:
    """Lower case, single spaces: the form answers are compared in."""
    return ' '.join(str(answer).lower().split())


class AnswerVocabulary:
    """The ``top_k`` most frequent training answers as classes.

    Answers are normalised (:func:`normalize_answer`); class ``i`` is the
    ``i``-th most frequent, ties broken alphabetically, so the vocabulary is
    a function of the training file only. Test answers outside it get no
    class: a model can never predict them, so they count as wrong (they are
    never dropped from the test set).

    Args:
        answers: the answers, most frequent first.
    """

    def __init__(self, answers: Sequence[str]) -> None:
        self.answers: List[str] = list(answers)
        if len(set(self.answers)) != len(self.answers):
            raise ValueError('answer vocabulary has duplicates')
        self.index: Dict[str, int] = {a: i for i, a in
                                      enumerate(self.answers)}

    def __len__(self) -> int:
        return len(self.answers)

    def __contains__(self, answer: str) -> bool:
        return normalize_answer(answer) in self.index

    def label(self, answers: Sequence[str]) -> int:
        """Class of the most frequent in-vocabulary answer of a question
        (its list may repeat answers), or -1 when none is in the vocabulary.
        """
        counts = Counter(normalize_answer(a) for a in answers)
        known = [(-n, self.index[a]) for a, n in counts.items()
                 if a in self.index]
        return min(known)[1] if known else -1

    @classmethod
    def from_train_file(cls, ann_file: str, layout: str = 'mmaction',
                        top_k: int = 1500,
                        answer_list: Optional[str] = None,
                        **reader_kwargs) -> 'AnswerVocabulary':
        """Vocabulary of the ``top_k`` most frequent answers of a TRAINING
        annotation file. ``answer_list`` (a JSON list, e.g. mmaction2's
        MSR-VTT-QA answer list) can only restrict it: training answers not
        in the list are left out, answers only in the list never enter."""
        if top_k < 1:
            raise ValueError(f'top_k must be >= 1, got {top_k}')
        counts = Counter()
        for rec in read_annotations(ann_file, layout, **reader_kwargs):
            counts.update(normalize_answer(a) for a in rec['answers'])
        if answer_list is not None:
            with open(answer_list, encoding='utf-8') as f:
                allowed = json.load(f)
            if not isinstance(allowed, list):
                raise ValueError(f'{answer_list}: expected a JSON list of '
                                 'answers')
            allowed = {normalize_answer(a) for a in allowed}
            counts = Counter({a: n for a, n in counts.items()
                              if a in allowed})
        ranked = sorted(counts, key=lambda a: (-counts[a], a))
        return cls(ranked[:top_k])
