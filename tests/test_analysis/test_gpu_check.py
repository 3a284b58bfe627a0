"""tools/analysis_tools/gpu_check.py: its stages at tiny size on the CPU,
its command lines for the GPU, time limits and the budget."""
import json
import sys

import pytest

from tests.tool_loader import import_tool


@pytest.fixture(scope='module')
def gc():
    return import_tool('analysis_tools', 'gpu_check')


def test_cpu_smoke_stages_write_one_json_and_a_table(gc, tmp_path, capsys):
    pytest.importorskip('av')  # the data stage writes its H.264 clips
    summary = gc.main(['--cpu-smoke', '--in-process', '--out', str(tmp_path),
                       '--stages', 'probe', 'vitb', 'data', 'vitl_cp'])
    assert {k: v['status'] for k, v in summary['stages'].items()} == dict(
        probe='ok', vitb='ok', data='ok', vitl_cp='ok')
    saved = json.loads((tmp_path / 'gpu_check.json').read_text())
    probe = saved['results']['probe']
    assert probe['device'] == 'cpu' and probe['measured_tflops']['bf16'] > 0
    vitb = saved['results']['vitb']
    assert [r['mode'] for r in vitb['results']] == ['baseline', 'optimised']
    assert vitb['results'][1]['amp'] == 'bf16' and vitb['check']['ok']
    assert saved['results']['vitl_cp']['results'][0]['options']['with_cp']
    derived = saved['derived']
    base, opt = vitb['results']
    assert derived['vitb_speedup'] == pytest.approx(
        opt['clips_per_s'] / base['clips_per_s'])
    assert derived['vitb_mfu'] == opt['frac_peak']
    ours = saved['results']['data']['workers']['native/2']['ours']
    assert derived['data_wait_share'] == pytest.approx(
        max(0, 1 - ours / opt['clips_per_s']))
    text = (tmp_path / 'gpu_check.txt').read_text()
    for field in ('vitb', 'baseline', 'optimised', 'vitl_cp', 'MiB/clip',
                  'data, 2 workers', 'vitb_speedup', 'data_wait_share'):
        assert field in text, field
    logs = (tmp_path / 'gpu_check_logs.txt').read_text()
    assert 'loss check' in logs and 'PASS' in logs


def test_gpu_command_lines(gc, tmp_path):
    args = gc.parse_args(['--out', str(tmp_path), '--peak-tflops', '790'])
    cmd = {name: gc.stage_command(name, args, 'x.json')
           for name, _, _ in gc.STAGES}
    assert cmd['vitb'][0].endswith('benchmark_train.py')
    for name in ('vitb', 'vitl_cp', 'vitl', 'vitb_compile'):
        c = cmd[name]
        assert c[c.index('--device') + 1] == 'cuda'
        assert c[c.index('--amp') + 1] == 'bf16'
        assert c[c.index('--peak-tflops') + 1] == '790'
        assert gc.VITB in c and '--cfg-options' not in c
    assert 'baseline,optimised' in cmd['vitb']
    assert cmd['vitl_cp'][-3:] == ['--arch', 'large', '--with-cp']
    assert '--with-cp' not in cmd['vitl'] and 'large' in cmd['vitl']
    assert cmd['vitb_compile'][-2:] == ['--compile', 'model']  # inductor
    data = cmd['data']
    assert data[data.index('--size') + 1] == '596x336'
    assert data[data.index('--workers') + 1] == '16'


def test_time_limit_and_budget(gc, tmp_path):
    with open(tmp_path / 'log.txt', 'w') as log:
        st = gc.run_child([sys.executable, '-c',
                           'import time; time.sleep(30)'], 1, log)
    assert st['timed_out'] and st['wall_s'] < 10
    assert 'timed_out=True' in (tmp_path / 'log.txt').read_text()
    summary = gc.main(['--out', str(tmp_path), '--budget', '0'])
    assert all(v['status'].startswith('skipped')
               for v in summary['stages'].values())
    assert len(summary['stages']) == len(gc.STAGES)
    assert (tmp_path / 'gpu_check.txt').read_text().count('skipped') == \
        len(gc.STAGES)
