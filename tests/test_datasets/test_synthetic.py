"""Tests of the embedded synthetic video-text dataset.

Covers :mod:`simvtp.datasets.synthetic` and tools/data/make_synthetic.py.
"""
import csv
import json
import os
import os.path as osp

import numpy as np
import pytest

from simvtp.datasets.synthetic import (BASE_VIDEO_ID, COLOURS, MOTIONS,
                                       SHAPES, SPECIAL_TOKENS,
                                       generate_synthetic_dataset,
                                       render_clip, sample_scene)
from simvtp.datasets.synthetic.scene import render_background
from simvtp.datasets.synthetic.vocab import grammar_words

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = dict(num_train=6, num_val=3, num_test=3, num_frames=16, fps=10,
            size=64, seed=0, progress=False)
ANNOTATIONS = ('train.csv', 'train.json', 'val.json', 'test.json')


def generate(root, **overrides):
    kwargs = dict(TINY, workers=2)
    kwargs.update(overrides)
    return generate_synthetic_dataset(str(root), **kwargs)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthetic')
    meta = generate(root)
    return root, meta


def read_bytes(path):
    with open(path, 'rb') as f:
        return f.read()


def colour_mask(clip, colour, tol=60):
    """(T, H, W) bool: pixels within ``tol`` of an RGB colour."""
    diff = clip.astype(np.int32) - np.asarray(COLOURS[colour], np.int32)
    return np.abs(diff).max(-1) < tol


def centroids(mask):
    """(T, 2) x, y centroid of a (T, H, W) mask."""
    ys, xs = np.mgrid[:mask.shape[1], :mask.shape[2]]
    area = mask.sum((1, 2))
    assert (area > 0).all(), 'object invisible in some frame'
    return np.stack([(mask * xs).sum((1, 2)) / area,
                     (mask * ys).sum((1, 2)) / area], 1)


def one_object(motion, colour='red', shape='square', seed=0):
    rng = np.random.default_rng(seed)
    return sample_scene(rng, num_objects=1, colours=[colour], shapes=[shape],
                        motions=[motion])


# ----------------------------------------------------------------------------
# on-disk layout and formats
# ----------------------------------------------------------------------------
def test_layout_and_formats(dataset):
    root, meta = dataset
    ann = osp.join(root, 'annotations')
    for name in ANNOTATIONS:
        assert osp.isfile(osp.join(ann, name))

    with open(osp.join(ann, 'train.csv'), newline='', encoding='utf-8') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['videoid', 'contentUrl', 'duration', 'page_dir',
                       'name']
    rows = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert len(rows) == 6
    with open(osp.join(ann, 'train.json'), encoding='utf-8') as f:
        train_json = json.load(f)
    assert isinstance(train_json, dict) and len(train_json) == 6
    for row in rows:
        assert row['videoid'].isdigit() and not row['videoid'].startswith('0')
        assert row['contentUrl'] == \
            f'https://example.invalid/{row["videoid"]}.mp4'
        assert row['duration'] == 'PT00H00M02S'   # 16 frames at 10 fps
        assert row['page_dir'] == '000'
        rel = f'{row["page_dir"]}/{row["videoid"]}.mp4'
        assert osp.isfile(osp.join(root, 'videos', rel))
        assert train_json[rel] == row['name'] and row['name']

    videos = [f'{r["page_dir"]}/{r["videoid"]}.mp4' for r in rows]
    for split in ('val', 'test'):
        with open(osp.join(ann, f'{split}.json'), encoding='utf-8') as f:
            items = json.load(f)
        assert isinstance(items, list) and len(items) == 3
        for item in items:
            assert set(item) == {'video', 'caption'}
            assert isinstance(item['caption'], str) and item['caption']
            assert osp.isfile(osp.join(root, 'videos', item['video']))
            videos.append(item['video'])
    # ids unique across splits and consecutive from BASE_VIDEO_ID
    ids = sorted(int(osp.basename(v)[:-4]) for v in videos)
    assert ids == list(range(BASE_VIDEO_ID, BASE_VIDEO_ID + 12))
    # no stray temporary files
    assert sorted(os.listdir(osp.join(root, 'videos', '000'))) == \
        sorted(osp.basename(v) for v in videos)

    with open(osp.join(root, 'meta.json'), encoding='utf-8') as f:
        on_disk = json.load(f)
    assert on_disk == meta and meta['complete'] is True
    for key, value in TINY.items():
        if key != 'progress':
            assert meta[key] == value
    assert meta['version'] >= 1


