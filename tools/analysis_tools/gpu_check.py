"""One GPU check: every speed figure of issue 17 in one run, one JSON, one
table (``gpu_check.sh`` beside this script installs the carried wheels and
calls it).

Stages, each a child process with its own time limit (a stage that fails
or runs out of time is recorded and the next one still runs), in order of
importance, all inside one overall ``--budget`` (default 450 s):

``probe``        device, versions, measured dense matmul peaks (the MFU
                 denominator; an H200 gives ~790 TFLOP/s in bf16)
``vitb``         ``benchmark_train.py`` ViT-B 16x224: ``baseline`` (the
                 reference flow, FP32) vs ``optimised`` (bf16 autocast),
                 same weights and batch, loss check, MFU, memory per clip
``data``         ``benchmark_data.py``: the real pre-training pipeline on
                 596x336 H.264 clips (carried or generated), 1 worker and
                 ``--workers`` DataLoader workers, one and K = 1, 2, 4
                 clips per decoded video; with ``vitb`` it gives the share
                 of a step spent waiting for data
``vitl_cp``      ViT-L (``--arch large``) optimised bf16 with gradient
                 checkpointing
``vitl``         the same without checkpointing (its cost)
``vitb_compile`` ViT-B optimised bf16 under ``torch.compile`` (compare
                 with ``vitb``'s eager optimised)

``--cpu-smoke`` runs every stage on the CPU at tiny sizes (the synthetic
config, one-layer encoder, ``torch.compile`` with the ``eager`` backend,
64x48 clips): it checks the script's paths, not speed.
``--in-process`` calls the stages' ``main`` functions in this process
without time limits (tests).

Outputs in ``--out``: ``gpu_check.json`` (all stages' results, their
status and the derived figures), ``gpu_check.txt`` (the table) and
``gpu_check_logs.txt`` (every stage's output).

Example (on the GPU machine, after ``gpu_check.sh`` set PYTHONPATH)::

    python3 tools/analysis_tools/gpu_check.py --out $OUT \\
        --clips-dir .gpu_wheels/clips
"""
import argparse
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))
VITB = osp.join(ROOT, 'configs', 'simvtp', 'pretrain_vitb.py')
SYNTHETIC = osp.join(ROOT, 'configs', 'simvtp', 'pretrain_synthetic.py')

#: (name, seconds allowed, seconds it needs at least to be worth starting)
STAGES = (('probe', 60, 10), ('vitb', 150, 40), ('data', 100, 30),
          ('vitl_cp', 70, 30), ('vitl', 60, 30), ('vitb_compile', 180, 60))

#: goals of issue 17 on the GPU
GOAL_SPEEDUP, GOAL_MFU = 3.0, 0.35

#: the generated clips (what ``fetch_gpu_wheels.sh`` makes and carries)
CLIPS = dict(videos=16, seconds=10, size='596x336')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default='work_dirs/gpu_check',
                   help='folder of the JSON, the table and the logs')
    p.add_argument('--budget', type=float, default=450,
                   help='seconds for all stages together')
    p.add_argument('--stages', nargs='+', default=[s[0] for s in STAGES],
                   choices=[s[0] for s in STAGES])
    p.add_argument('--batch', type=int, default=64,
                   help='clips per step of the ViT-B/L stages')
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--workers', type=int, default=16,
                   help='DataLoader workers of the data stage')
    p.add_argument('--clips-dir', default=None,
                   help='work dir holding the generated clips (made here '
                   'when missing; needs PyAV)')
    p.add_argument('--peak-tflops', type=float, default=None,
                   help='bf16 peak for MFU instead of the probe\'s '
                   'measurement (e.g. 790)')
    p.add_argument('--cpu-smoke', action='store_true',
                   help='every stage on the CPU at tiny sizes')
    p.add_argument('--in-process', action='store_true',
                   help='run the stages in this process, no time limits')
    p.add_argument('--probe', metavar='JSON', help=argparse.SUPPRESS)
    return p.parse_args(argv)


