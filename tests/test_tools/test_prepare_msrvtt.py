"""tools/data/prepare_msrvtt.py on a miniature MSR-VTT download."""
import csv
import json
import os
import sys

import decord
import numpy as np
import pytest

pytest.importorskip('av')

from simvtp.datasets import MSRVTTDataset  # noqa: E402
from simvtp.utils.video_encoding import write_h264  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tools', 'data'))
import prepare_msrvtt  # noqa: E402

IDS = ['video0', 'video1', 'video7010']


def test_reencodes_at_source_rate_and_writes_the_splits(tmp_path):
    src = tmp_path / 'download'
    for i, vid in enumerate(IDS):  # 15 fps, 40 frames, one keyframe
        frames = [np.full((40, 72, 3), (i * 50 + t * 5) % 256, np.uint8)
                  for t in range(40)]
        write_h264(str(src / 'MSRVTT' / 'videos' / 'all' / f'{vid}.mp4'),
                   frames, 15, gop=250)
    data = dict(videos=[dict(video_id=v, split='test' if v == 'video7010'
                             else 'train') for v in IDS],
                sentences=[dict(video_id=v, caption=f'{v} caption {k}',
                                sen_id=3 * i + k)
                           for i, v in enumerate(IDS) for k in range(3)])
    (src / 'MSRVTT_data.json').write_text(json.dumps(data))
    (src / 'MSRVTT_train.9k.csv').write_text('video_id\nvideo0\nvideo1\n')
    with open(src / 'MSRVTT_JSFUSION_test.csv', 'w', newline='') as f:
        csv.writer(f).writerows([['key', 'vid_key', 'video_id', 'sentence'],
                                 ['ret0', 'msr7010', 'video7010',
                                  'video7010 caption 1']])
    out = tmp_path / 'out'
    result = prepare_msrvtt.main([str(src), str(out), '--short-side', '32',
                                  '--gop', '8', '--workers', '1'])
    assert result == dict(videos=3, failed=0, annotations=[
        'train_9k.json', 'test_1k.json', 'test_full.json'])
    for vid in IDS:
        reader = decord.VideoReader(str(out / 'videos' / f'{vid}.mp4'))
        assert len(reader) == 40  # every frame: the source's rate
        assert reader.get_avg_fps() == pytest.approx(15)
        assert reader[0].shape == (32, 58, 3)  # 72x40 -> short side 32
        assert list(reader.get_key_indices()) == [0, 8, 16, 24, 32]
    ann = out / 'annotations'
    train = MSRVTTDataset(str(ann / 'train_9k.json'), pipeline=[])
    assert (train.num_videos, train.num_texts) == (2, 6)
    assert json.loads((ann / 'test_1k.json').read_text()) == [
        dict(video='video7010.mp4', caption=['video7010 caption 1'])]
    full = json.loads((ann / 'test_full.json').read_text())
    assert full == [dict(video='video7010.mp4', caption=[
        f'video7010 caption {k}' for k in range(3)])]
    assert sorted(os.listdir(ann)) == ['test_1k.json', 'test_full.json',
                                       'train_9k.json']
    again = prepare_msrvtt.main([str(src), str(out), '--workers', '1'])
    assert again['failed'] == 0  # nothing left to re-encode
