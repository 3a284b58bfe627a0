"""The synthetic grounding videos: timed events, unique answers, on disk."""
import json
import os

import decord
import numpy as np

from simvtp.datasets.synthetic.grounding import (generate_grounding_dataset,
                                                 sample_video)
from simvtp.datasets.synthetic.scene import MOTIONS


def triples(caption):
    """(colour, shape, motion) of each object phrase of a caption."""
    out = []
    for phrase in caption.split(' and '):
        words = phrase.split()
        if words[0] in ('a', 'an', 'the'):
            words = words[1:]
        rest = ' '.join(words[2:])
        motion = next(m for m, forms in MOTIONS.items() if rest in forms)
        out.append((words[0], words[1], motion))
    return out


def test_events_are_disjoint_and_uniquely_described():
    params = dict(min_events=4, max_events=8, min_event_frames=25,
                  max_event_frames=55, max_gap_frames=20, repeat_prob=0.5)
    repeats = 0
    for i in range(30):
        events, spans, num_frames = sample_video(
            np.random.default_rng([0, i]), params)
        assert 4 <= len(events) <= 8
        ends = [0] + [e for _, e in spans]
        for (s, e), prev_end in zip(spans, ends):
            assert prev_end <= s < e <= num_frames and 25 <= e - s <= 55
        seen = set()
        for spec in events:
            found = set(triples(spec.caption))
            assert found == {(o.colour, o.shape, o.motion)
                             for o in spec.objects}
            assert not found & seen  # every query has one answer
            seen |= found
        for a, b in zip(events, events[1:]):
            repeats += [o.shape for o in a.objects] == [
                o.shape for o in b.objects]
        assert len({id(e.background) for e in events}) == 1
    assert repeats > 20  # objects re-used with new motions happen


def test_generated_files_match_annotations(tmp_path):
    root = str(tmp_path / 'g')
    meta = generate_grounding_dataset(root, num_train=2, num_val=1,
                                      num_test=1, size=32, workers=1,
                                      progress=False)
    assert meta['complete'] and meta['num_queries']['train'] >= 8
    ann = json.load(open(os.path.join(root, 'annotations', 'train.json')))
    vid, entry = next(iter(ann.items()))
    reader = decord.VideoReader(os.path.join(root, 'videos', f'{vid}.mp4'))
    assert len(reader) == round(entry['duration'] * 10)
    assert len(entry['timestamps']) == len(entry['sentences'])
    assert all(0 <= s < e <= entry['duration']
               for s, e in entry['timestamps'])
    lines = open(os.path.join(root, 'annotations', 'videos.txt')).read()
    assert f'videos/{vid}.mp4\t{vid}\n' in lines and lines.count('\n') == 4
    # idempotent: same parameters, nothing rewritten
    stamp = os.path.getmtime(os.path.join(root, 'meta.json'))
    generate_grounding_dataset(root, num_train=2, num_val=1, num_test=1,
                               size=32, workers=1, progress=False)
    assert os.path.getmtime(os.path.join(root, 'meta.json')) == stamp
