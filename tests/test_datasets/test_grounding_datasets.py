"""Grounding annotation readers, feature files and their error messages."""
import json

import h5py
import numpy as np
import pytest

import simvtp  # noqa: F401
from simvtp.datasets import (ActivityNetCaptionsGroundingDataset,
                             AnnotationError, CharadesSTAGroundingDataset,
                             TACoSGroundingDataset)
from simvtp.datasets.grounding import FeatureFileError, average_to_fixed_length

# mmengine's serialisation runs gc.collect() per dataset: seconds in pytest
FAST = dict(serialize_data=False)


def write_h5(path, feats, layout='activitynet'):
    with h5py.File(path, 'w') as f:
        for vid, arr in feats.items():
            if layout == 'activitynet':
                f.create_group(vid).create_dataset('c3d_features', data=arr)
            else:
                f.create_dataset(vid, data=arr)
    return str(path)


def anet_file(tmp_path, data, name='train.json'):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


ANET = {'v_a': {'duration': 10.0, 'timestamps': [[1, 4], [3, 12], [5, 5]],
                'sentences': ['  a red circle grows.', 'x', 'empty']},
        'v_b': {'duration': 20.0, 'timestamps': [[0, 20]],
                'sentences': ['a blue square']}}


def test_activitynet_reader_clips_drops_and_loads_features(tmp_path):
    feats = {'v_a': np.arange(12, dtype=np.float32).reshape(4, 3) + 1,
             'v_b': np.ones((2, 3), np.float32)}
    ds = ActivityNetCaptionsGroundingDataset(
        anet_file(tmp_path, ANET),
        feature_file=write_h5(tmp_path / 'f.h5', feats),
        num_sample_clips=8, **FAST)
    assert len(ds) == 3  # [5, 5] is empty and dropped
    info = ds.get_data_info(1)
    assert info['gt_times'] == (3.0, 10.0)  # clipped to the duration
    assert info['text'] == 'x' and ds.get_data_info(0)['text'] == \
        'a red circle grows.'
    assert info['features'].shape == (8, 3)
    np.testing.assert_allclose(np.linalg.norm(info['features'], axis=1), 1,
                               rtol=1e-5)
    assert ds.feature_dim == 3


def test_activitynet_errors_name_file_and_key(tmp_path):
    bad = {'v_a': {'duration': 10, 'timestamps': [[1, 'x']],
                   'sentences': ['s']}}
    with pytest.raises(AnnotationError, match=r"train.json \['v_a'\]\[0\]: "
                       'end must be a finite number'):
        ActivityNetCaptionsGroundingDataset(anet_file(tmp_path, bad), **FAST)
    bad = {'v_a': {'duration': 10, 'timestamps': [[1, 2]]}}
    with pytest.raises(AnnotationError, match=r"\['v_a'\]: missing "
                       r"\['sentences'\]"):
        ActivityNetCaptionsGroundingDataset(anet_file(tmp_path, bad), **FAST)
    path = tmp_path / 'broken.json'
    path.write_text('{"v_a": {\n "duration": 1,,\n}}')
    with pytest.raises(AnnotationError, match='broken.json:2: invalid JSON'):
        ActivityNetCaptionsGroundingDataset(str(path), **FAST)


def test_tacos_frames_to_seconds(tmp_path):
    data = {'s30-d52.avi': {'timestamps': [[30, 90]], 'sentences': ['cut'],
                            'fps': 30.0, 'num_frames': 300}}
    ds = TACoSGroundingDataset(anet_file(tmp_path, data), **FAST)
    info = ds.get_data_info(0)
    assert info['gt_times'] == (1.0, 3.0) and info['duration'] == 10.0
    assert info['video_id'] == 's30-d52.avi'


def charades_files(tmp_path, lines):
    ann = tmp_path / 'charades_sta_train.txt'
    ann.write_text(''.join(line + '\n' for line in lines))
    csv = tmp_path / 'Charades_v1_train.csv'
    csv.write_text('id,subject,length\nAAA,x,30.5\nBBB,y,12\n')
    return str(ann), str(csv)


def test_charades_reader(tmp_path):
    ann, csv = charades_files(tmp_path, [
        'AAA 24.3 30.9##person turn a light on.',
        'BBB 1 5##person opens the door.'])
    ds = CharadesSTAGroundingDataset(ann, duration_file=csv, **FAST)
    assert [ds.get_data_info(i)['gt_times'] for i in range(2)] == [
        (24.3, 30.5), (1.0, 5.0)]
    assert ds.get_data_info(0)['text'] == 'person turn a light on'
    assert ds.get_data_info(0)['duration'] == 30.5


@pytest.mark.parametrize('line,match', [
    ('AAA 1 2 person opens', r'charades_sta_train.txt:2: expected '
     '"VIDEO START END##SENTENCE"'),
    ('AAA one 2##x', 'charades_sta_train.txt:2: start/end'),
    ('ZZZ 1 2##x', "charades_sta_train.txt:2: video 'ZZZ' is not in"),
])
def test_charades_errors_name_file_and_line(tmp_path, line, match):
    ann, csv = charades_files(tmp_path, ['AAA 1 2##ok', line])
    with pytest.raises(AnnotationError, match=match):
        CharadesSTAGroundingDataset(ann, duration_file=csv, **FAST)