def test_page_dirs_hold_100_videos(tmp_path):
    meta = generate(tmp_path, num_train=150, num_val=0, num_test=0,
                    num_frames=2, size=32)
    assert meta['complete']
    assert sorted(os.listdir(tmp_path / 'videos')) == ['000', '001']
    assert len(os.listdir(tmp_path / 'videos' / '000')) == 100
    assert len(os.listdir(tmp_path / 'videos' / '001')) == 50
    with open(tmp_path / 'annotations' / 'val.json') as f:
        assert json.load(f) == []


def test_decord_reads_rgb_video(dataset):
    decord = pytest.importorskip('decord')
    root, _ = dataset
    with open(osp.join(root, 'annotations', 'test.json')) as f:
        video = json.load(f)[0]['video']
    reader = decord.VideoReader(osp.join(root, 'videos', video))
    assert len(reader) == 16
    frames = reader.get_batch(list(range(16))).asnumpy()
    assert frames.shape == (16, 64, 64, 3)

    # The decoded clip matches the render of the same scene, in RGB order.
    test_index = 0
    rng = np.random.default_rng([0, 2, test_index])
    expected = render_clip(sample_scene(rng), 16, 64)
    error = np.abs(frames.astype(np.float32) - expected).mean()
    swapped = np.abs(frames[..., ::-1].astype(np.float32) - expected).mean()
    assert error < 8, error
    assert error < swapped


# ----------------------------------------------------------------------------
# determinism and idempotence
# ----------------------------------------------------------------------------
def test_same_seed_identical_different_seed_differs(dataset, tmp_path):
    root, _ = dataset
    again = tmp_path / 'again'
    generate(again, workers=1)        # worker count must not matter
    for name in ANNOTATIONS:
        assert read_bytes(osp.join(root, 'annotations', name)) == \
            read_bytes(again / 'annotations' / name)
    assert read_bytes(osp.join(root, 'tokenizer', 'vocab.txt')) == \
        read_bytes(again / 'tokenizer' / 'vocab.txt')
    assert read_bytes(osp.join(root, 'meta.json')) == \
        read_bytes(again / 'meta.json')

    other = tmp_path / 'other'
    generate(other, seed=1)
    for name in ANNOTATIONS:
        assert read_bytes(osp.join(root, 'annotations', name)) != \
            read_bytes(other / 'annotations' / name)


def test_idempotent_and_regenerates_on_change(tmp_path):
    meta = generate(tmp_path)
    video = tmp_path / 'videos' / '000' / f'{BASE_VIDEO_ID}.mp4'
    stamps = {p: os.stat(p).st_mtime_ns
              for p in (tmp_path / 'meta.json', video,
                        tmp_path / 'annotations' / 'train.csv')}
    assert generate(tmp_path) == meta
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps

    # different parameters: everything is rewritten, stale videos removed
    meta2 = generate(tmp_path, num_test=1)
    assert meta2['num_test'] == 1 and meta2['complete']
    assert len(os.listdir(tmp_path / 'videos' / '000')) == 10
    assert os.stat(tmp_path / 'meta.json').st_mtime_ns != \
        stamps[tmp_path / 'meta.json']

    # an unfinished run (complete false) is regenerated
    with open(tmp_path / 'meta.json', 'w') as f:
        json.dump(dict(meta2, complete=False), f)
    os.remove(video)
    assert generate(tmp_path, num_test=1)['complete']
    assert video.is_file()


def test_refuses_foreign_folder(tmp_path):
    (tmp_path / 'videos').mkdir()
    (tmp_path / 'videos' / 'mine.mp4').write_bytes(b'not ours')
    with pytest.raises(FileExistsError):
        generate(tmp_path)
    assert (tmp_path / 'videos' / 'mine.mp4').is_file()