# ------------------------------------------------------------------ stages
def stage_command(name: str, args, json_path: str) -> List[str]:
    """``[script, *argv]`` of a stage (the script's path first)."""
    train = osp.join(HERE, 'benchmark_train.py')
    if name == 'probe':
        return [osp.abspath(__file__), '--probe', json_path] + (
            ['--cpu-smoke'] if args.cpu_smoke else [])
    if name == 'data':
        argv = [osp.join(HERE, 'benchmark_data.py'), '--json', json_path,
                '--variants', 'native', '--worker-variants', 'native',
                '--methods', 'raw', 'ours', '--clips-per-video', '1', '2',
                '4']
        if args.cpu_smoke:
            return argv + ['--config', SYNTHETIC, '--work-dir',
                           args.clips_dir or osp.join(args.out, 'clips'),
                           '--videos', '2', '--min-seconds', '2',
                           '--max-seconds', '2', '--size', '64x48',
                           '--samples', '2', '--workers', '2',
                           '--worker-samples', '4']
        return argv + ['--config', VITB, '--work-dir',
                       args.clips_dir or osp.join(args.out, 'clips'),
                       '--videos', str(CLIPS['videos']),
                       '--min-seconds', str(CLIPS['seconds']),
                       '--max-seconds', str(CLIPS['seconds']),
                       '--size', CLIPS['size'], '--samples', '24',
                       '--workers', str(args.workers),
                       '--worker-samples', str(32 * args.workers)]
    argv = [train, '--json', json_path, '--amp', 'bf16']
    if args.cpu_smoke:
        argv += [SYNTHETIC, '--device', 'cpu', '--batch', '2', '--steps',
                 '1', '--warmup', '0', '--threads', '1', '--peak-size',
                 '128', '--cfg-options', 'model.backbone.arch.num_layers=1',
                 # all hidden tubes decoded: the loss check stays comparable
                 'model.decoder_keep_ratio=1.0']
    else:
        argv += [VITB, '--device', 'cuda', '--batch', str(args.batch),
                 '--steps', str(args.steps), '--warmup', str(args.warmup)]
        if args.peak_tflops:
            argv += ['--peak-tflops', f'{args.peak_tflops:g}']
    if name == 'vitb':
        return argv + ['--modes', 'baseline,optimised']
    argv += ['--optimised']
    if name in ('vitl_cp', 'vitl') and not args.cpu_smoke:
        argv += ['--arch', 'large']
    if name == 'vitl_cp':
        argv += ['--with-cp']
    if name == 'vitb_compile':
        argv += ['--compile', 'model']
        if args.cpu_smoke:
            argv += ['--compile-backend', 'eager']
    return argv


def run_child(cmd: List[str], timeout: float, log) -> dict:
    """Run ``cmd`` with a time limit; its output goes to ``log``."""
    start = time.perf_counter()
    log.write(f'\n===== {" ".join(cmd)}\n')
    log.flush()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        rc = proc.wait(timeout=max(1.0, timeout))
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)  # the stage and its DataLoader workers
        rc, timed_out = proc.wait(), True
    wall = time.perf_counter() - start
    log.write(f'===== rc={rc} timed_out={timed_out} wall={wall:.1f}s\n')
    log.flush()
    return dict(rc=rc, timed_out=timed_out, wall_s=wall)


