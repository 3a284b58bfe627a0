"""WebVid and MSR-VTT readers on files laid out like the real datasets."""
import csv
import json

import numpy as np
import pytest
from mmengine.registry import init_default_scope

from simvtp.datasets import AnnotationError, MSRVTTDataset, WebVidDataset
from simvtp.registry import DATASETS

WEBVID_HEADER = ['videoid', 'contentUrl', 'duration', 'page_dir', 'name']


def write_webvid_csv(path, rows):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(WEBVID_HEADER)
        w.writerows(rows)


def test_webvid_csv_layout(tmp_path):
    ann = tmp_path / 'results_2M_train.csv'
    write_webvid_csv(ann, [
        ['31353427', 'https://x/a.mp4', 'PT00H00M14S', '016401_016450',
         'Merida, mexico - may 23, 2017: tourists, "quoted", walk'],
        ['8130142', 'https://x/b.mp4', 'PT00H00M29S', '1006151_1006200',
         'Aerial shot of winter forest'],
    ])
    ds = WebVidDataset(str(ann), data_prefix=dict(video='/data/webvid'))
    assert len(ds) == 2
    info = ds.get_data_info(0)
    assert info['filename'] == '/data/webvid/016401_016450/31353427.mp4'
    assert info['text'] == ('Merida, mexico - may 23, 2017: tourists, '
                            '"quoted", walk')
    assert ds.get_data_info(1)['video_id'] == 1
    assert ds.num_videos == 2 and ds.num_texts == 2


def test_webvid_csv_missing_column_names_file(tmp_path):
    ann = tmp_path / 'bad.csv'
    ann.write_text('videoid,contentUrl,duration,name\n1,u,d,cap\n')
    with pytest.raises(AnnotationError, match=r"bad\.csv.*missing column.*page_dir"):
        WebVidDataset(str(ann))


def test_webvid_csv_short_row_names_row(tmp_path):
    ann = tmp_path / 'bad.csv'
    ann.write_text(','.join(WEBVID_HEADER) + '\n1,u,d,p,ok\n2,u,d\n')
    with pytest.raises(AnnotationError, match=r'bad\.csv: row 3: expected 5'):
        WebVidDataset(str(ann))


def test_webvid_authors_json(tmp_path):
    ann = tmp_path / 'webvid_train.json'
    ann.write_text(json.dumps({'/abs/1.mp4': 'a dog', 'p/2.mp4': 'a cat '}))
    ds = WebVidDataset(str(ann), data_prefix=dict(video='/root'))
    assert [ds.get_data_info(i)['filename'] for i in range(2)] == \
        ['/abs/1.mp4', '/root/p/2.mp4']
    assert ds.get_data_info(1)['text'] == 'a cat'


def test_json_bad_caption_names_key(tmp_path):
    ann = tmp_path / 'w.json'
    ann.write_text(json.dumps({'v1.mp4': 'ok', 'v2.mp4': 3}))
    with pytest.raises(AnnotationError, match=r"w\.json: key 'v2\.mp4'"):
        WebVidDataset(str(ann))


def test_msrvtt_mmaction_list_format(tmp_path):
    ann = tmp_path / 'msrvtt_test.json'
    ann.write_text(json.dumps([
        {'video': 'video7010.mp4', 'caption': 'a man is talking'},
        {'video': 'video7011.mp4', 'caption': ['two', 'captions']},
    ]))
    ds = MSRVTTDataset(str(ann), data_prefix=dict(video='/v'))
    assert len(ds) == 3 and ds.num_videos == 2
    assert ds.get_data_info(2) ['filename'] == '/v/video7011.mp4'
    per_video = MSRVTTDataset(str(ann), per_video=True)
    assert len(per_video) == 2
    assert per_video.get_data_info(1)['text'] == ['two', 'captions']
    assert per_video.get_data_info(1)['text_id'] == [1, 2]


def test_msrvtt_list_item_error_names_item(tmp_path):
    ann = tmp_path / 'm.json'
    ann.write_text(json.dumps([{'video': 'a.mp4', 'caption': 'x'},
                               {'video': 'b.mp4'}]))
    with pytest.raises(AnnotationError, match=r'm\.json: item 1'):
        MSRVTTDataset(str(ann))


@pytest.mark.parametrize('content, where', [
    ([{'video': 7010, 'caption': 'x'}], r'item 0 "video"'),
    ([{'video': None, 'caption': 'x'}], r'item 0 "video"'),
    ({'videos': [{'video_id': 'video0', 'split': 'test'}],
      'sentences': [{'video_id': 7010, 'caption': 'c'}]},
     r'sentences\[0\] "video_id"'),
    ({'videos': [{'video_id': ['v'], 'split': 'test'}],
      'sentences': [{'video_id': 'v', 'caption': 'c'}]},
     r'videos\[0\] "video_id"'),
])
def test_non_string_video_names_file_and_row(tmp_path, content, where):
    """Not a bare AttributeError / TypeError deep in the reader."""
    ann = tmp_path / 'm.json'
    ann.write_text(json.dumps(content))
    with pytest.raises(AnnotationError,
                       match=rf'm\.json: {where}: the video must be a '
                             r'non-empty string'):
        MSRVTTDataset(str(ann), split='test')


def test_msrvtt_authors_split_json(tmp_path):
    ann = tmp_path / 'msrvtt_1kA_test.json'
    ann.write_text(json.dumps({'/d/video9770.mp4': 'a person is singing'}))
    ds = MSRVTTDataset(str(ann))
    assert ds.get_data_info(0)['filename'] == '/d/video9770.mp4'


