"""The demo CLI and per-video feature extraction, end to end."""
import importlib.util
import os

import h5py
import numpy as np
import pytest
from PIL import Image

from simvtp.apis import FeatureFileError, encode_videos
from simvtp.visualization.reconstruction import text_block

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _load(relpath, name):
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(REPO, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_cli_writes_sheet_and_reuses_index(tiny_env, tmp_path,
                                                capsys):
    demo = _load('demo/text_video_search.py', 'text_video_search')
    folder = tmp_path / 'videos'
    folder.mkdir()
    for p in tiny_env['paths'][:4]:
        os.symlink(p, folder / os.path.basename(p))
    (folder / 'broken.mp4').write_text('not a video')
    out, index = tmp_path / 'sheet.png', tmp_path / 'index.npz'
    args = [str(folder), '--config', tiny_env['config'], '--checkpoint',
            tiny_env['checkpoint'], '--query', 'a red circle moves left',
            '--topk', '3', '--frames', '2', '--tile', '40', '--out',
            str(out), '--index', str(index), '--device', 'cpu',
            '--no-progress']
    assert demo.main(args) == 0
    printed = capsys.readouterr().out
    assert 'indexed 4 videos' in printed
    assert f'skipped {folder / "broken.mp4"}' in printed
    ranked = [line.split()[0] for line in printed.splitlines()
              if line.strip().endswith('.mp4') and line.split()[0].isdigit()]
    assert ranked == ['1', '2', '3']
    # 3 rows of 40 px tiles under a two-line title; label column + 2 tiles
    image = Image.open(out)
    width = 200 + 2 * 40
    title = text_block(['query: "a red circle moves left"',
                        'top 3 of 4 videos, cosine similarity'], width)
    assert image.size == (width, title.height + 3 * 40)
    assert image.format == 'PNG'
    # second run: the saved index is loaded, not rebuilt
    assert demo.main(args) == 0
    assert 'index: 4 videos from' in capsys.readouterr().out


def test_extract_per_video_features_resumable(tiny_env, tiny_model,
                                              tmp_path):
    tool = _load('tools/analysis_tools/extract_features.py',
                 'extract_features_tool')
    out = str(tmp_path / 'feats.h5')
    args = [tiny_env['config'], tiny_env['checkpoint'], tiny_env['ann'], out,
            '--per-video', '--layout', 'flat', '--device', 'cpu',
            '--no-progress', '--commit-every', '2']
    assert tool.main(args) == 0
    expected = encode_videos(tiny_model, tiny_env['paths'],
                             progress=False).numpy()
    with h5py.File(out, 'r') as f:
        assert sorted(f.keys()) == [f'clip{i}' for i in range(7)]
        assert int(f.attrs['stride']) == 0
        for i in range(7):
            np.testing.assert_allclose(f[f'clip{i}'][()], expected[i:i + 1],
                                       atol=1e-5)
    # a rerun finds every video done; a per-clip run into it is refused
    assert tool.main(args) == 0
    with pytest.raises(FeatureFileError, match=r'feats\.h5.*stride'):
        tool.main(args[:4] + ['--layout', 'flat', '--clip-len', '4',
                              '--device', 'cpu', '--no-progress'])


def test_search_page_logic_without_gradio(tiny_env, tiny_model, tmp_path):
    """The web page's query handler (gradio itself is not needed)."""
    from simvtp.apis import VideoTextSearcher
    page_module = _load('demo/search_page.py', 'search_page')
    searcher = VideoTextSearcher(tiny_model, progress=False)
    searcher.build_index(tiny_env['paths'][:3])
    page = page_module.SearchPage(searcher, str(tmp_path / 'gifs'), topk=2,
                                  preview_frames=4, preview_size=32)
    items, status = page('the dog runs left')
    assert status == 'top 2 of 3 videos for "the dog runs left"'
    hits = searcher.search('the dog runs left', topk=2)[0]
    assert [caption.split()[0] for _, caption in items] == ['#1', '#2']
    assert [caption.split()[-1] for _, caption in items] == [
        os.path.basename(h.video) for h in hits]
    gif = Image.open(items[0][0])
    assert gif.format == 'GIF' and gif.n_frames > 1  # it plays
    assert page('   ') == ([], 'type a query')