# ----------------------------------------------------------------------------
# content: captions, appearance, motion
# ----------------------------------------------------------------------------
def test_vocabulary_sizes():
    assert len(COLOURS) >= 6 and len(SHAPES) >= 4 and len(MOTIONS) >= 6
    for motion in ('moves left', 'moves right', 'moves up', 'moves down',
                   'grows', 'shrinks'):
        assert motion in MOTIONS


def test_captions_compose_colour_shape_motion():
    words = set(grammar_words())
    captions = set()
    for i in range(300):
        scene = sample_scene(np.random.default_rng([7, 2, i]))
        caption = scene.caption
        captions.add(caption)
        assert set(caption.split()) <= words
        assert len(scene.objects) in (1, 2)
        for obj in scene.objects:
            assert obj.colour in COLOURS and obj.shape in SHAPES
            assert obj.colour in caption and obj.shape in caption
            assert any(form in caption for form in MOTIONS[obj.motion])
        if len(scene.objects) == 2:
            a, b = scene.objects
            assert a.colour != b.colour and a.shape != b.shape
            assert ' and ' in caption
    # sampled from the full combinatorial space: few exact duplicates
    assert len(captions) >= 280


@pytest.mark.parametrize('motion,axis,sign', [
    ('moves right', 0, 1), ('moves left', 0, -1),
    ('moves down', 1, 1), ('moves up', 1, -1)])
def test_translation_moves_the_object(motion, axis, sign):
    for seed in range(3):
        scene = one_object(motion, colour='blue', shape='circle', seed=seed)
        clip = render_clip(scene, num_frames=16, size=64)
        assert clip.shape == (16, 64, 64, 3) and clip.dtype == np.uint8
        xy = centroids(colour_mask(clip, 'blue'))
        shift = sign * (xy[-1, axis] - xy[0, axis])
        assert shift > 0.25 * 64, (motion, shift)
        # the other coordinate stays put
        assert abs(xy[-1, 1 - axis] - xy[0, 1 - axis]) < 2
        # and the movement is steady: visible in every half of the clip
        assert sign * (xy[8, axis] - xy[0, axis]) > 0.1 * 64
        assert sign * (xy[-1, axis] - xy[8, axis]) > 0.1 * 64


@pytest.mark.parametrize('shape', SHAPES)
def test_grows_and_shrinks_change_area(shape):
    for motion, ratio in (('grows', 2.5), ('shrinks', 1 / 2.5)):
        clip = render_clip(one_object(motion, 'yellow', shape), 16, 64)
        area = colour_mask(clip, 'yellow').sum((1, 2))
        if motion == 'grows':
            assert area[-1] > ratio * area[0]
        else:
            assert area[-1] < ratio * area[0]
        xy = centroids(colour_mask(clip, 'yellow'))
        assert np.abs(xy[-1] - xy[0]).max() < 2


def test_rotation_and_still():
    clip = render_clip(one_object('rotates', 'green', 'square'), 16, 64)
    mask = colour_mask(clip, 'green')
    assert (mask[0] != mask[4]).sum() > 40        # the outline turns
    assert np.abs(centroids(mask)[-1] - centroids(mask)[0]).max() < 1

    clip = render_clip(one_object('stays still', 'green', 'star'), 16, 64)
    assert (clip == clip[0]).all()


def test_objects_are_large_and_strongly_coloured():
    for i in range(40):
        scene = sample_scene(np.random.default_rng([3, 0, i]))
        clip = render_clip(scene, 16, 112)
        for obj in scene.objects:
            # tight tolerance: anti-aliased edges between two objects may
            # blend into a third colour
            mask = colour_mask(clip, obj.colour, tol=40)
            for t in (0, 15):
                ys, xs = np.nonzero(mask[t])
                side = (max(np.ptp(xs), np.ptp(ys)) + 1) / 112
                # roughly 30-50% of the side; smaller only at the small end
                # of grows / shrinks
                small = (t == 0) == (obj.motion == 'grows') and \
                    obj.motion in ('grows', 'shrinks')
                assert (0.16 if small else 0.26) <= side <= 0.6, (obj, side)
        # dark background, far from every (saturated) object colour
        background = render_background(scene.background, 112)
        assert background.reshape(-1, 3).mean(0).max() <= 75
        assert np.median(background) <= 75
    assert min(max(rgb) for rgb in COLOURS.values()) >= 220