def test_msrvtt_original_format_with_split_and_list(tmp_path):
    ann = tmp_path / 'MSRVTT_data.json'
    ann.write_text(json.dumps({
        'videos': [{'video_id': 'video0', 'split': 'train'},
                   {'video_id': 'video1', 'split': 'train'},
                   {'video_id': 'video7010', 'split': 'test'}],
        'sentences': [{'video_id': 'video0', 'caption': 'c0', 'sen_id': 0},
                      {'video_id': 'video7010', 'caption': 't0', 'sen_id': 1},
                      {'video_id': 'video1', 'caption': 'c1', 'sen_id': 2},
                      {'video_id': 'video0', 'caption': 'c0b', 'sen_id': 3}],
    }))
    train = MSRVTTDataset(str(ann), split='train')
    assert [train.get_data_info(i)['text'] for i in range(len(train))] == \
        ['c0', 'c1', 'c0b']
    assert train.num_videos == 2
    lst = tmp_path / 'train_list_jsfusion.txt'
    lst.write_text('video1\n')
    only = MSRVTTDataset(str(ann), video_list=str(lst))
    assert len(only) == 1 and only.get_data_info(0)['filename'] == 'video1.mp4'


def test_msrvtt_jsfusion_csv(tmp_path):
    ann = tmp_path / 'MSRVTT_JSFUSION_test.csv'
    ann.write_text('key,vid_key,video_id,sentence\n'
                   'ret0,msr7579,video7579,a girl wearing red top\n')
    ds = MSRVTTDataset(str(ann), data_prefix=dict(video='/v'))
    assert ds.get_data_info(0)['filename'] == '/v/video7579.mp4'
    assert ds.get_data_info(0)['text'] == 'a girl wearing red top'


def test_missing_annotation_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.csv'):
        WebVidDataset(str(tmp_path / 'nope.csv'))


def test_annotations_are_packed_in_numpy_arrays(tmp_path):
    """Workers share a few arrays instead of one Python object per pair."""
    ann = tmp_path / 'a.csv'
    write_webvid_csv(ann, [[str(i), 'u', 'd', f'p{i % 3}', f'c{i} é']
                           for i in range(50)])
    ds = WebVidDataset(str(ann), data_prefix=dict(video='/r'))
    assert ds.data_list == [] and len(ds) == 50
    table = ds.table
    for arr in (table.videos.data, table.captions.data):
        assert isinstance(arr, np.ndarray) and arr.dtype == np.uint8
    assert table.caption_video.dtype == np.int32
    # 50 relative paths + 50 captions as UTF-8, two int64 offsets and one
    # int32 video id per row, nothing else
    text_bytes = sum(len(f'p{i % 3}/{i}.mp4'.encode()) +
                     len(f'c{i} é'.encode()) for i in range(50))
    assert table.nbytes == text_bytes + 50 * (8 + 8 + 4)
    info = ds.get_data_info(-1)
    assert info['filename'] == '/r/p1/49.mp4' and info['text'] == 'c49 é'
    assert info['sample_idx'] == 49 and info['text_id'] == 49


def test_subset_and_per_video_grouping(tmp_path):
    """Captions of one video are grouped in file order; indices subset."""
    ann = tmp_path / 'a.json'
    ann.write_text(json.dumps([
        dict(video='a.mp4', caption=['a0', 'a1']),
        dict(video='b.mp4', caption='b0'),
        dict(video='a.mp4', caption='a2')]))
    ds = MSRVTTDataset(str(ann), per_video=True)
    assert len(ds) == 2 and ds.num_texts == 4
    assert ds.get_data_info(0)['text'] == ['a0', 'a1', 'a2']
    assert ds.get_data_info(0)['text_id'] == [0, 1, 3]
    pairs = MSRVTTDataset(str(ann), indices=[3, 0])
    assert len(pairs) == 2
    assert [pairs.get_data_info(i)['text'] for i in range(2)] == ['a2', 'a0']
    assert pairs.get_data_info(0)['video_id'] == 0
    one = MSRVTTDataset(str(ann), per_video=True, max_pairs=1)
    assert len(one) == 1 and one.get_data_info(0)['text'] == ['a0', 'a1',
                                                               'a2']
    first = MSRVTTDataset(str(ann), max_pairs=2)
    first.get_subset_(-1)
    assert len(first) == 1 and first.get_data_info(0)['text'] == 'a1'


def test_pipeline_on_real_videos(tmp_path, video_factory, tiny_tokenizer_dir):
    video_factory('000/1.mp4', num_frames=12)
    video_factory('000/2.mp4', num_frames=12, seed=1)
    ann = tmp_path / 'train.csv'
    write_webvid_csv(ann, [['1', 'u', 'd', '000', 'a red circle moves left'],
                           ['2', 'u', 'd', '000', 'the dog runs']])
    init_default_scope('simvtp')
    ds = DATASETS.build(dict(
        type='WebVidDataset', ann_file=str(ann),
        data_prefix=dict(video=str(tmp_path / 'videos')),
        pipeline=[
            dict(type='DecordInit'),
            dict(type='SampleFrames', clip_len=4, frame_interval=2,
                 num_clips=1),
            dict(type='DecordDecode'),
            dict(type='Resize', scale=(32, 32), keep_ratio=False),
            dict(type='FormatShape', input_format='NCTHW'),
            dict(type='TokenizeText', tokenizer=tiny_tokenizer_dir,
                 max_length=16),
            dict(type='PackVideoTextInputs'),
        ]))
    item = ds[0]
    assert item['inputs']['video'].shape == (3, 4, 32, 32)
    ids = item['inputs']['input_ids'].tolist()
    # [CLS]=2 a=5 red=6 circle=9 moves=11 left=12 [SEP]=3
    assert ids == [2, 5, 6, 9, 11, 12, 3]
    assert item['data_samples'].text == 'a red circle moves left'
