"""R@n,IoU=m against a brute-force count; the moment-prior baseline."""
import numpy as np
import pytest
import torch
from mmaction.structures import ActionDataSample

import simvtp  # noqa: F401
from simvtp.evaluation import TemporalGroundingMetric
from simvtp.evaluation.grounding_prior import moment_prior, prior_baseline
from simvtp.evaluation.metrics.grounding_metric import grounding_recall


def brute_iou(a, b):
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def brute_recall(preds, gts, n, m):
    hits = 0
    for pred, gt in zip(preds, gts):
        for seg in list(pred)[:n]:
            if brute_iou(seg, gt) > m:
                hits += 1
                break
    return 100.0 * hits / len(gts)


def test_recall_matches_brute_force_count():
    rng = np.random.default_rng(0)
    preds, gts = [], []
    for _ in range(200):
        k = int(rng.integers(1, 7))
        starts = rng.uniform(0, 20, k)
        preds.append(np.stack([starts, starts + rng.uniform(0.5, 10, k)], 1))
        s = rng.uniform(0, 20)
        gts.append((s, s + rng.uniform(0.5, 10)))
    out = grounding_recall(preds, np.array(gts), (1, 3, 5), (0.3, 0.5, 0.7))
    for n in (1, 3, 5):
        for m in (0.3, 0.5, 0.7):
            assert out[f'R{n}@IoU{m:g}'] == pytest.approx(
                brute_recall(preds, gts, n, m))
    assert out['mIoU'] == pytest.approx(
        100 * np.mean([brute_iou(p[0], g) for p, g in zip(preds, gts)]))


def test_iou_equal_to_the_threshold_is_not_a_hit():
    gt = np.array([[0.0, 2.0], [0.0, 2.0]])
    # IoU exactly 0.5 ([0,1] in [0,2]); exactly 0.7 ([0,1.4] in [0,2])
    preds = [np.array([[0.0, 1.0]]), np.array([[0.0, 1.4]])]
    assert brute_iou((0.0, 1.4), (0.0, 2.0)) == 0.7
    out = grounding_recall(preds, gt, (1, ), (0.5, 0.7, 0.49))
    assert out['R1@IoU0.5'] == 50.0  # only the 0.7 prediction
    assert out['R1@IoU0.7'] == 0.0
    assert out['R1@IoU0.49'] == 100.0


def test_metric_reads_data_samples():
    metric = TemporalGroundingMetric(recalls=(1, 2), iou_thresholds=(0.5, ))
    samples = []
    for pred, gt in (([[0, 4], [5, 9]], (5, 9)), ([[0, 2]], (6, 8))):
        s = ActionDataSample()
        s.set_metainfo(dict(gt_times=gt, duration=10.0))
        s.pred_segments = torch.tensor(pred, dtype=torch.float32)
        samples.append(s.to_dict())
    metric.process(None, samples)
    out = metric.compute_metrics(metric.results)
    assert out['R1@IoU0.5'] == 0.0 and out['R2@IoU0.5'] == 50.0
    assert out['num_queries'] == 2


def test_moment_prior_picks_the_most_frequent_cell():
    # normalised [0.5, 0.75] twice, [0, 0.25] once, on N=4: cells (2,2)
    # and (0,0)
    segs = np.array([[5.0, 7.5], [10.0, 15.0], [0.0, 1.0]])
    durs = np.array([10.0, 20.0, 4.0])
    ranked = moment_prior(segs, durs, 4)
    assert ranked[0] == ((2, 2), 2) and ranked[1] == ((0, 0), 1)
    out = prior_baseline(segs, durs, np.array([[2.0, 3.0], [0.0, 1.0]]),
                         np.array([4.0, 4.0]), 4, recalls=(1, 2),
                         iou_thresholds=(0.5, ))
    assert out['prior'] == [0.5, 0.75]
    # test query 1 is [2, 3] of 4 s = the prior; query 2 is the runner-up
    assert out['R1@IoU0.5'] == 50.0 and out['R2@IoU0.5'] == 100.0
