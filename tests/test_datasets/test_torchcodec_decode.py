"""TorchCodecInit / TorchCodecDecode against decord on the same H.264 file,
and the decoder swap in pipelines (plain and MultiClipDecode)."""
import numpy as np
import pytest
from mmengine.registry import init_default_scope

from simvtp.datasets.transforms.torchcodec_decode import with_torchcodec
from simvtp.registry import TRANSFORMS


def _torchcodec_ready():
    try:
        from torchcodec.decoders import VideoDecoder  # noqa: F401
    except (ImportError, OSError, RuntimeError) as err:
        return str(err)
    return None


needs_torchcodec = pytest.mark.skipif(
    _torchcodec_ready() is not None,
    reason=f'torchcodec with FFmpeg libraries not usable here '
    f'(tools/install.sh --torchcodec): {_torchcodec_ready()}')


@pytest.fixture(scope='module')
def video(tmp_path_factory):
    pytest.importorskip('av')
    from simvtp.utils.video_encoding import write_h264
    path = str(tmp_path_factory.mktemp('tc') / 'v.mp4')
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:64]
    frames = []
    for t in range(50):  # a moving gradient with noise: frames differ
        img = np.stack([(xx + 3 * t) % 256, (2 * yy + t) % 256,
                        (xx + yy) % 256], -1) + rng.normal(0, 4, (48, 64, 3))
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    write_h264(path, frames, 25, gop=16, crf=18)
    return path


def run(steps, results):
    init_default_scope('simvtp')
    for step in steps:
        results = TRANSFORMS.build(step)(results)
    return results


@needs_torchcodec
def test_same_frames_and_metadata_as_decord(video):
    import decord
    inds = np.array([0, 5, 17, 17, 3, 49])  # unsorted, repeated, the last
    out = run([dict(type='TorchCodecInit'),
               dict(type='SampleFrames', clip_len=4, frame_interval=3,
                    num_clips=1, test_mode=True),
               dict(type='TorchCodecDecode')],
              dict(filename=video, start_index=0, modality='RGB'))
    vr = decord.VideoReader(video, num_threads=1)
    assert out['total_frames'] == len(vr) == 50
    assert out['avg_fps'] == pytest.approx(vr.get_avg_fps())
    assert out['video_reader'] is None
    assert len(out['imgs']) == 4 and out['img_shape'] == (48, 64)
    expected = vr.get_batch(out['frame_inds']).asnumpy()
    np.testing.assert_array_equal(np.stack(out['imgs']), expected)
    from simvtp.datasets.transforms.torchcodec_decode import \
        TorchCodecReader
    reader = TorchCodecReader(video)
    np.testing.assert_array_equal(reader.frames(inds),
                                  vr.get_batch(inds).asnumpy())
    assert reader.get_key_indices() == list(vr.get_key_indices())
    with pytest.raises(IndexError, match='50 frames'):
        reader.frames([50])


@needs_torchcodec
def test_bytes_and_multi_clip_pipeline(video):
    import decord
    with open(video, 'rb') as f:
        data = f.read()
    decord_pipe = [
        dict(type='DecordInit'),
        dict(type='MultiClipDecode', num_clips=3,
             sampler=dict(type='KeyframeSampleFrames', clip_len=4,
                          frame_interval=2, num_clips=1, max_lead=2),
             clip_pipeline=[dict(type='FormatShape', input_format='NCTHW'),
                            dict(type='PackVideoTextInputs',
                                 meta_keys=('frame_inds',))])]
    pipe = with_torchcodec(decord_pipe)
    assert [s['type'] for s in pipe] == ['TorchCodecInit',
                                         'MultiClipDecode']
    np.random.seed(0)
    out = run(pipe, dict(video_bytes=data, filename='unused.mp4',
                         sample_idx=4, start_index=0, modality='RGB'))
    vr = decord.VideoReader(video, num_threads=1)
    keys = set(vr.get_key_indices())
    for clip in out['clips']:
        inds = clip['data_samples'].metainfo['frame_inds']
        # keyframe sampling read torchcodec's keyframes
        assert any(0 <= inds[0] - k <= 2 for k in keys)
        own = vr.get_batch(inds).asnumpy().transpose(3, 0, 1, 2)
        np.testing.assert_array_equal(clip['inputs']['video'].numpy(), own)
        assert int(clip['inputs']['video_group']) == 4


def test_swap_maps_every_decord_step_and_refuses_efficient_mode():
    pipe = [dict(type='DecordInit', num_threads=2, io_backend='disk'),
            dict(type='SampleFrames', clip_len=4),
            dict(type='mmaction.DecordDecode'),
            dict(type='Resize', scale=(8, 8))]
    out = with_torchcodec(pipe, seek_mode='approximate')
    assert out == [dict(type='TorchCodecInit', num_threads=2,
                        seek_mode='approximate'),
                   dict(type='SampleFrames', clip_len=4),
                   dict(type='TorchCodecDecode'),
                   dict(type='Resize', scale=(8, 8))]
    assert pipe[0]['type'] == 'DecordInit'  # the input is not changed
    with pytest.raises(ValueError, match='efficient'):
        with_torchcodec([dict(type='DecordDecode', mode='efficient')])
    with pytest.raises(ValueError, match='seek_mode'):
        TRANSFORMS.build(dict(type='TorchCodecInit', seek_mode='fast'))


def test_missing_reader_is_named():
    init_default_scope('simvtp')
    step = TRANSFORMS.build(dict(type='TorchCodecDecode'))
    with pytest.raises(KeyError, match='TorchCodecInit'):
        step(dict(video_reader=None, frame_inds=np.arange(4)))