def test_charades_csv_errors(tmp_path):
    ann, _ = charades_files(tmp_path, ['AAA 1 2##ok'])
    csv = tmp_path / 'bad.csv'
    csv.write_text('id,subject,duration\nAAA,x,3\n')
    with pytest.raises(AnnotationError, match='bad.csv:1: expected columns'):
        CharadesSTAGroundingDataset(ann, duration_file=str(csv), **FAST)
    csv.write_text('id,length\nAAA,3\nBBB,long\n')
    with pytest.raises(AnnotationError, match="bad.csv:3: length 'long'"):
        CharadesSTAGroundingDataset(ann, duration_file=str(csv), **FAST)


def test_holdout_parts_are_complementary_by_video(tmp_path):
    data = {f'v{i}': {'duration': 10, 'timestamps': [[0, 1], [2, 3]],
                      'sentences': ['a', 'b']} for i in range(20)}
    path = anet_file(tmp_path, data)
    parts = [ActivityNetCaptionsGroundingDataset(
        path, holdout=dict(fraction=0.25, seed=3, part=p), **FAST)
        for p in ('train', 'heldout')]
    vids = [{d.get_data_info(i)['video_id'] for i in range(len(d))}
            for d in parts]
    assert len(vids[1]) == 5 and not vids[0] & vids[1]
    assert vids[0] | vids[1] == set(data)
    again = ActivityNetCaptionsGroundingDataset(
        path, holdout=dict(fraction=0.25, seed=3, part='heldout'), **FAST)
    assert {again.get_data_info(i)['video_id']
            for i in range(len(again))} == vids[1]


def make(tmp_path, feature_file, **kwargs):
    return ActivityNetCaptionsGroundingDataset(
        anet_file(tmp_path, ANET), feature_file=feature_file, **FAST,
        **kwargs)


def test_feature_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.h5.*does not exist.*'
                       'extract_features.py'):
        make(tmp_path, str(tmp_path / 'nope.h5'))
    empty = tmp_path / 'empty.h5'
    empty.write_bytes(b'')
    with pytest.raises(FeatureFileError, match=r'empty.h5 is empty \(0 '
                       'bytes'):
        make(tmp_path, str(empty))
    text = tmp_path / 'text.h5'
    text.write_text('not hdf5')
    with pytest.raises(FeatureFileError, match='not a readable HDF5'):
        make(tmp_path, str(text))
    with pytest.raises(FeatureFileError, match='holds no features'):
        make(tmp_path, write_h5(tmp_path / 'none.h5', {}))


def test_feature_layout_and_naming_mistakes(tmp_path):
    feats = {'v_a': np.ones((3, 4), np.float32),
             'v_b': np.ones((3, 4), np.float32)}
    flat = write_h5(tmp_path / 'flat.h5', feats, layout='flat')
    with pytest.raises(FeatureFileError, match=r"stores features as f\[vid\]"
                       r" \(layout 'charades'\).*feature_layout='charades'"):
        make(tmp_path, flat)
    assert len(make(tmp_path, flat, feature_layout='charades')) == 3
    stripped = write_h5(tmp_path / 'stripped.h5',
                        {'a': feats['v_a'], 'b': feats['v_b']})
    with pytest.raises(FeatureFileError, match="none of the 2 videos.*"
                       "written as '{} without its v_ prefix'"):
        make(tmp_path, stripped)
    partial = write_h5(tmp_path / 'partial.h5', {'v_a': feats['v_a']})
    with pytest.raises(AnnotationError, match=r"1 of 2 videos .* \['v_b'\]"):
        make(tmp_path, partial)
    assert len(make(tmp_path, partial, missing_features='skip')) == 2
    zero = write_h5(tmp_path / 'zero.h5', {'v_a': np.ones((0, 4)),
                                           'v_b': feats['v_b']})
    with pytest.raises(FeatureFileError, match=r"'v_a' have shape \(0, 4\)"):
        make(tmp_path, zero)


def test_average_to_fixed_length_brute_force():
    rng = np.random.default_rng(0)
    for n, s in ((10, 4), (3, 8), (256, 256), (7, 7), (100, 16)):
        feats = rng.normal(size=(n, 3)).astype(np.float32)
        out = average_to_fixed_length(feats, s)
        for i in range(s):
            lo, hi = round(i * n / s), round((i + 1) * n / s)
            ref = feats[lo:hi].mean(0) if hi > lo else feats[min(lo, n - 1)]
            np.testing.assert_allclose(out[i], ref, rtol=1e-5, atol=1e-6)
    # every feature is used (2D-TAN's version drops the last one)
    feats = np.arange(4, dtype=np.float32)[:, None]
    assert average_to_fixed_length(feats, 2)[:, 0].tolist() == [0.5, 2.5]