def run_in_process(cmd: List[str], log) -> dict:
    """The stage's ``main`` here (tests: no interpreter start per stage)."""
    import contextlib
    import importlib.util
    start = time.perf_counter()
    path, argv = cmd[0], cmd[1:]
    name = osp.splitext(osp.basename(path))[0]
    if name == 'gpu_check':
        main_fn = main
    else:
        spec = importlib.util.spec_from_file_location(f'_gc_{name}', path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        main_fn = module.main
    rc = 0
    with contextlib.redirect_stdout(log):
        try:
            main_fn(argv)
        except Exception as exc:  # recorded like a failed child
            log.write(f'{type(exc).__name__}: {exc}\n')
            rc = 1
    return dict(rc=rc, timed_out=False, wall_s=time.perf_counter() - start)


# ------------------------------------------------------------------- probe
def probe(json_path: str, cpu_smoke: bool) -> dict:
    """Device, versions and measured matmul peaks (bf16, fp32)."""
    import importlib.metadata as md

    import torch
    sys.path.insert(0, HERE)
    from benchmark_train import (cpu_matmul_peak, gpu_matmul_peak,
                                 gpu_peak)
    info = dict(python=platform.python_version(), torch=torch.__version__,
                cuda=torch.version.cuda, cpus=os.cpu_count(), packages={})
    for dist in ('mmengine', 'mmcv-lite', 'mmcv', 'mmaction2',
                 'transformers', 'tokenizers', 'huggingface-hub', 'decord',
                 'timm', 'numpy', 'torchcodec', 'av'):
        try:
            info['packages'][dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    peaks = {}
    if torch.cuda.is_available() and not cpu_smoke:
        dev = torch.device('cuda')
        info['device'] = torch.cuda.get_device_name(dev)
        info['memory_gib'] = torch.cuda.get_device_properties(
            dev).total_memory / 2**30
        for key, dtype in (('bf16', torch.bfloat16), ('fp32', torch.float32)):
            peaks[key] = gpu_matmul_peak(dev, dtype, 8192)
        info['datasheet_tflops'] = dict(
            bf16=(gpu_peak(info['device'], 'bf16') or 0) / 1e12,
            fp32=(gpu_peak(info['device'], 'none') or 0) / 1e12)
        try:
            info['nvidia_smi'] = subprocess.run(
                ['nvidia-smi', '--query-gpu=name,driver_version,memory.total,'
                 'clocks.max.sm', '--format=csv,noheader'],
                capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError) as exc:
            info['nvidia_smi'] = repr(exc)
    else:
        info['device'] = 'cpu'
        for key, dtype in (('bf16', torch.bfloat16), ('fp32', torch.float32)):
            peaks[key] = cpu_matmul_peak(dtype, 128 if cpu_smoke else 2048)
    info['measured_tflops'] = {k: v / 1e12 for k, v in peaks.items()}
    print(json.dumps(info, indent=1))
    with open(json_path, 'w') as f:
        json.dump(info, f, indent=1)
    return info


# ----------------------------------------------------------------- summary
def _mode(result: Optional[dict], mode: str) -> Optional[dict]:
    for r in (result or {}).get('results', []):
        if r['mode'] == mode:
            return r
    return None


def derive(results: Dict[str, dict]) -> dict:
    """Ratios, MFU and the data-wait share from the stages' results."""
    out = {}
    vitb = results.get('vitb')
    base, opt = _mode(vitb, 'baseline'), _mode(vitb, 'optimised')
    if base and opt:
        out['vitb_speedup'] = opt['clips_per_s'] / base['clips_per_s']
        out['vitb_speedup_goal_met'] = out['vitb_speedup'] >= GOAL_SPEEDUP
        out['loss_check_ok'] = (vitb.get('check') or {}).get('ok')
    if opt:
        out['vitb_mfu'] = opt['frac_peak']
        out['vitb_mfu_datasheet'] = opt.get('frac_datasheet')
        out['vitb_mfu_goal_met'] = (opt['frac_peak'] or 0) >= GOAL_MFU
    comp = _mode(results.get('vitb_compile'), 'optimised')
    if comp and opt:
        out['compile_speedup'] = comp['clips_per_s'] / opt['clips_per_s']
    cp, nocp = (_mode(results.get(k), 'optimised') for k in
                ('vitl_cp', 'vitl'))
    if cp and nocp:
        out['vitl_checkpointing_slowdown'] = \
            nocp['clips_per_s'] / cp['clips_per_s']
        out['vitl_checkpointing_memory_saving'] = (
            nocp['step_mem_per_clip_bytes'] / cp['step_mem_per_clip_bytes'])
    data = results.get('data')
    if data:
        loaders = next(iter(data.get('workers', {}).values()), {})
        if loaders.get('ours'):
            out['data_clips_per_s'] = loaders['ours']
            fastest = max([r['clips_per_s'] for r in (opt, comp) if r] or
                          [0])
            if fastest:
                # loader and step overlap: a step waits for what the loader
                # cannot make in its time
                out['data_wait_share'] = max(
                    0.0, 1 - loaders['ours'] / fastest)
    return out


def table(summary: dict) -> str:
    """The short text table."""
    lines = []
    info = summary['results'].get('probe') or {}
    lines.append(f"gpu_check: {info.get('device', '?')}, torch "
                 f"{info.get('torch', '?')}, measured peak "
                 + ', '.join(f'{k} {v:.4g}' for k, v in
                             info.get('measured_tflops', {}).items())
                 + ' TFLOP/s')
    lines.append(f"{'stage':<13}{'mode':<10}{'amp':<6}{'clips/s':>9}"
                 f"{'ms/step':>10}{'TFLOP/s':>10}{'MFU':>7}{'MFU ds':>8}"
                 f"{'MiB/clip':>10}{'peak GiB':>10}")
    for name in ('vitb', 'vitb_compile', 'vitl_cp', 'vitl'):
        res = summary['results'].get(name)
        for r in (res or {}).get('results', []):
            ds = r.get('frac_datasheet')
            lines.append(
                f"{name:<13}{r['mode']:<10}{r['amp']:<6}"
                f"{r['clips_per_s']:>9.1f}{r['ms_median']:>10.1f}"
                f"{r['tflops']:>10.4g}"
                f"{100 * (r['frac_peak'] or 0):>6.1f}%"
                + (f'{100 * ds:>7.1f}%' if ds else f"{'-':>8}")
                + f"{r['step_mem_per_clip_bytes'] / 2**20:>10.1f}"
                f"{r['peak_mem_bytes'] / 2**30:>10.2f}")
    data = summary['results'].get('data')
    if data:
        for variant, methods in data.get('per_worker', {}).items():
            lines.append('data, 1 worker: ' + ', '.join(
                f"{m} {v['clips_per_s']:.1f} clips/s" for m, v in
                methods.items()))
        for key, methods in data.get('workers', {}).items():
            lines.append(f'data, {key.split("/")[-1]} workers: ' + ', '.join(
                f'{m} {v:.1f} clips/s' for m, v in methods.items()))
    d = summary['derived']
    for key, value in d.items():
        lines.append(f'{key}: {value:.3f}' if isinstance(value, float)
                     else f'{key}: {value}')
    for name, st in summary['stages'].items():
        if st['status'] != 'ok':
            lines.append(f"stage {name}: {st['status']} after "
                         f"{st.get('wall_s', 0):.0f} s")
    return '\n'.join(lines)


# -------------------------------------------------------------------- main
def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.probe:
        return probe(args.probe, args.cpu_smoke)
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    summary = dict(args=vars(args), stages={}, results={})
    limits = {name: (limit, need) for name, limit, need in STAGES}
    tmp = tempfile.mkdtemp(prefix='gpu_check_')
    log_path = osp.join(args.out, 'gpu_check_logs.txt')
    with open(log_path, 'w') as log:
        for name in [s[0] for s in STAGES if s[0] in args.stages]:
            limit, need = limits[name]
            left = args.budget - (time.perf_counter() - start)
            if left < need and not args.in_process:
                summary['stages'][name] = dict(
                    status=f'skipped ({left:.0f} s of the budget left, '
                    f'needs {need})')
                continue
            json_path = osp.join(tmp, f'{name}.json')
            cmd = stage_command(name, args, json_path)
            if args.in_process:
                st = run_in_process(cmd, log)
            else:
                st = run_child([sys.executable] + cmd, min(limit, left), log)
            st['status'] = ('timed out' if st['timed_out'] else
                            'ok' if st['rc'] == 0 else f"failed (rc {st['rc']})")
            if osp.exists(json_path):
                with open(json_path) as f:
                    summary['results'][name] = json.load(f)
            elif st['status'] == 'ok':
                st['status'] = 'failed (no JSON written)'
            summary['stages'][name] = st
            print(f"[gpu_check] {name}: {st['status']} "
                  f"({st['wall_s']:.0f} s)", flush=True)
    summary['derived'] = derive(summary['results'])
    summary['wall_s'] = time.perf_counter() - start
    text = table(summary)
    with open(osp.join(args.out, 'gpu_check.json'), 'w') as f:
        json.dump(summary, f, indent=1, default=str)
    with open(osp.join(args.out, 'gpu_check.txt'), 'w') as f:
        f.write(text + '\n')
    print(text)
    return summary


if __name__ == '__main__':
    main()
