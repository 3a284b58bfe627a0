"""Tiny real data and configs for the reliability tests (subprocess runs)."""
import csv
import json
import os
import socket
import subprocess
import sys

from tests.conftest import WORDS, write_video
from tests.tiny_model import tiny_geometry

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
WEBVID_HEADER = ['videoid', 'contentUrl', 'duration', 'page_dir', 'name']

# a tiny SimVTP (32-dim, 2 layers, 32 px, 4 frames) with all three
# objectives: VTM's random negatives and the text dropout use torch's RNG
TINY_CONFIG = """
_base_ = ['{repo}/configs/simvtp/pretrain_synthetic.py']
custom_imports = dict(imports=['simvtp', 'tests.test_reliability.fault_hooks'],
                      allow_failed_imports=False)
synthetic_data = None
tokenizer = '{tok}'
model = TINY_MODEL
pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=4, frame_interval=2, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='TubeMasking', mask_ratio=0.5, tubelet_size=2, patch_size=16,
         seed=1),
    dict(type='TokenizeText', tokenizer=tokenizer, max_length=16),
    dict(type='TextMasking', mask_ratio=0.5, seed=2),
    dict(type='PackVideoTextInputs'),
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(dataset=dict(ann_file='{ann}',
                              data_prefix=dict(video='{videos}'),
                              pipeline=pipeline)))
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=4, frame_interval=2, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='TokenizeText', tokenizer=tokenizer, max_length=16),
    dict(type='PackVideoTextInputs'),
]
test_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(dataset=dict(ann_file='{test_ann}',
                              data_prefix=dict(video='{videos}'),
                              pipeline=test_pipeline)))
test_after_train = False
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters={iters})
param_scheduler = []
optim_wrapper = dict(optimizer=dict(lr=1e-2))
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(by_epoch=False, interval={interval},
                                     max_keep_ckpts=1))
custom_hooks = [dict(type='RNGStateHook'), {hooks}]
""".replace('TINY_MODEL', repr(tiny_geometry(vocab=32)).replace(
    '{', '{{').replace('}', '}}'))


def make_dataset(root, num=8, frames=8):
    """``num`` real mp4 clips, a WebVid CSV and an MSR-VTT style JSON."""
    rows, items = [], []
    for i in range(num):
        write_video(os.path.join(root, 'videos', f'{i}.mp4'),
                    num_frames=frames, size=(32, 32), seed=i)
        caption = ' '.join(WORDS[(i + k) % len(WORDS)] for k in range(4))
        rows.append([str(i), 'u', 'd', '.', caption])
        items.append(dict(video=f'{i}.mp4', caption=caption))
    ann = os.path.join(root, 'train.csv')
    write_webvid_csv(ann, rows)
    test_ann = os.path.join(root, 'test.json')
    with open(test_ann, 'w') as f:
        json.dump(items, f)
    return ann, test_ann


def write_webvid_csv(path, rows):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(WEBVID_HEADER)
        w.writerows(rows)


def write_config(path, tok, ann, test_ann, videos, iters=6, interval=3,
                 hooks=()):
    hooks = ', '.join(repr(h) for h in hooks) or "dict(type='DataHealthHook')"
    with open(path, 'w') as f:
        f.write(TINY_CONFIG.format(
            repo=REPO, tok=tok, ann=ann, test_ann=test_ann, videos=videos,
            iters=iters, interval=interval, hooks=hooks))
    return str(path)


def tiny_cfg(tmp_path, tok, ann, videos, hooks, iters=4):
    """TINY_CONFIG in-process, training only, on ``ann`` / ``videos``."""
    from mmengine.config import Config
    path = tmp_path / 'cfg.py'
    path.write_text(TINY_CONFIG.format(
        repo=REPO, tok=tok, ann=ann, test_ann='unused', videos=videos,
        iters=iters, interval=100, hooks=', '.join(map(repr, hooks))))
    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    return cfg


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def env():
    return dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO,
                PORT=str(free_port()))


def tool(name, *args, **kwargs):
    """Run ``tools/{name}`` to completion."""
    return subprocess.run([sys.executable, f'{REPO}/tools/{name}', *map(
        str, args)], cwd=REPO, env=env(), capture_output=True, text=True,
        timeout=kwargs.pop('timeout', 300), **kwargs)


def tool_process(name, *args, log):
    """Start ``tools/{name}``, its stdout and stderr going to ``log`` (a
    file, not a pipe: a chatty child cannot block on a full pipe)."""
    with open(log, 'w') as f:
        return subprocess.Popen(
            [sys.executable, f'{REPO}/tools/{name}', *map(str, args)],
            cwd=REPO, env=env(), stdout=f, stderr=subprocess.STDOUT)


def finish(proc, log, timeout=300):
    """Wait for ``proc``; return its return code and output."""
    proc.wait(timeout=timeout)
    with open(log) as f:
        return proc.returncode, f.read()
