"""Retrieval recall with VTM re-ranking of each text's top-k videos.

The embedding-only figures are :class:`VideoTextRetrievalMetric`'s
(``R1``, ``v2t_R1``, ...). Next to them, under their own names
(``vtm_R1``, ``vtm_R5``, ``vtm_MdR``, ...; text-to-video), each caption's
top-``k`` videos by cosine similarity are re-scored by the model's matching
head on a joint ``[video ; text]`` pass (:meth:`VideoTextRetriever.
vtm_scores`) and placed above every other video in the order of their
matching scores; the videos outside the top-``k`` keep their embedding
order (what Unmasked Teacher does with its ``k=128``, other candidates at
-100). The joint passes run on rank 0 after the features are collected:
``N_texts * k`` encoder passes, costly at ViT-B scale.
"""
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from ...registry import METRICS
from .retrieval_metric import (METRICS_LIST, TIE_ATOL, VideoTextRetrievalMetric,
                               _finite, _summarise, _unit)

__all__ = ['VTMRerankRetrievalMetric', 'rerank_topk']


def rerank_topk(sim: np.ndarray, k: int,
                score_fn: Callable[[np.ndarray, np.ndarray], np.ndarray]
                ) -> np.ndarray:
    """Scores where each row's top-``k`` columns are re-ordered.

    Args:
        sim: ``(Q, M)`` embedding similarities in [-1, 1] (rows: queries).
        k: candidates per row to re-score (``min(k, M)``).
        score_fn: ``(rows (P,), cols (P,)) -> (P,)`` matching scores
            (higher = better match; e.g. log-probabilities) of the pairs.

    Returns:
        ``(Q, M)`` float64: the top-``k`` columns of each row get ``3 + 1 /
        (1 + max - s)`` (above every similarity, ordered by their matching
        score ``s``, ``max`` the row's best), all others keep ``sim``.
    """
    num_rows, num_cols = sim.shape
    k = min(int(k), num_cols)
    out = sim.astype(np.float64, copy=True)
    if k < 1 or num_rows == 0:
        return out
    top = np.argpartition(-sim, k - 1, axis=1)[:, :k]  # (Q, k)
    rows = np.repeat(np.arange(num_rows), k)
    cols = top.reshape(-1)
    scores = np.asarray(score_fn(rows, cols), dtype=np.float64)
    if scores.shape != cols.shape or not np.isfinite(scores).all():
        raise ValueError(f'score_fn returned {scores.shape} scores for '
                         f'{cols.shape[0]} pairs (or non-finite values)')
    scores = scores.reshape(num_rows, k)
    best = scores.max(axis=1, keepdims=True)
    # strictly increasing in s, within (3, 4]: above any cosine similarity
    out[np.arange(num_rows)[:, None], top] = 3 + 1 / (1 + best - scores)
    return out


