"""tools/data/convert_annotations.py: every format round-trips through the
datasets' readers; errors name the file and the row/video."""
import csv
import json
import os
import sys
from argparse import Namespace
from collections import Counter

import pytest

from simvtp.datasets import AnnotationError, MSRVTTDataset, WebVidDataset

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tools', 'data'))
import convert_annotations as conv  # noqa: E402

# an MSR-VTT original file: 3 videos (one in the test split), captions not
# grouped by video, one caption with a comma, quotes and non-ASCII
ORIGINAL = dict(
    videos=[dict(video_id='video0', split='train', id=0),
            dict(video_id='video1', split='train', id=1),
            dict(video_id='video7010', split='test', id=2)],
    sentences=[dict(video_id='video0', caption='a man sings', sen_id=0),
               dict(video_id='video7010', caption='cars, "fast" ones',
                    sen_id=1),
               dict(video_id='video1', caption='a dog runs', sen_id=2),
               dict(video_id='video0', caption='café music', sen_id=3)])
PAIRS = Counter((s['video_id'] + '.mp4', s['caption'])
                for s in ORIGINAL['sentences'])


def pairs_of(dataset):
    return Counter((dataset.get_data_info(i)['filename'],
                    dataset.get_data_info(i)['text'])
                   for i in range(len(dataset)))


@pytest.fixture
def original(tmp_path):
    path = tmp_path / 'MSRVTT_data.json'
    path.write_text(json.dumps(ORIGINAL, ensure_ascii=False))
    return str(path)


@pytest.mark.parametrize('fmt', ['video-json', 'msrvtt-json',
                                 'mmaction-json', 'umt-json',
                                 'clip4clip-csv'])
def test_msrvtt_round_trips_through_every_id_format(original, tmp_path, fmt):
    ext = 'csv' if fmt.endswith('csv') else 'json'
    out = str(tmp_path / f'out.{ext}')
    result = conv.main([original, out, '--to', fmt])
    assert (result['source_format'], result['videos'],
            result['captions']) == ('msrvtt-json', 3, 4)
    assert conv.detect_format(out) == fmt
    back = MSRVTTDataset(out, pipeline=[], data_prefix=dict(video=''))
    assert pairs_of(back) == PAIRS


def test_split_filter_and_grouping(original, tmp_path):
    out = tmp_path / 'test.json'
    conv.main([original, str(out), '--to', 'mmaction-json', '--split',
               'test'])
    assert json.loads(out.read_text()) == [
        dict(video='video7010.mp4', caption=['cars, "fast" ones'])]
    out = tmp_path / 'train.json'
    conv.main([original, str(out), '--to', 'umt-json', '--split', 'train'])
    assert json.loads(out.read_text()) == [
        dict(video='video0.mp4', caption='a man sings'),
        dict(video='video0.mp4', caption='café music'),
        dict(video='video1.mp4', caption='a dog runs')]


def test_webvid_csv_round_trip(tmp_path):
    src = tmp_path / 'results_2M_val.csv'
    rows = [['31353427', 'https://x/a.mp4', 'PT00H00M14S', '016401_016450',
             'Merida, "quoted", walk'],
            ['8130142', 'https://x/b.mp4', 'PT00H00M29S', '1006151_1006200',
             'Aerial shot']]
    with open(src, 'w', newline='') as f:
        csv.writer(f).writerows([conv.WEBVID_HEADER] + rows)
    expected = Counter((f'{r[3]}/{r[0]}.mp4', r[4]) for r in rows)
    step = str(src)
    for fmt, name in [('video-json', 'a.json'), ('umt-json', 'b.json'),
                      ('mmaction-json', 'c.json'), ('webvid-csv', 'd.csv')]:
        out = str(tmp_path / name)
        conv.main([step, out, '--to', fmt])
        step = out
    back = WebVidDataset(step, pipeline=[], data_prefix=dict(video=''))
    assert pairs_of(back) == expected
    with open(step, newline='') as f:
        assert next(csv.reader(f)) == conv.WEBVID_HEADER


def test_errors_name_the_file_and_the_row(original, tmp_path):
    bad = tmp_path / 'bad.csv'
    with open(bad, 'w', newline='') as f:
        csv.writer(f).writerows([conv.WEBVID_HEADER,
                                 ['1', 'u', 'd', 'p', 'ok'],
                                 ['2', 'u', 'd', 'p']])
    with pytest.raises(AnnotationError, match=r'bad\.csv: row 3: expected 5'):
        conv.main([str(bad), str(tmp_path / 'x.json'), '--to', 'umt-json'])
    assert not (tmp_path / 'x.json').exists()
    # ids cannot hold folders; WebVid rows need one
    nested = tmp_path / 'nested.json'
    nested.write_text(json.dumps({'a/video5.mp4': 'x', 'b/v.mp4': 'y'}))
    with pytest.raises(conv.ConversionError,
                       match=r"nested\.json: video 0 'a/video5\.mp4'"):
        conv.main([str(nested), str(tmp_path / 'y.csv'), '--to',
                   'clip4clip-csv'])
    with pytest.raises(conv.ConversionError,
                       match=r"MSRVTT_data\.json: video 0 'video0\.mp4'.*"
                       'folder'):
        conv.main([original, str(tmp_path / 'z.csv'), '--to', 'webvid-csv'])
    assert sorted(os.listdir(tmp_path)) == ['MSRVTT_data.json', 'bad.csv',
                                            'nested.json']  # no partials
    items = tmp_path / 'items.json'
    items.write_text(json.dumps([{'video': 'v.mp4'}]))
    with pytest.raises(AnnotationError, match=r'items\.json: item 0'):
        conv.convert(str(items), str(tmp_path / 'o.json'), 'umt-json',
                     Namespace(from_format='auto', video_template='',
                               split=None, video_list=None,
                               video_ext='.mp4'))
