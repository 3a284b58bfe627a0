"""VideoTextRetrievalMetric against brute-force ranks and mmaction2's."""
import numpy as np
import pytest
import torch
from mmaction.evaluation import RetrievalMetric

from simvtp.evaluation import VideoTextRetrievalMetric


def samples(video_feats, text_feats, video_ids):
    return [dict(features=dict(video_feature=torch.tensor(v),
                               text_feature=torch.tensor(t)),
                 video_id=vid)
            for v, t, vid in zip(video_feats, text_feats, video_ids)]


def run(metric, data):
    metric.process(None, data)
    return metric.compute_metrics(metric.results)


def test_one_caption_per_video_equals_mmaction():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(40, 8)).astype(np.float32)
    t = (v + rng.normal(scale=1.5, size=v.shape)).astype(np.float32)
    ours = run(VideoTextRetrievalMetric(video_to_text=False),
               samples(v, t, range(40)))
    theirs = run(RetrievalMetric(), samples(v, t, range(40)))
    for key in ('R1', 'R5', 'R10', 'MdR', 'MnR'):
        assert ours[key] == pytest.approx(theirs[key])
    assert 0 < ours['R1'] < 100


def brute_force(v_unique, t, gt):
    v_unique = v_unique / np.linalg.norm(v_unique, axis=1, keepdims=True)
    t = t / np.linalg.norm(t, axis=1, keepdims=True)
    t2v, v2t = [], []
    for i in range(len(t)):
        scores = [float(t[i] @ v_unique[j]) for j in range(len(v_unique))]
        t2v.append(sum(s > scores[gt[i]] for s in scores))
    for j in range(len(v_unique)):
        scores = [float(t[i] @ v_unique[j]) for i in range(len(t))]
        best = max(scores[i] for i in range(len(t)) if gt[i] == j)
        v2t.append(sum(scores[i] > best for i in range(len(t))
                       if gt[i] != j))
    return np.array(t2v), np.array(v2t)


def test_many_captions_per_video_matches_brute_force():
    rng = np.random.default_rng(1)
    v_unique = rng.normal(size=(12, 6)).astype(np.float32)
    gt = np.repeat(np.arange(12), 5)  # 5 captions per video
    rng.shuffle(gt)
    t = (v_unique[gt] + rng.normal(scale=1.0, size=(60, 6))).astype(
        np.float32)
    got = run(VideoTextRetrievalMetric(), samples(v_unique[gt], t, gt))
    t2v, v2t = brute_force(v_unique, t, gt)
    assert got['num_videos'] == 12 and got['num_texts'] == 60
    assert got['R1'] == pytest.approx((t2v < 1).mean() * 100)
    assert got['R5'] == pytest.approx((t2v < 5).mean() * 100)
    assert got['MdR'] == pytest.approx(np.median(t2v) + 1)
    assert got['v2t_R1'] == pytest.approx((v2t < 1).mean() * 100)
    assert got['v2t_MnR'] == pytest.approx(v2t.mean() + 1)


def test_perfect_features_with_repeated_videos():
    """Every caption feature equals its video's: R@1 must be 100. mmaction's
    metric, fed the same items, does not get this right."""
    rng = np.random.default_rng(2)
    v_unique = rng.normal(size=(6, 4)).astype(np.float32)
    gt = np.repeat(np.arange(6), 3)
    data = samples(v_unique[gt], v_unique[gt], gt)
    ours = run(VideoTextRetrievalMetric(), data)
    assert ours['R1'] == 100.0 and ours['v2t_R1'] == 100.0
    assert ours['MdR'] == 1.0
    theirs = run(RetrievalMetric(), samples(v_unique[gt], v_unique[gt], gt))
    assert theirs['R1'] < 100.0  # each caption ties with 3 copies


def test_unknown_metric_is_named():
    with pytest.raises(ValueError, match='R50'):
        VideoTextRetrievalMetric(metric_list=('R1', 'R50'))
