"""Text-video retrieval recall for test sets with several captions a video.

mmaction2's ``RetrievalMetric`` pairs item ``i``'s caption with item ``i``'s
video and assumes every video is different. On MSR-VTT's full test split
(20 captions per video), where each (video, caption) pair is one dataset
item, the same video then appears 20 times: each caption ties with 20
identical video features, its row contributes 20 ranks, and R@K and the
median rank come out wrong. This metric groups items by ``video_id``: each
caption is ranked against the unique videos (text-to-video), and each video
against all captions, counting its best-ranked own caption (video-to-text,
the usual convention for multi-caption sets). With one caption per video it
gives exactly mmaction2's text-to-video numbers.

Ties count in the ground truth's favour (rank = number of strictly more
similar candidates), as mmaction2 does for its first tie.
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from ...registry import METRICS

METRICS_LIST = ('R1', 'R5', 'R10', 'MdR', 'MnR')


@METRICS.register_module()
class VideoTextRetrievalMetric(BaseMetric):
    """Recall@K / median / mean rank, text-to-video and video-to-text.

    Reads from each predicted data sample: ``features.video_feature`` (D,),
    ``features.text_feature`` (D,) or, for per-video items,
    ``caption_features`` (K, D), and ``video_id`` (from the dataset's
    metainfo; items without one count as distinct videos). Items may be
    (video, caption) pairs (the video decoded once per caption) or videos
    with all their captions (``per_video=True`` datasets: decoded once).

    Args:
        metric_list: any of ``R1 R5 R10 MdR MnR``.
        video_to_text: also report ``v2t_*`` figures.
        collect_device, prefix: see ``mmengine.evaluator.BaseMetric``.
    """
    default_prefix = 'retrieval'

    def __init__(self, metric_list: Sequence[str] = METRICS_LIST,
                 video_to_text: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        unknown = [m for m in metric_list if m not in METRICS_LIST]
        if unknown:
            raise ValueError(f'unknown metric(s) {unknown}; choose from '
                             f'{METRICS_LIST}')
        self.metric_list = tuple(metric_list)
        self.video_to_text = video_to_text

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            features = sample['features']
            texts = sample.get('caption_features')  # per-video items
            texts = _numpy(features['text_feature'])[None] if texts is None \
                else _numpy(texts)
            self.results.append(dict(
                video_feature=_numpy(features['video_feature']),
                text_features=texts, video_id=sample.get('video_id')))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        videos: Dict = OrderedDict()  # video_id -> column
        video_feats, text_feats, text_video = [], [], []
        for i, res in enumerate(results):
            key = res['video_id'] if res['video_id'] is not None \
                else ('item', i)
            if key not in videos:
                videos[key] = len(video_feats)
                video_feats.append(res['video_feature'])
            for text in res['text_features']:
                text_feats.append(text)
                text_video.append(videos[key])
        v = _unit(np.stack(video_feats))
        t = _unit(np.stack(text_feats))
        gt = np.asarray(text_video)
        sim = t @ v.T  # (texts, videos)
        own = sim[np.arange(len(gt)), gt]
        t2v = (sim > own[:, None]).sum(axis=1)
        metrics = _summarise(t2v, self.metric_list, '')
        if self.video_to_text:
            # per video: captions more similar than its best own caption
            # (its own captions never are: best is their maximum)
            best = np.full(len(video_feats), -np.inf, dtype=sim.dtype)
            np.maximum.at(best, gt, own)
            v2t = (sim > best[None]).sum(axis=0)
            metrics.update(_summarise(v2t, self.metric_list, 'v2t_'))
        metrics['num_videos'] = len(video_feats)
        metrics['num_texts'] = len(text_feats)
        return metrics


def _numpy(x) -> np.ndarray:
    if hasattr(x, 'detach'):
        x = x.detach().float().cpu().numpy()
    # float32: MSR-VTT's full split is a 59,800 x 2,990 similarity matrix
    return np.asarray(x, dtype=np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _summarise(ranks: np.ndarray, names: Sequence[str],
               prefix: str) -> Dict[str, float]:
    """``ranks``: 0-based rank of the ground truth per query."""
    out = OrderedDict()
    for name in names:
        if name.startswith('R'):
            k = int(name[1:])
            out[prefix + name] = float((ranks < k).mean() * 100)
        elif name == 'MdR':
            out[prefix + name] = float(np.median(ranks) + 1)
        elif name == 'MnR':
            out[prefix + name] = float(np.mean(ranks) + 1)
    return out
