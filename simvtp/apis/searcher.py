"""Text-to-video search over an index of videos, and caption ranking.

:class:`VideoTextSearcher` follows mmpretrain's retrieval inferencer
(``TextToImageRetrievalInferencer``): build it from a config + checkpoint
(or a model), index a gallery once (``build_index``, saved and reloaded
with ``save_index`` / ``load_index``), then call it with queries::

    from simvtp.apis import VideoTextSearcher
    searcher = VideoTextSearcher('configs/simvtp/pretrain_synthetic.py',
                                 'work_dirs/pretrain_synthetic/epoch_4.pth')
    searcher.build_index('data/synthetic/annotations/test.json')
    searcher.save_index('work_dirs/search/test_index.npz')
    for hit in searcher('a red circle moves left', topk=5)[0]:
        print(hit.rank, f'{hit.score:.3f}', hit.video)
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.config import Config

from .encode import VideoTextEncoder
from .inference import init_model
from .inference_pipeline import VideoInput
from .search_index import SearchIndex
from .video_sources import (ANNOTATION_EXTENSIONS, list_videos,
                            read_annotated_videos)

__all__ = ['VideoTextSearcher', 'SearchHit', 'retrieval_figures']


@dataclass
class SearchHit:
    """One result: ``rank`` (1 = best), the ``video`` (path or name), its
    row in the index and the cosine ``score``."""
    rank: int
    video: str
    index: int
    score: float


def _ranked(scores: torch.Tensor, topk: Optional[int]) -> torch.Tensor:
    """Indices of ``scores`` (.., N) best first; ties keep index order."""
    order = torch.sort(scores, dim=-1, descending=True, stable=True).indices
    return order if topk is None else order[..., :topk]


def retrieval_figures(text_feats: torch.Tensor, video_feats: torch.Tensor,
                      text_video: Sequence[int],
                      metric_list: Sequence[str] = ('R1', 'R5', 'R10', 'MdR',
                                                    'MnR')
                      ) -> Dict[str, float]:
    """Text-to-video and video-to-text figures of features, by
    :class:`~simvtp.evaluation.VideoTextRetrievalMetric` (the metric
    ``tools/test.py`` reports, ties counted by their expectation).

    Args:
        text_feats: ``(N_t, D)``; video_feats: ``(N_v, D)``.
        text_video: the video row of each caption.

    Returns:
        ``R<K>``, ``MdR``, ``MnR``, the same with ``v2t_``, ``num_videos``,
        ``num_texts``.
    """
    from ..evaluation.metrics import VideoTextRetrievalMetric
    captions: List[list] = [[] for _ in range(len(video_feats))]
    for row, video in enumerate(text_video):
        captions[video].append(text_feats[row].numpy())
    results = [dict(video_id=i, video_feature=video_feats[i].numpy(),
                    text_features=caps) for i, caps in enumerate(captions)]
    return VideoTextRetrievalMetric(metric_list).compute_metrics(results)


class VideoTextSearcher:
    """Index videos once, then search them by text.

    Args:
        model: a config path / :class:`Config` (built with
            :func:`init_model` from ``checkpoint``) or a built model.
        checkpoint: checkpoint for a config.
        device: where the model runs (``'cpu'``, ``'cuda'``, ...).
        batch_size: videos per forward pass.
        num_clips: temporal views per video (None: the config's).
        progress: progress bars on long work.
        cfg_options: overrides of the config.
    """

    def __init__(self, model: Union[str, Config, torch.nn.Module],
                 checkpoint: Optional[str] = None,
                 device: Union[str, torch.device] = 'cpu',
                 batch_size: int = 16,
                 num_clips: Optional[int] = None,
                 progress: bool = True,
                 cfg_options: Optional[dict] = None) -> None:
        if not isinstance(model, torch.nn.Module):
            model = init_model(model, checkpoint, device=device,
                               cfg_options=cfg_options)
        self.model = model
        self.checkpoint = checkpoint
        self.encoder = VideoTextEncoder(model, batch_size=batch_size,
                                        num_clips=num_clips,
                                        progress=progress)
        self.index: Optional[SearchIndex] = None

    @property
    def cfg(self) -> Optional[Config]:
        return getattr(self.model, 'cfg', None)

    # --------------------------------------------------------------- index
    def build_index(self, videos: Union[str, Sequence[VideoInput]],
                    names: Optional[Sequence[str]] = None) -> SearchIndex:
        """Encode a gallery and keep it as :attr:`index`.

        Args:
            videos: a folder, a list file or an annotation file (see
                :func:`~simvtp.apis.video_sources.list_videos`), or a list
                of paths / decoded frames / tensors.
            names: names of non-path videos (default ``video<i>``).

        Broken videos are reported (printed and listed in
        ``index.meta['failed']`` as ``[name, reason]``) and left out. An
        annotation file's captions are kept in ``index.meta['captions']``.
        """
        captions = None
        if isinstance(videos, str):
            if videos.lower().endswith(ANNOTATION_EXTENSIONS):
                videos, captions = read_annotated_videos(self.cfg, videos)
            else:
                videos = list_videos(videos, self.cfg)
        videos = list(videos)
        if names is None:
            names = [v if isinstance(v, str) else f'video{i}'
                     for i, v in enumerate(videos)]
        if len(names) != len(videos):
            raise ValueError(f'{len(names)} names for {len(videos)} videos')
        encoded = self.encoder.encode_videos(videos, skip_broken=True)
        failed = [[names[pos], reason] for pos, _, reason in encoded.failed]
        if not encoded.kept:
            raise RuntimeError(f'none of the {len(videos)} videos could be '
                               f'read; first failure: {failed[0]}')
        cfg = self.cfg
        self.index = SearchIndex(
            encoded.features.numpy(), [names[i] for i in encoded.kept],
            self.encoder.fingerprint,
            dict(config=getattr(cfg, 'filename', None),
                 checkpoint=self.checkpoint, failed=failed))
        if captions is not None:  # shown beside hits (demo contact sheet)
            self.index.meta['captions'] = [captions[i] for i in encoded.kept]
        return self.index

    def captions_of(self, hit: SearchHit) -> List[str]:
        """The annotated captions of a hit's video (an index built from an
        annotation file), else ``[]``."""
        captions = self._index().meta.get('captions')
        return list(captions[hit.index]) if captions else []

    def save_index(self, path: str) -> str:
        """Save :attr:`index` (see :class:`SearchIndex`); returns the path."""
        return self._index().save(path)

    def load_index(self, path: str, check_model: bool = True) -> SearchIndex:
        """Load an index; refuses one made by another model or pipeline
        unless ``check_model=False``."""
        index = SearchIndex.load(path)
        if check_model:
            index.check_model(self.encoder.fingerprint, path)
        self.index = index
        return index

    def _index(self) -> SearchIndex:
        if self.index is None:
            raise RuntimeError('no index: call build_index() or '
                               'load_index() first')
        return self.index

    # --------------------------------------------------------------- search
    def search(self, queries: Union[str, Sequence[str]], topk: int = 5
               ) -> List[List[SearchHit]]:
        """Top-``topk`` videos for each text query (best first; equal
        scores keep index order)."""
        index = self._index()
        if isinstance(queries, str):
            queries = [queries]
        if topk < 1:
            raise ValueError(f'topk must be >= 1, got {topk}')
        text = self.encoder.encode_texts(queries)
        scores = text @ torch.from_numpy(index.features).T
        order = _ranked(scores, min(topk, len(index)))
        return [[SearchHit(r + 1, index.names[j], int(j),
                           float(scores[q, j]))
                 for r, j in enumerate(order[q].tolist())]
                for q in range(len(queries))]

    __call__ = search

    def rank_captions(self, video: VideoInput, captions: Sequence[str]
                      ) -> List[tuple]:
        """Video-to-text: ``[(caption, score), ...]`` best first."""
        captions = list(captions)
        if not captions:
            raise ValueError('no captions to rank')
        video_feat = self.encoder.encode_videos([video])
        scores = (self.encoder.encode_texts(captions) @ video_feat.T)[:, 0]
        return [(captions[i], float(scores[i]))
                for i in _ranked(scores, None).tolist()]

    # ----------------------------------------------------------- evaluation
    def evaluate(self, ann_file: Optional[str] = None,
                 data_root: Optional[str] = None,
                 metric_list: Sequence[str] = ('R1', 'R5', 'R10', 'MdR',
                                               'MnR')) -> Dict[str, float]:
        """Retrieval figures on an annotation file (default: the config's
        test split), indexing its videos; see :func:`retrieval_figures`.

        Raises if a video cannot be read (an evaluation must not silently
        drop queries).
        """
        paths, captions = read_annotated_videos(self.cfg, ann_file,
                                                data_root)
        index = self.build_index(paths)
        if index.meta['failed']:
            raise RuntimeError(f'{len(index.meta["failed"])} test videos '
                                 f'could not be read: '
                                 f'{index.meta["failed"][:3]}')
        flat = [c for caps in captions for c in caps]
        owner = [i for i, caps in enumerate(captions) for _ in caps]
        text = self.encoder.encode_texts(flat)
        return retrieval_figures(text, torch.from_numpy(index.features),
                                 owner, metric_list)