def test_render_accepts_rng_and_is_deterministic():
    a = render_clip(np.random.default_rng([0, 1, 5]), 8, 32)
    b = render_clip(np.random.default_rng([0, 1, 5]), 8, 32)
    c = render_clip(np.random.default_rng([0, 1, 6]), 8, 32)
    assert a.shape == (8, 32, 32, 3)
    assert (a == b).all() and not (a == c).all()


# ----------------------------------------------------------------------------
# tokenizer
# ----------------------------------------------------------------------------
def test_tokenizer_loads_offline(dataset, monkeypatch):
    transformers = pytest.importorskip('transformers')
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.setenv('TRANSFORMERS_OFFLINE', '1')
    root, meta = dataset
    path = osp.join(root, 'tokenizer')
    assert osp.isfile(osp.join(path, 'vocab.txt'))
    tokenizer = transformers.BertTokenizerFast.from_pretrained(
        path, local_files_only=True)
    assert len(tokenizer) == meta['vocab_size'] <= 1000
    for i, token in enumerate(SPECIAL_TOKENS):
        assert tokenizer.convert_tokens_to_ids(token) == i
    assert (tokenizer.pad_token_id, tokenizer.unk_token_id,
            tokenizer.cls_token_id, tokenizer.sep_token_id,
            tokenizer.mask_token_id) == (0, 1, 2, 3, 4)

    captions = []
    for split in ('val', 'test'):
        with open(osp.join(root, 'annotations', f'{split}.json')) as f:
            captions += [item['caption'] for item in json.load(f)]
    captions.append('An Orange STAR is moving to the left')
    for caption in captions:
        ids = tokenizer(caption)['input_ids']
        assert ids[0] == 2 and ids[-1] == 3
        assert 1 not in ids, caption
    # every grammar word is a whole token, even with 6 training captions
    for word in grammar_words():
        assert tokenizer.tokenize(word) == [word]


# ----------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------
def test_cli(tmp_path, capsys):
    from tests.tool_loader import import_tool
    cli = import_tool('data', 'make_synthetic')
    out = tmp_path / 'cli'
    assert cli.main(['--root', str(out), '--num-train', '2', '--num-val', '1',
                     '--num-test', '1', '--frames', '4', '--size', '32',
                     '--workers', '1', '--seed', '3', '--no-progress']) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and 'took' in printed
    with open(out / 'meta.json') as f:
        meta = json.load(f)
    assert (meta['num_train'], meta['num_frames'], meta['size'],
            meta['seed'], meta['complete']) == (2, 4, 32, 3, True)


def test_generation_after_opencv_used_threads_in_this_process(tmp_path):
    """A process whose OpenCV thread pool is running (any earlier cv2.resize
    of a large frame) forks the renderer workers: they must not hang. Run in
    a subprocess with a timeout so a regression fails instead of hanging."""
    import subprocess
    import sys
    code = f"""
import cv2, numpy as np
for _ in range(5):
    cv2.resize(np.zeros((2000, 2000, 3), np.uint8), (1000, 1000))
threads = cv2.getNumThreads()
from simvtp.datasets.synthetic import generate_synthetic_dataset
generate_synthetic_dataset({str(tmp_path / 'd')!r}, num_train=4, num_val=0,
                           num_test=0, num_frames=4, size=32, workers=2,
                           progress=False)
assert cv2.getNumThreads() == threads  # the caller's setting is restored
print('GENERATED')
"""
    try:
        proc = subprocess.run([sys.executable, '-c', code], timeout=120,
                              capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        pytest.fail('generation hung after OpenCV had started its threads')
    assert 'GENERATED' in proc.stdout, proc.stderr[-2000:]
