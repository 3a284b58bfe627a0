"""tools/data/check_videos.py on real broken files, every format kept."""
import csv
import json
import os
import re

import pytest

from simvtp.datasets import MSRVTTDataset, WebVidDataset
from tests.test_reliability.conftest import VIDEO_KINDS
from tests.test_reliability.helpers import WEBVID_HEADER
from tests.tool_loader import import_tool

# registered by name: the pool pickles by name
check_videos = import_tool('data', 'check_videos', register=True)

GOOD = [k for k, v in VIDEO_KINDS.items() if v is None]
BAD = {k: v for k, v in VIDEO_KINDS.items() if v is not None}


def test_webvid_csv_cleaned_with_same_header(broken_videos, tmp_path,
                                             capsys):
    ann = tmp_path / 'results_2M_train.csv'
    rows = [[name, f'https://x/{name}.mp4', 'PT00H00M10S', 'pages',
             f'caption, "quoted" {name}'] for name in VIDEO_KINDS]
    rows.append(['good0', 'u', 'd', 'pages', '   '])  # empty caption
    with open(ann, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(WEBVID_HEADER)
        w.writerows(rows)
    os.makedirs(tmp_path / 'root', exist_ok=True)
    os.symlink(broken_videos, tmp_path / 'root' / 'pages')
    summary = check_videos.main([str(ann), str(tmp_path / 'root'),
                                 '--workers', '2', '--out-dir',
                                 str(tmp_path / 'out')])
    assert summary['format'] == 'webvid'
    assert summary['rows'] == len(rows) and summary['bad_rows'] == 6
    with open(summary['clean'], newline='') as f:
        cleaned = list(csv.reader(f))
    assert cleaned[0] == WEBVID_HEADER
    assert cleaned[1:] == [r for r in rows[:-1] if r[0] in GOOD]
    report = [json.loads(line) for line in open(summary['report'])]
    reasons = {os.path.basename(r['video']): r['reason'] for r in report
               if r['reason'] != check_videos.EMPTY_CAPTION}
    for name, reason in BAD.items():
        if name == 'badframes':  # opens; its later frames fail to decode
            assert re.match(r'frame \d of 8 cannot be decoded',
                            reasons['badframes.mp4'])
        else:
            assert reasons[f'{name}.mp4'].startswith(reason), name
    assert [r['row'] for r in report if r['reason'] ==
            check_videos.EMPTY_CAPTION] == [len(rows) + 1]  # CSV line
    out = capsys.readouterr().out
    assert '6 of 13 rows are bad' in out and 'missing file' in out
    # the cleaned file trains without a single replacement
    ds = WebVidDataset(summary['clean'],
                       data_prefix=dict(video=str(tmp_path / 'root')))
    assert len(ds) == len(GOOD)


def test_min_frames_flags_short_clips(broken_videos, tmp_path):
    ann = tmp_path / 'ann.json'  # the authors' {video: caption} format
    ann.write_text(json.dumps({'short.mp4': 'a dog', 'good1.mp4': 'a cat'}))
    summary = check_videos.main([str(ann), broken_videos, '--min-frames',
                                 '4', '--workers', '1', '--out-dir',
                                 str(tmp_path)])
    assert summary['format'] == 'webvid'
    assert json.loads(open(summary['clean']).read()) == {'good1.mp4': 'a cat'}
    (row, ) = [json.loads(line) for line in open(summary['report'])]
    assert row['row'] == 'short.mp4'
    assert row['reason'] == 'too short: 1 frames < --min-frames 4'


@pytest.mark.parametrize('shape', ['list', 'original'])
def test_msrvtt_json_keeps_its_shape(shape, broken_videos, tmp_path):
    names = ['good0', 'missing', 'good1', 'zero']
    if shape == 'list':
        content = [dict(video=f'{n}.mp4', caption=[f'{n} one', f'{n} two'])
                   for n in names]
        content[0]['caption'].append('')  # one empty caption of a good video
    else:
        content = dict(
            info={'year': 2016},
            videos=[dict(video_id=n, split='test') for n in names],
            sentences=[dict(video_id=n, caption=f'{n} says', sen_id=i)
                       for i, n in enumerate(names)])
    ann = tmp_path / 'msrvtt.json'
    ann.write_text(json.dumps(content, indent=2))
    summary = check_videos.main([str(ann), broken_videos, '--workers', '2'])
    assert summary['format'] == 'msrvtt'
    assert summary['clean'] == str(tmp_path / 'msrvtt.clean.json')
    cleaned = json.loads(open(summary['clean']).read())
    if shape == 'list':
        assert cleaned == [dict(video='good0.mp4',
                                caption=['good0 one', 'good0 two']),
                           dict(video='good1.mp4',
                                caption=['good1 one', 'good1 two'])]
        assert summary['bad_rows'] == 5  # 2 + 2 captions, 1 empty
    else:
        assert cleaned['info'] == {'year': 2016}
        assert [v['video_id'] for v in cleaned['videos']] == ['good0',
                                                              'good1']
        assert [s['sen_id'] for s in cleaned['sentences']] == [0, 2]
    ds = MSRVTTDataset(summary['clean'],
                       data_prefix=dict(video=broken_videos))
    assert {os.path.basename(ds.get_data_info(i)['filename'])
            for i in range(len(ds))} == {'good0.mp4', 'good1.mp4'}
