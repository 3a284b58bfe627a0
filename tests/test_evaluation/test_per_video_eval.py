"""Per-video evaluation (each video decoded once, all its captions) gives the
same retrieval figures as one item per (video, caption) pair."""
import json

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from simvtp.datasets import MSRVTTDataset
from simvtp.evaluation import VideoTextRetrievalMetric
from tests.test_analysis.common import build

CAPTIONS = {'a.mp4': ['a red circle', 'the dog runs', 'blue square'],
            'b.mp4': ['green square moves left'],
            'c.mp4': ['a dog', 'red and blue', 'circle grows', 'left']}


def pipeline(tokenizer):
    return [
        dict(type='DecordInit'),
        dict(type='SampleFrames', clip_len=4, frame_interval=1,
             num_clips=1, test_mode=True),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(32, 32), keep_ratio=False),
        dict(type='FormatShape', input_format='NCTHW'),
        dict(type='TokenizeText', tokenizer=tokenizer, max_length=8),
        dict(type='PackVideoTextInputs'),
    ]


def evaluate(model, dataset):
    metric = VideoTextRetrievalMetric()
    items = [dataset[i] for i in range(len(dataset))]
    for start in range(0, len(items), 2):  # batches of 2 items
        out = model.test_step(pseudo_collate(items[start:start + 2]))
        metric.process(None, [s.to_dict() for s in out])
    return metric.compute_metrics(metric.results)


def test_per_video_items_match_pairs(tmp_path, video_factory,
                                     tiny_tokenizer_dir):
    init_default_scope('simvtp')
    for i, name in enumerate(CAPTIONS):
        video_factory(name, num_frames=8, seed=i)
    ann = tmp_path / 'test.json'
    ann.write_text(json.dumps([dict(video=v, caption=c)
                               for v, c in CAPTIONS.items()]))
    kwargs = dict(ann_file=str(ann), test_mode=True,
                  data_prefix=dict(video=str(tmp_path / 'videos')),
                  pipeline=pipeline(tiny_tokenizer_dir))
    per_video = MSRVTTDataset(per_video=True, **kwargs)
    pairs = MSRVTTDataset(**kwargs)
    assert (len(per_video), len(pairs)) == (3, 8)
    model = build().eval()
    with torch.no_grad():
        a = evaluate(model, per_video)
        b = evaluate(model, pairs)
    assert a['num_videos'] == b['num_videos'] == 3
    assert a['num_texts'] == b['num_texts'] == 8
    for key in a:
        assert a[key] == pytest.approx(b[key]), key
    # the per-video sample carries one feature per caption
    out = model.test_step(pseudo_collate([per_video[2]]))[0]
    assert out.caption_features.shape == (4, 32)
