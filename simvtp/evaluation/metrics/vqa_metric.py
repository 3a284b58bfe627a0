"""Accuracy metrics of video question answering.

Multiple choice with one prediction per question uses mmaction2's
``VQAMCACC`` by name (the models store ``pred_label`` as a plain int, which
its array comparison needs). The two metrics here cover what it does not.
"""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from ...datasets.vqa.answer_vocab import normalize_answer
from ...registry import METRICS


def _get(sample, key, default=None):
    if isinstance(sample, dict):
        if key in sample:
            return sample[key]
        return sample.get('metainfo', {}).get(key, default)
    return sample.get(key, default)


@METRICS.register_module()
class OpenEndedQAAccuracy(BaseMetric):
    """Top-1 accuracy of open-ended QA, overall and per question type.

    A prediction is right when it equals one of the question's annotated
    answers (both normalised: lower case, single spaces). Questions whose
    answers are all outside the answer vocabulary stay in the denominator
    (the model cannot produce them: they count as wrong); ``oov_rate``
    reports their share.

    mmaction2's ``VQAAcc`` is not used: it scores VQA v2's ten-annotator
    agreement (``min(1, weight / 0.3)``, so any answer given by 30% of the
    annotators is fully right), rewrites answers (drops articles, maps
    number words to digits) and has no per-type breakdown; the video-QA
    benchmarks here have one answer per question and report exact-match
    accuracy per type.

    Metrics (percent): ``acc``, ``acc_<type>`` for every question type
    present (items without a type only enter ``acc``), ``oov_rate``
    (questions whose ``gt_label`` is -1, the dataset's mark for "no answer
    in the vocabulary").
    """
    default_prefix = 'vqa'

    def __init__(self, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            answers = _get(sample, 'gt_answers')
            if answers is None:
                raise KeyError('OpenEndedQAAccuracy needs gt_answers in each '
                               'data sample (PackVideoQAInputs meta_keys)')
            pred = _get(sample, 'pred_answer')
            label = _get(sample, 'gt_label')
            oov = label is not None and int(np.asarray(label).reshape(-1)[0]
                                            ) < 0
            self.results.append(dict(
                correct=pred is not None and normalize_answer(pred) in {
                    normalize_answer(a) for a in answers},
                question_type=_get(sample, 'question_type'), oov=oov))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if not results:
            return {}
        metrics = dict(
            acc=100.0 * np.mean([r['correct'] for r in results]),
            oov_rate=100.0 * np.mean([r['oov'] for r in results]))
        by_type = defaultdict(list)
        for r in results:
            if r['question_type'] is not None:
                by_type[str(r['question_type'])].append(r['correct'])
        for qtype in sorted(by_type):
            metrics[f'acc_{qtype}'] = 100.0 * np.mean(by_type[qtype])
        return {k: float(v) for k, v in metrics.items()}


@METRICS.register_module()
class MultipleChoiceScoreAccuracy(BaseMetric):
    """Top-1 accuracy of several named option scores of one model.

    For protocols that rank the same options in more than one way (the
    zero-training MSRVTT-MC protocol: VTM probability alone and ensembled
    with the similarity), each ``option_scores[name]`` (K,) gives
    ``<name>_acc``. ``VQAMCACC`` reads a single ``pred_label``.

    Args:
        score_names: names in each sample's ``option_scores``.
    """
    default_prefix = 'vqa_mc'

    def __init__(self, score_names: Sequence[str] = ('vtm', 'vtm_sim'),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not score_names:
            raise ValueError('score_names must not be empty')
        self.score_names = tuple(score_names)

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            scores = _get(sample, 'option_scores')
            if scores is None or any(n not in scores
                                     for n in self.score_names):
                raise KeyError(f'MultipleChoiceScoreAccuracy needs '
                               f'option_scores with {self.score_names}')
            label = int(np.asarray(_get(sample, 'gt_label')).reshape(-1)[0])
            self.results.append({
                n: int(np.argmax(np.asarray(scores[n]))) == label
                for n in self.score_names})

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        return {f'{n}_acc': float(100.0 * np.mean([r[n] for r in results]))
                for n in self.score_names}