@METRICS.register_module()
class VTMRerankRetrievalMetric(VideoTextRetrievalMetric):
    """:class:`VideoTextRetrievalMetric` plus VTM-re-ranked t2v figures.

    Needs the model (bound by :class:`~simvtp.engine.hooks.
    MetricModelHook`) with ``rerank`` set, so that each predicted sample
    carries ``rerank_video`` (N, D) and ``rerank_ids`` / ``rerank_mask``
    (K, L) (see :meth:`VideoTextRetriever.predict`).

    Args:
        k: videos re-scored per caption; None = the model's ``rerank.k``.
        batch_size: pairs per joint pass; None = the model's.
        metric_list, video_to_text, collect_device, prefix: see the parent.
    """
    requires_model = True

    def __init__(self, k: Optional[int] = None,
                 batch_size: Optional[int] = None,
                 metric_list: Sequence[str] = METRICS_LIST,
                 video_to_text: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(metric_list, video_to_text, collect_device, prefix)
        self.k = k
        self.batch_size = batch_size
        self.model = None

    def bind_model(self, model: torch.nn.Module) -> None:
        """Called by ``MetricModelHook`` before evaluation."""
        self.model = model

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        start = len(self.results)
        super().process(data_batch, data_samples)
        for res, sample in zip(self.results[start:], data_samples):
            if 'rerank_video' not in sample:
                raise KeyError(
                    'VTMRerankRetrievalMetric: the predictions carry no '
                    'rerank_video; set model.rerank=dict(k=...) (and '
                    'model.vtm_head) so the model stores them')
            mask = sample['rerank_mask'].reshape(
                -1, sample['rerank_mask'].shape[-1])
            ids = sample['rerank_ids'].reshape(mask.shape)
            res['rerank_video'] = sample['rerank_video'].detach().cpu()
            # each caption trimmed to its real tokens (batches differ in L)
            res['rerank_text'] = [ids[i, :int(mask[i].sum())].cpu()
                                  for i in range(mask.shape[0])]

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        metrics = super().compute_metrics(results)
        if self.model is None:
            raise RuntimeError(
                'VTMRerankRetrievalMetric needs the model: add '
                "dict(type='MetricModelHook') to custom_hooks")
        settings = getattr(self.model, 'rerank', None) or {}
        k = self.k or settings.get('k', 128)
        batch = self.batch_size or settings.get('batch_size', 64)
        videos, video_tokens, texts, gt = {}, [], [], []
        video_feats, text_feats = [], []
        for i, res in enumerate(results):
            key = res['video_id'] if res['video_id'] is not None \
                else ('item', i)
            if key not in videos:
                videos[key] = len(video_feats)
                video_feats.append(res['video_feature'])
                video_tokens.append(res['rerank_video'])
            for feat, ids in zip(res['text_features'], res['rerank_text']):
                text_feats.append(feat)
                texts.append(ids)
                gt.append(videos[key])
        v = _unit(_finite(np.stack(video_feats), 'video'))
        t = _unit(_finite(np.stack(text_feats), 'text'))
        gt = np.asarray(gt)
        score_fn = self._scorer(video_tokens, texts, batch)
        better = np.empty(len(t), np.int64)
        tied = np.empty(len(t), np.int64)
        chunk = 1024
        for start in range(0, len(t), chunk):
            rows = np.arange(start, min(start + chunk, len(t)))
            sim = t[rows].astype(np.float64) @ v.astype(np.float64).T
            scores = rerank_topk(
                sim, k, lambda r, c: score_fn(rows[r], c))
            own = scores[np.arange(len(rows)), gt[rows]]
            diff = scores - own[:, None]
            better[rows] = (diff > TIE_ATOL).sum(axis=1)
            tied[rows] = (np.abs(diff) <= TIE_ATOL).sum(axis=1) - 1
        metrics.update(_summarise(better, tied, self.metric_list, 'vtm_'))
        metrics['vtm_k'] = min(k, len(v))
        return metrics

    def _scorer(self, video_tokens: List[torch.Tensor],
                texts: List[torch.Tensor], batch: int):
        model = self.model
        was_training = model.training
        pad_id = getattr(model.data_preprocessor, 'pad_token_id', 0)

        def score(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
            out = []
            model.eval()
            try:
                for s in range(0, len(rows), batch):
                    r, c = rows[s:s + batch], cols[s:s + batch]
                    caps = [texts[i] for i in r]
                    length = max(len(x) for x in caps)
                    ids = torch.full((len(caps), length), pad_id,
                                     dtype=torch.long)
                    mask = torch.zeros_like(ids)
                    for j, x in enumerate(caps):
                        ids[j, :len(x)] = x
                        mask[j, :len(x)] = 1
                    tokens = torch.stack([video_tokens[i] for i in c])
                    out.append(model.vtm_scores(tokens, ids, mask)
                               .float().cpu().numpy())
            finally:
                model.train(was_training)
            return np.concatenate(out)

        return score
