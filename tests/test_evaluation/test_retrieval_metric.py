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


def brute_force(v_unique, t, gt, ks=(1, 5)):
    """Per query: (strictly better, tied) counts by explicit loops, then the
    recall of every position of the ground truth within its tie averaged
    one by one, and the mean position over the tie."""
    v_unique = v_unique / np.linalg.norm(v_unique, axis=1, keepdims=True)
    t = t / np.linalg.norm(t, axis=1, keepdims=True)

    def outcome(scores, truth, candidates):
        better = sum(scores[c] > truth for c in candidates)
        tied = sum(scores[c] == truth for c in candidates)
        positions = range(better, better + tied + 1)
        recall = {k: sum(p < k for p in positions) / len(positions)
                  for k in ks}
        return recall, sum(positions) / len(positions)

    t2v, v2t = [], []
    for i in range(len(t)):
        scores = [float(t[i] @ v_unique[j]) for j in range(len(v_unique))]
        others = [j for j in range(len(v_unique)) if j != gt[i]]
        t2v.append(outcome(scores, scores[gt[i]], others))
    for j in range(len(v_unique)):
        scores = [float(t[i] @ v_unique[j]) for i in range(len(t))]
        best = max(scores[i] for i in range(len(t)) if gt[i] == j)
        others = [i for i in range(len(t)) if gt[i] != j]
        v2t.append(outcome(scores, best, others))
    return t2v, v2t


def recall(outcomes, k):
    return np.mean([o[0][k] for o in outcomes]) * 100


def ranks(outcomes):
    return np.array([o[1] for o in outcomes])


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
    assert got['R1'] == pytest.approx(recall(t2v, 1))
    assert got['R5'] == pytest.approx(recall(t2v, 5))
    assert got['MdR'] == pytest.approx(np.median(ranks(t2v)) + 1)
    assert got['v2t_R1'] == pytest.approx(recall(v2t, 1))
    assert got['v2t_MnR'] == pytest.approx(ranks(v2t).mean() + 1)


def test_ties_match_brute_force():
    """Quantised features: many exact ties, in both directions."""
    rng = np.random.default_rng(3)
    v_unique = rng.integers(0, 2, size=(10, 3)).astype(np.float32)
    v_unique[0] = 1.0  # no zero vector (its direction is undefined)
    v_unique[v_unique.sum(1) == 0] = 1.0
    gt = np.repeat(np.arange(10), 2)
    t = rng.integers(0, 2, size=(20, 3)).astype(np.float32)
    t[t.sum(1) == 0] = 1.0
    got = run(VideoTextRetrievalMetric(metric_list=('R1', 'R5', 'MdR',
                                                    'MnR')),
              samples(v_unique[gt], t, gt))
    t2v, v2t = brute_force(v_unique, t, gt)
    assert sum(o[1] != int(o[1]) for o in t2v) > 0  # there are ties
    assert got['R1'] == pytest.approx(recall(t2v, 1))
    assert got['R5'] == pytest.approx(recall(t2v, 5))
    assert got['MnR'] == pytest.approx(ranks(t2v).mean() + 1)
    assert got['v2t_R1'] == pytest.approx(recall(v2t, 1))
    assert got['v2t_MdR'] == pytest.approx(np.median(ranks(v2t)) + 1)


@pytest.mark.parametrize('video_value', [1.0, 0.0])
def test_collapsed_features_score_chance(video_value):
    """Every video feature equal (a collapsed model, or all-zero features):
    chance figures, not R@1 = 100 as a strict rank gives."""
    n = 50
    rng = np.random.default_rng(4)
    v = np.full((n, 8), video_value, dtype=np.float32)
    t = rng.normal(size=(n, 8)).astype(np.float32)
    got = run(VideoTextRetrievalMetric(
        metric_list=('R1', 'R5', 'R10', 'R50', 'MdR', 'MnR')),
        samples(v, t, range(n)))
    assert got['R1'] == pytest.approx(100 / n)
    assert got['R5'] == pytest.approx(500 / n)
    assert got['R50'] == pytest.approx(100.0)
    assert got['MdR'] == pytest.approx((n + 1) / 2)
    assert got['MnR'] == pytest.approx((n + 1) / 2)


@pytest.mark.parametrize('kind', ['video', 'text'])
def test_non_finite_features_raise(kind):
    rng = np.random.default_rng(5)
    v = rng.normal(size=(6, 4)).astype(np.float32)
    t = rng.normal(size=(6, 4)).astype(np.float32)
    bad = v if kind == 'video' else t
    bad[2, 1] = np.nan
    bad[4, 0] = np.inf
    with pytest.raises(ValueError, match=f'2 of 6 {kind} feature rows'):
        run(VideoTextRetrievalMetric(), samples(v, t, range(6)))


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
    with pytest.raises(ValueError, match='R0'):
        VideoTextRetrievalMetric(metric_list=('R1', 'R0'))
    with pytest.raises(ValueError, match='MeanR'):
        VideoTextRetrievalMetric(metric_list=('MeanR', ))
