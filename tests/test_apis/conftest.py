"""A tiny SimVTP, its checkpoint and a few real videos with captions."""
import json
import os

import pytest

from tests.conftest import WORDS, write_video
from tests.tiny_model import synthetic_eval_config, tiny_geometry

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# the synthetic config with a tiny encoder (32-dim, 2 layers) on 32 px,
# 4-frame clips; the test split is read per video, as tools/test.py does
TINY_CONFIG_TAIL = """
test_dataloader = dict(
    batch_size=3, num_workers=0, persistent_workers=False,
    dataset=dict(dataset=dict(ann_file='{ann}', data_prefix=dict(
        video='{videos}'), pipeline=test_pipeline)))
custom_hooks = []
# evaluation only (what tools/test.py reads)
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
"""


NUM_VIDEOS = 7


def captions_of(i):
    """Two captions for video 0 (a multi-caption item), one otherwise."""
    first = ' '.join(WORDS[(i * 3 + k) % len(WORDS)] for k in range(4))
    return [first, 'the dog runs left'] if i == 0 else [first]


@pytest.fixture(scope='session')
def tiny_env(tmp_path_factory, tiny_tokenizer_dir):
    """``dict(config, checkpoint, videos, ann, paths, captions, root)``."""
    import torch

    from simvtp.apis import init_model
    root = tmp_path_factory.mktemp('api')
    videos = root / 'videos'
    paths, items, captions = [], [], []
    for i in range(NUM_VIDEOS):
        # frame sizes differ (the pipeline resizes), lengths too
        path = write_video(str(videos / f'clip{i}.mp4'),
                           num_frames=10 + i, size=(32 + 4 * i, 40), seed=i)
        paths.append(path)
        captions.append(captions_of(i))
        items += [dict(video=f'clip{i}.mp4', caption=c)
                  for c in captions_of(i)]
    ann = root / 'test.json'
    ann.write_text(json.dumps(items))
    config = root / 'tiny_search.py'
    config.write_text(
        synthetic_eval_config(REPO, tiny_tokenizer_dir,
                              tiny_geometry(vocab=32), clip_len=4,
                              frame_interval=2, size=32) +
        TINY_CONFIG_TAIL.format(ann=ann, videos=videos))
    torch.manual_seed(0)
    model = init_model(str(config))
    checkpoint = str(root / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    return dict(config=str(config), checkpoint=checkpoint,
                videos=str(videos), ann=str(ann), paths=paths,
                captions=captions, root=str(root))


@pytest.fixture(scope='session')
def tiny_model(tiny_env):
    from simvtp.apis import init_model
    return init_model(tiny_env['config'], tiny_env['checkpoint'])


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models on a shared 2-core box: threads only oversubscribe."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
