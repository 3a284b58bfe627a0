"""Real broken files of every kind, built once per session."""
import os

import pytest

from tests.conftest import write_video

# name -> what is wrong (None: a good or a usable-but-odd sample)
VIDEO_KINDS = {
    'good0': None, 'good1': None, 'good2': None, 'good3': None,
    'good4': None, 'good5': None,
    'missing': 'missing file',
    'zero': 'empty file (0 bytes)',
    'text': 'unreadable video',
    'truncated': 'unreadable video',
    'badframes': 'unreadable video',
    'short': None,  # 1 frame < the sampled span: SampleFrames loops it
}


def make_broken_files(root):
    videos = os.path.join(root, 'videos')
    os.makedirs(videos, exist_ok=True)
    for i, name in enumerate(k for k in VIDEO_KINDS if k.startswith('good')):
        write_video(os.path.join(videos, f'{name}.mp4'), num_frames=8,
                    size=(32, 32), seed=i)
    good = open(os.path.join(videos, 'good0.mp4'), 'rb').read()
    open(os.path.join(videos, 'zero.mp4'), 'wb').close()
    with open(os.path.join(videos, 'text.mp4'), 'w') as f:
        f.write('this is not a video\n' * 20)
    with open(os.path.join(videos, 'truncated.mp4'), 'wb') as f:
        f.write(good[:len(good) // 2])
    # header and first frames intact, the rest of the frame data zeroed:
    # opens and reports 8 frames, the later frames fail to decode
    start = good.find(b'mdat') + 8
    end = good.find(b'moov') - 4
    keep = start + (end - start) * 3 // 10
    with open(os.path.join(videos, 'badframes.mp4'), 'wb') as f:
        f.write(good[:keep] + bytes(end - keep) + good[end:])
    write_video(os.path.join(videos, 'short.mp4'), num_frames=1,
                size=(32, 32), seed=9)
    return videos


@pytest.fixture(scope='session')
def broken_videos(tmp_path_factory):
    return make_broken_files(str(tmp_path_factory.mktemp('broken')))


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models on a shared 2-core CI box: threads only oversubscribe."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
