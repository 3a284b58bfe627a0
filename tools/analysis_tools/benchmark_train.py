"""Time SimVTP training steps on synthetic inputs: optimised vs reference flow.

Builds the model of CONFIG (on CUDA when available, else CPU), feeds random
inputs of the config's shapes (clip ``(B, 3, T, H, W)`` from the backbone's
``num_frames`` / ``img_size``; a tube mask at the config's ``TubeMasking``
ratio; captions of the ``TokenizeText`` ``max_length`` with some padding;
MLM labels at the ``TextMasking`` ratio) and times forward + backward +
AdamW step after warm-up, for one or several *modes* of the same model:

``baseline``
    the reference's computation flow: ``ReferenceFlowSimVTP`` (the whole
    clip cube-embedded for each pass that reads video, four encoder passes
    with VTM re-encoding the positives, negatives drawn one by one in a
    Python loop) with hand-written attention (``attn_impl='math'``), FP32,
    plain ``torch.optim.AdamW``.
``current``
    the config as it is (``SimVTP``: the visible tubes embedded once for
    every pass, VTM reusing the joint pass's positives, vectorised
    negatives), plain AdamW, ``--amp`` precision.
``optimised``
    ``current`` plus the speed options of :data:`FAST_OPTIONS` (same
    numerics up to rounding), fused AdamW where the device supports it,
    ``--amp`` precision, optionally ``--compile`` / ``--decoder-keep-ratio``
    (the latter changes the objective: the loss check then skips it).

By default ``baseline`` and ``optimised`` are built with the same weights,
checked to give the same losses and gradient norm on the same batch and the
same VTM negatives (dropout off; relative tolerance :data:`LOSS_RTOL`), then
timed interleaved step by step (alternating which goes first) on that batch.
The report: clips/s, ms per step (median, min, max), process CPU ms per
step, peak memory (CPU: the step's resident high-water mark; GPU:
``max_memory_allocated``), analytic FLOPs per clip by part
(``flops.py`` beside this script), achieved TFLOP/s and the fraction of the
device peak (CPU: a float32 (bf16 under ``--amp bf16``) matmul timed in the
same run with the same threads; GPU: the datasheet dense peak).

On a shared CPU, run with ``OMP_WAIT_POLICY=PASSIVE``: OpenMP threads that
spin at barriers while another process holds a core make multi-threaded
wall times swing by 5-10x; the ratio of interleaved modes stays usable.

Examples::

    python tools/analysis_tools/benchmark_train.py \\
        configs/simvtp/pretrain_synthetic.py --threads 2
    python tools/analysis_tools/benchmark_train.py \\
        configs/simvtp/pretrain_vitb.py --arch small --batch 8 \\
        --cfg-options model.backbone.num_frames=8 model.backbone.img_size=112
"""
import argparse
import contextlib
import copy
import ctypes
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from typing import Dict, List, Optional

import torch

MODES = ('baseline', 'current', 'optimised')

#: backbone options the optimised mode adds to the config (numerics
#: unchanged up to rounding): skip text padding in the encoder passes
#: (pooling='mean' only); attention 'auto' (SDPA, or the hand-written
#: matmuls for bf16/fp16 on CPU, faster there; also for the decoders)
FAST_OPTIONS = dict(skip_padding=True, attn_impl='auto')

#: relative tolerance of the optimised-vs-baseline loss check, by precision
#: (bf16 autocast measured within 1e-3 on the synthetic and ViT-S settings)
LOSS_RTOL = dict(none=1e-4, bf16=1e-2, fp16=1e-2)

#: dense peak TFLOP/s per GPU (first matching name fragment wins):
#: (bf16/fp16 tensor cores, fp32 without tensor cores); datasheet values
GPU_PEAKS = (
    ('H100 PCIe', (756.0, 51.2)),
    ('H100 NVL', (835.0, 60.0)),
    ('H100', (989.4, 66.9)),     # SXM5
    ('H200', (989.4, 66.9)),     # ~790 bf16 measured (8192^3 matmul)
    ('GH200', (989.4, 66.9)),
    ('A100', (312.0, 19.5)),
    ('L40S', (362.1, 91.6)),
    ('A10', (125.0, 31.2)),
    ('V100', (125.0, 15.7)),
    ('RTX 4090', (165.2, 82.6)),
)


# ---------------------------------------------------------------- arguments
def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Benchmark SimVTP training steps (optimised vs the '
        "reference's flow) on synthetic inputs")
    parser.add_argument('config', help='model/data config file')
    parser.add_argument('--steps', type=int, default=10,
                        help='timed steps per mode')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed steps per mode first')
    parser.add_argument('--batch', type=int, default=None,
                        help='clips per step (default: the config\'s '
                        'train_dataloader.batch_size)')
    parser.add_argument('--amp', choices=('bf16', 'fp16', 'none'),
                        default='none', help='autocast precision of the '
                        'current/optimised modes (the baseline is FP32)')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--baseline', action='store_true',
                       help='run the baseline mode only')
    group.add_argument('--optimised', '--optimized', action='store_true',
                       help='run the optimised mode only')
    group.add_argument('--modes', default=None,
                       help=f'comma-separated subset of {MODES} '
                       '(default: baseline,optimised)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch intra-op threads (default: torch\'s)')
    parser.add_argument('--arch', default=None,
                        help='backbone preset (tiny/small/base/large); the '
                        'video decoder becomes width D/2, D/128 heads')
    parser.add_argument('--decoder-keep-ratio', type=float, default=None,
                        help='optimised mode: decode only this fraction of '
                        'the hidden tubes (changes the objective)')
    parser.add_argument('--compile', nargs='?', const='model', default=None,
                        choices=('model', 'blocks'),
                        help='optimised mode: torch.compile the whole model '
                        '(default) or each transformer block (dynamic '
                        'shapes)')
    parser.add_argument('--compile-backend', default='inductor',
                        help="torch.compile backend ('eager' traces with "
                        'dynamo but generates no code: a quick check of '
                        'the compile path on machines without a compiler)')
    parser.add_argument('--plain-adamw', action='store_true',
                        help='optimised mode: unfused AdamW')
    parser.add_argument('--with-cp', action='store_true',
                        help='gradient checkpointing in every mode')
    parser.add_argument('--no-fast-options', action='store_true',
                        help='optimised mode without FAST_OPTIONS')
    parser.add_argument('--fast-options', nargs='+', action=DictAction,
                        default={}, metavar='KEY=VALUE',
                        help='override FAST_OPTIONS of the optimised mode, '
                        'e.g. skip_padding=False attn_impl=sdpa')
    parser.add_argument('--no-check', action='store_true',
                        help='skip the loss-agreement check')
    parser.add_argument('--sequential', action='store_true',
                        help='run the modes one after the other instead of '
                        'interleaving their steps')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default=None,
                        help='cuda or cpu (default: cuda when available)')
    parser.add_argument('--profile', default=None, metavar='DIR',
                        help='after timing, profile one step per mode with '
                        'torch.profiler: print the top ops, write a Chrome '
                        'trace per mode into DIR')
    parser.add_argument('--peak-size', type=int, default=None,
                        help='side of the timed square matmul of the '
                        'measured peak (default 2048 on CPU, 8192 on GPU)')
    parser.add_argument('--peak-tflops', type=float, default=None,
                        help='use this TFLOP/s as the peak of the '
                        'current/optimised precision instead of measuring '
                        '(e.g. 790 for an H200 in bf16)')
    parser.add_argument('--json', default=None, metavar='FILE',
                        help='also write the results as JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, xxx=yyy')
    args = parser.parse_args(argv)
    if args.baseline:
        args.mode_list = ['baseline']
    elif args.optimised:
        args.mode_list = ['optimised']
    elif args.modes:
        args.mode_list = [m.strip() for m in args.modes.split(',') if m]
        bad = [m for m in args.mode_list if m not in MODES]
        if bad or not args.mode_list:
            parser.error(f'--modes: unknown {bad}; choose from {MODES}')
    else:
        args.mode_list = ['baseline', 'optimised']
    if args.steps < 1 or args.warmup < 0:
        parser.error('--steps must be >= 1 and --warmup >= 0')
    return args


# ------------------------------------------------------------------- config
def _find_transform(node, name: str) -> Optional[dict]:
    """First dict with ``type == name`` (or ending ``.name``) under node."""
    if isinstance(node, dict):
        kind = node.get('type')
        if isinstance(kind, str) and kind.split('.')[-1] == name:
            return node
        for value in node.values():
            found = _find_transform(value, name)
            if found is not None:
                return found
    elif isinstance(node, (list, tuple)):
        for value in node:
            found = _find_transform(value, name)
            if found is not None:
                return found
    return None


def load_config(args):
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.arch:
        from simvtp.models.backbones import UnifiedViT
        cfg.model.backbone.arch = args.arch
        dims = UnifiedViT._parse_arch(args.arch)['embed_dims']
        for key in ('video_decoder', 'shared_decoder'):
            dec = cfg.model.get(key)
            if dec:
                dec['embed_dims'] = dims // 2
                dec['num_heads'] = max(1, dims // 128)
    return cfg


def data_settings(cfg) -> dict:
    """Shapes and masking ratios of the synthetic batch."""
    loader = cfg.get('train_dataloader', {})
    tube = _find_transform(loader, 'TubeMasking') or {}
    tok = _find_transform(loader, 'TokenizeText') or {}
    txt = _find_transform(loader, 'TextMasking') or {}
    return dict(
        video_mask_ratio=float(tube.get('mask_ratio', 0.9)),
        text_max_len=int(tok.get('max_length', 32)),
        text_mask_ratio=float(txt.get('mask_ratio', 0.75)),
        text_strategy=txt.get('strategy', 'bert'),
        batch_size=int(loader.get('batch_size', 8)))


def mode_model_cfg(cfg, mode: str, args) -> dict:
    """The model config of one mode."""
    model = copy.deepcopy(cfg.model.to_dict() if hasattr(cfg.model, 'to_dict')
                          else dict(cfg.model))
    if args.with_cp:
        model['backbone']['with_cp'] = True
    decoders = [model[k] for k in ('video_decoder', 'text_decoder',
                                   'shared_decoder') if model.get(k)]
    if mode == 'baseline':
        model['type'] = 'ReferenceFlowSimVTP'
        model['backbone'].update(attn_impl='math', skip_padding=False)
        for dec in decoders:
            dec['attn_impl'] = 'math'
        model['decoder_keep_ratio'] = 1.0
    elif mode == 'optimised':
        if not args.no_fast_options:
            fast = dict(FAST_OPTIONS, **args.fast_options)
            if model.get('pooling', 'mean') != 'mean':
                fast['skip_padding'] = False  # it would skip read outputs
            model['backbone'].update(fast)
            for dec in decoders:
                dec['attn_impl'] = fast['attn_impl']
        if args.decoder_keep_ratio is not None:
            model['decoder_keep_ratio'] = args.decoder_keep_ratio
    return model


def model_options(model) -> dict:
    """What differs between the modes, as built."""
    return dict(
        model=type(model).__name__,
        attn_impl=model.backbone.attn_impl,
        skip_padding=model.backbone.skip_padding,
        decoder_keep_ratio=model.decoder_keep_ratio,
        with_cp=model.backbone.with_cp)


# ------------------------------------------------------------------- inputs
def synthetic_batch(model, settings: dict, batch: int, seed: int,
                    device) -> dict:
    """Preprocessed ``inputs`` of a random batch shaped like the config's."""
    bb = model.backbone
    g = torch.Generator().manual_seed(seed)
    frames, (height, width) = bb.num_frames, bb.img_size
    gt, gh, gw = bb.grid_size
    cells = gh * gw
    hidden = int(settings['video_mask_ratio'] * cells)
    vocab = bb.text_embeddings.word_embeddings.num_embeddings
    max_len = min(settings['text_max_len'], bb.max_text_len)
    if vocab >= 30522:  # BERT: [CLS]=101 [SEP]=102 [MASK]=103
        cls_id, sep_id, mask_id, first_word = 101, 102, 103, 999
    else:
        cls_id, sep_id, mask_id, first_word = 2, 3, 4, 5
    first_word = min(first_word, vocab - 1)
    samples = []
    for i in range(batch):
        spatial = torch.zeros(cells, dtype=torch.bool)
        spatial[torch.randperm(cells, generator=g)[:hidden]] = True
        # the first caption is full length, so the batch pads to max_length
        length = max_len if i == 0 else int(torch.randint(
            max(3, max_len // 2), max_len + 1, (1, ), generator=g))
        ids = torch.randint(first_word, vocab, (length, ), generator=g)
        ids[0], ids[-1] = cls_id, sep_id
        words = torch.arange(1, length - 1)
        k = max(1, int(round(settings['text_mask_ratio'] * len(words))))
        chosen = words[torch.randperm(len(words), generator=g)[:k]]
        labels = torch.full((length, ), -100, dtype=torch.long)
        labels[chosen] = ids[chosen]
        masked = ids.clone()
        if settings['text_strategy'] == 'mae':
            masked[chosen] = mask_id
        else:  # BERT 80/10/10
            u = torch.rand(k, generator=g)
            rand_ids = torch.randint(first_word, vocab, (k, ), generator=g)
            masked[chosen] = torch.where(
                u < 0.8, torch.full_like(rand_ids, mask_id),
                torch.where(u < 0.9, rand_ids, ids[chosen]))
        samples.append(dict(
            video=torch.randint(0, 256, (3, frames, height, width),
                                dtype=torch.uint8, generator=g),
            video_mask=spatial.repeat(gt),
            input_ids=masked, input_ids_unmasked=ids,
            attention_mask=torch.ones(length, dtype=torch.long),
            mlm_labels=labels))
    data = model.data_preprocessor(dict(inputs=samples), True)
    return {k: v.to(device) if torch.is_tensor(v) else v
            for k, v in data['inputs'].items()}


# ------------------------------------------------------------ measurements
def _libc():
    try:
        return ctypes.CDLL('libc.so.6')
    except OSError:
        return None


class CpuMemory:
    """Peak resident memory of this process on Linux.

    Before a measured step it returns freed heap memory to the OS
    (``malloc_trim``) and resets the kernel's high-water mark
    (``/proc/self/clear_refs``), so ``VmHWM`` afterwards is the peak of that
    step. Falls back to ``getrusage``'s process-lifetime peak.
    """

    def __init__(self):
        self.libc = _libc()
        self.resettable = False
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
            self.resettable = self._status('VmHWM') is not None
        except OSError:
            pass

    @staticmethod
    def _status(key: str) -> Optional[int]:
        try:
            with open('/proc/self/status') as f:
                for line in f:
                    if line.startswith(key + ':'):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    def reset(self) -> int:
        """Trim, reset the peak; returns the current RSS in bytes."""
        if self.libc is not None:
            self.libc.malloc_trim(0)
        if self.resettable:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
        return self._status('VmRSS') or 0

    def peak(self) -> int:
        if self.resettable:
            return self._status('VmHWM') or 0
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    @property
    def kind(self) -> str:
        return ('peak RSS of the step (VmHWM, reset per step)'
                if self.resettable else 'process peak RSS (getrusage)')


def cpu_matmul_peak(dtype: torch.dtype, size: int = 2048,
                    repeats: int = 5) -> float:
    """Best FLOP/s of a ``size``-square matmul at the current threads."""
    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    torch.mm(a, b)  # warm-up
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best


def gpu_matmul_peak(device: torch.device, dtype: torch.dtype,
                    size: int = 8192, repeats: int = 10) -> float:
    """Mean FLOP/s of a ``size``-square matmul on a GPU (random data, after
    3 warm-ups; the way the H200's 790 TFLOP/s bf16 was measured)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        torch.mm(a, b)
    torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    torch.cuda.synchronize(device)
    elapsed = (time.perf_counter() - start) / repeats
    del a, b
    torch.cuda.empty_cache()
    return 2 * size ** 3 / elapsed


def gpu_peak(name: str, amp: str) -> Optional[float]:
    for key, (half, single) in GPU_PEAKS:
        if key.lower() in name.lower():
            return (half if amp in ('bf16', 'fp16') else single) * 1e12
    return None


def device_peak(device: torch.device, amp: str, size: Optional[int] = None
                ) -> tuple:
    """``(FLOP/s, description)`` of the device at this precision: a timed
    square matmul (GPU: the MFU denominator; its datasheet figure is
    reported beside it by :func:`summarise`)."""
    dtype = dict(bf16=torch.bfloat16, fp16=torch.float16).get(
        amp, torch.float32)
    if device.type == 'cuda':
        size = size or 8192
        peak = gpu_matmul_peak(device, dtype, size)
        return peak, (f'measured {size}^3 matmul at each precision (fp32 '
                      f'without TF32: '
                      f'allow_tf32={torch.backends.cuda.matmul.allow_tf32})')
    size = size or 2048
    peak = cpu_matmul_peak(dtype, size)
    return peak, (f'measured {size}^3 matmul at each precision, '
                  f'{torch.get_num_threads()} threads')


@contextlib.contextmanager
def quiet_mmengine():
    """Silence mmengine's per-parameter init log."""
    import logging
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def cpu_name() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'cpu'


# ---------------------------------------------------------------- stepping
def build_optimizer(model, cfg, device: torch.device, fused: bool):
    """AdamW with the config's lr/betas/weight decay; no decay on 1-D
    parameters and mask tokens. ``fused`` where torch supports it."""
    opt_cfg = {}
    wrapper = cfg.get('optim_wrapper', {})
    if isinstance(wrapper, dict):
        opt_cfg = dict(wrapper.get('optimizer', {}))
    lr = float(opt_cfg.get('lr', 1e-4))
    betas = tuple(opt_cfg.get('betas', (0.9, 0.95)))
    wd = float(opt_cfg.get('weight_decay', 0.05))
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 or 'mask_token' in name else decay).append(p)
    groups = [dict(params=decay, weight_decay=wd),
              dict(params=no_decay, weight_decay=0.0)]
    if fused:
        try:
            return torch.optim.AdamW(groups, lr=lr, betas=betas,
                                     fused=True), 'AdamW(fused=True)'
        except (RuntimeError, TypeError, ValueError):
            pass
    return torch.optim.AdamW(groups, lr=lr, betas=betas), 'AdamW'


def autocast(device: torch.device, amp: str):
    if amp == 'none':
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if amp == 'bf16' else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def total_loss(losses: Dict[str, torch.Tensor]) -> torch.Tensor:
    return sum(v for k, v in losses.items() if k.startswith('loss'))


class Runner:
    """One mode: a model, its optimizer, precision and timings."""

    def __init__(self, name, model, optimizer, opt_name, amp, device,
                 forward=None):
        self.name = name
        self.model = model
        self.optimizer = optimizer
        self.opt_name = opt_name
        self.amp = amp
        self.device = device
        self.forward = model if forward is None else forward
        self.scaler = None
        if amp == 'fp16' and device.type == 'cuda':
            self.scaler = torch.amp.GradScaler('cuda')
        self.times: List[float] = []
        self.cpu_times: List[float] = []
        self.peaks: List[int] = []
        self.deltas: List[int] = []
        self.last_losses: Dict[str, float] = {}

    def step(self, inputs: dict) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self.device, self.amp):
            losses = self.forward(inputs, None, mode='loss')
        loss = total_loss(losses)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        self.last_losses = {k: float(v.detach())
                            for k, v in losses.items()}

    def timed_step(self, inputs: dict, memory: Optional[CpuMemory]) -> None:
        cuda = self.device.type == 'cuda'
        if cuda:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            before = torch.cuda.memory_allocated(self.device)
        else:
            before = memory.reset()
        start, cpu_start = time.perf_counter(), time.process_time()
        self.step(inputs)
        if cuda:
            torch.cuda.synchronize(self.device)
        self.times.append(time.perf_counter() - start)
        self.cpu_times.append(time.process_time() - cpu_start)
        peak = (torch.cuda.max_memory_allocated(self.device) if cuda
                else memory.peak())
        self.peaks.append(peak)
        self.deltas.append(max(0, peak - before))


# ------------------------------------------------------------- loss check
@contextlib.contextmanager
def fixed_negatives(model, negatives: torch.Tensor):
    """Make the model's negative sampling (the head's, or the reference
    flow's loop) return ``negatives``."""
    head = getattr(model, 'vtm_head', None)
    if head is None:
        yield
        return
    fixed = lambda *a, **k: negatives.clone()  # noqa: E731
    head.sample_negatives = fixed
    model.sample_negatives_loop = fixed
    try:
        yield
    finally:
        del head.sample_negatives  # back to the class methods
        del model.sample_negatives_loop


def _grad_norm(model) -> float:
    norms = [p.grad.detach().float().norm() for p in model.parameters()
             if p.grad is not None]
    return float(torch.stack(norms).norm()) if norms else 0.0


def check_losses(runners: Dict[str, 'Runner'], inputs: dict, seed: int,
                 amp: str) -> dict:
    """Losses and gradient norm of baseline vs optimised on one batch with
    the same negatives, dropout off; relative differences."""
    ref, opt = runners['baseline'], runners['optimised']
    batch = inputs['video'].shape[0]
    gen = torch.Generator().manual_seed(seed)
    negatives = (torch.arange(batch) + torch.randint(
        1, batch, (batch, ), generator=gen)) % batch
    results = {}
    for key, runner in (('baseline', ref), ('optimised', opt)):
        model = runner.model
        model.eval()
        model.zero_grad(set_to_none=True)
        torch.manual_seed(seed)  # e.g. the decoder-masking subset
        with fixed_negatives(model, negatives.to(runner.device)), \
                autocast(runner.device, runner.amp):
            losses = runner.forward(inputs, None, mode='loss')
        total_loss(losses).backward()
        results[key] = dict({k: float(v.detach())
                             for k, v in losses.items()
                             if k.startswith('loss')},
                            grad_norm=_grad_norm(model))
        model.zero_grad(set_to_none=True)
        model.train()
    rtol = LOSS_RTOL[amp]
    diffs = {}
    for k in results['baseline']:
        a, b = results['optimised'].get(k), results['baseline'][k]
        if a is not None:
            diffs[k] = abs(a - b) / max(abs(b), 1e-12)
    comparable = opt.model.decoder_keep_ratio >= 1
    ok = all(v <= rtol for v in diffs.values()) if comparable else None
    return dict(baseline=results['baseline'], optimised=results['optimised'],
                rel_diff=diffs, rtol=rtol, ok=ok, comparable=comparable)


# ------------------------------------------------------------------ report
def _fmt_flops(x: float) -> str:
    return f'{x / 1e9:.3f}'


def _mib(x: float) -> str:
    return f'{x / 2**20:.0f}'


def summarise(runner: Runner, flops: dict, batch: int, peak: Optional[float],
              datasheet: Optional[float] = None) -> dict:
    """One mode's figures; ``frac_peak`` is the MFU against ``peak``,
    ``frac_datasheet`` against ``datasheet`` (GPU only)."""
    times = runner.times
    med = statistics.median(times)
    clips = batch / med
    achieved = flops['total'] * clips
    return dict(
        mode=runner.name, clips_per_s=clips, ms_median=med * 1e3,
        cpu_ms_median=statistics.median(runner.cpu_times) * 1e3,
        ms_min=min(times) * 1e3, ms_max=max(times) * 1e3,
        peak_mem_bytes=max(runner.peaks), step_mem_bytes=max(runner.deltas),
        step_mem_per_clip_bytes=max(runner.deltas) / batch,
        flops_per_clip=flops, tflops=achieved / 1e12,
        frac_peak=(achieved / peak) if peak else None,
        frac_datasheet=(achieved / datasheet) if datasheet else None,
        optimizer=runner.opt_name, amp=runner.amp,
        options=model_options(runner.model), last_losses=runner.last_losses)


def print_report(results: List[dict], info: dict, check: Optional[dict],
                 out=None) -> None:
    out = sys.stdout if out is None else out
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p('')
    p(f"== SimVTP training-step benchmark: {info['config']}")
    p(f"device: {info['device']}  threads: {info['threads']}  "
      f"batch: {info['batch']}  steps: {info['steps']} (+{info['warmup']} "
      f"warm-up)  order: {info['order']}  torch {info['torch']}")
    p(f"shapes per clip: {info['shapes_line']}")
    p(f"peak: {info['peak_desc']}: "
      + ', '.join(f'{k} {v / 1e12:.3f} TFLOP/s'
                  for k, v in info['peaks'].items() if v))
    p(f"memory: {info['memory_kind']}")
    if info.get('load') and info['load'][0] is not None:
        p(f"1-min load average before / after timing: {info['load'][0]:.2f}"
          f" / {info['load'][1]:.2f} (other processes skew wall times)")
    for r in results:
        p(f"-- {r['mode']}: {r['optimizer']}, amp={r['amp']}, "
          + ', '.join(f'{k}={v}' for k, v in r['options'].items()))
    p('')
    p('analytic GFLOP per clip (forward + backward):')
    names = list(results[0]['flops_per_clip'])
    head = f"{'part':<20}" + ''.join(f"{r['mode']:>12}" for r in results)
    p(head)
    for n in names:
        p(f'{n:<20}' + ''.join(
            f"{_fmt_flops(r['flops_per_clip'][n]):>12}" for r in results))
    p('')
    base = next((r for r in results if r['mode'] == 'baseline'), None)
    cols = ('mode', 'clips/s', 'ms/step med', 'min', 'max', 'CPU ms',
            'peak mem MiB', 'step mem MiB', 'MiB/clip', 'TFLOP/s',
            'of peak', 'vs baseline')
    widths = (10, 9, 12, 8, 8, 9, 13, 13, 9, 9, 8, 12)
    p(''.join(f'{c:>{w}}' for c, w in zip(cols, widths)))
    for r in results:
        ratio = (f"{r['clips_per_s'] / base['clips_per_s']:.2f}x"
                 if base is not None else '-')
        frac = (f"{100 * r['frac_peak']:.1f}%" if r['frac_peak'] is not None
                else '-')
        row = (r['mode'], f"{r['clips_per_s']:.2f}", f"{r['ms_median']:.1f}",
               f"{r['ms_min']:.1f}", f"{r['ms_max']:.1f}",
               f"{r['cpu_ms_median']:.0f}", _mib(r['peak_mem_bytes']),
               _mib(r['step_mem_bytes']),
               f"{r['step_mem_per_clip_bytes'] / 2**20:.1f}",
               f"{r['tflops']:.4f}", frac, ratio)
        p(''.join(f'{c:>{w}}' for c, w in zip(row, widths)))
    if any(r.get('frac_datasheet') for r in results):
        p('of the datasheet dense peak: ' + ', '.join(
            f"{r['mode']} {100 * r['frac_datasheet']:.1f}%" for r in results
            if r.get('frac_datasheet')))
    if check is not None:
        p('')
        verdict = ('PASS' if check['ok'] else 'FAIL') \
            if check['comparable'] else 'NOT COMPARABLE (decoder masking)'
        p(f"loss check (same inputs and negatives, dropout off, rtol "
          f"{check['rtol']:g}): {verdict}")
        for k, d in check['rel_diff'].items():
            p(f"  {k:<12} baseline {check['baseline'][k]:.6f}  optimised "
              f"{check['optimised'][k]:.6f}  rel diff {d:.2e}")
    out.flush()


# -------------------------------------------------------------------- main
def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)


def _run(args) -> dict:
    import simvtp  # noqa: F401  (registers modules, applies compat fixes)
    from mmengine.registry import init_default_scope
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from flops import shapes_from_model, simvtp_step_flops
    from simvtp.registry import MODELS

    device = torch.device(args.device or (
        'cuda' if torch.cuda.is_available() else 'cpu'))
    cfg = load_config(args)
    settings = data_settings(cfg)
    batch = args.batch or settings['batch_size']
    init_default_scope('simvtp')

    runners: Dict[str, Runner] = {}
    state = None
    for mode in args.mode_list:
        torch.manual_seed(args.seed)
        model = MODELS.build(mode_model_cfg(cfg, mode, args))
        with quiet_mmengine():
            model.init_weights()
        if state is None:
            state = copy.deepcopy(model.state_dict())
        else:
            model.load_state_dict(state)
        model.to(device).train()
        amp = 'none' if mode == 'baseline' else args.amp
        optimizer, opt_name = build_optimizer(
            model, cfg, device,
            fused=(mode == 'optimised' and not args.plain_adamw))
        forward = None
        if mode == 'optimised' and args.compile == 'model':
            forward = torch.compile(model, backend=args.compile_backend)
        elif mode == 'optimised' and args.compile == 'blocks':
            from simvtp.models.layers.transformer import Block
            for m in model.modules():
                if isinstance(m, Block):  # (the packed path stays eager)
                    m.forward = torch.compile(
                        m.forward, dynamic=True,
                        backend=args.compile_backend)
        runners[mode] = Runner(mode, model, optimizer, opt_name, amp, device,
                               forward)

    first = runners[args.mode_list[0]].model
    inputs = synthetic_batch(first, settings, batch, args.seed, device)

    check = None
    if not args.no_check and {'baseline', 'optimised'} <= set(runners):
        check = check_losses(runners, inputs, args.seed, args.amp)

    early_peaks = {}
    if device.type == 'cpu':
        for amp in {r.amp for r in runners.values()} - (
                {'bf16', 'fp16'} if args.peak_tflops else set()):
            early_peaks[amp] = device_peak(device, amp, args.peak_size)[0]
    memory = CpuMemory() if device.type == 'cpu' else None
    load_before = os.getloadavg()[0] if hasattr(os, 'getloadavg') else None
    names = list(runners)
    total = args.warmup + args.steps
    if args.sequential:
        for name in names:
            for i in range(total):
                r = runners[name]
                r.timed_step(inputs, memory) if i >= args.warmup \
                    else r.step(inputs)
        order = 'sequential'
    else:
        for i in range(total):
            # alternate the order so no mode always runs first
            for name in (names if i % 2 == 0 else names[::-1]):
                r = runners[name]
                if i >= args.warmup:
                    r.timed_step(inputs, memory)
                else:
                    r.step(inputs)
        order = 'interleaved'

    peaks = {}
    peak_desc = ''
    for amp in sorted({r.amp for r in runners.values()}):
        # best of a measurement before and one after the timing: a busy
        # machine can only make a measured CPU peak lower
        if args.peak_tflops and amp != 'none':
            peaks[amp] = args.peak_tflops * 1e12
            continue
        peaks[amp], peak_desc = device_peak(device, amp, args.peak_size)
        if device.type == 'cpu':
            peaks[amp] = max(peaks[amp], early_peaks[amp])
    if args.peak_tflops:
        peak_desc += f' ({args.peak_tflops:g} TFLOP/s given for autocast)'
    gpu_name = (torch.cuda.get_device_name(device) if device.type == 'cuda'
                else None)
    results = []
    for name, r in runners.items():
        shapes = shapes_from_model(r.model, inputs)
        flops = simvtp_step_flops(
            shapes, reference_flow=type(r.model).__name__ ==
            'ReferenceFlowSimVTP',
            skip_text_padding=r.model.backbone.skip_padding)
        results.append(summarise(
            r, flops, batch, peaks[r.amp],
            gpu_peak(gpu_name, r.amp) if gpu_name else None))
    s = shapes_from_model(first, inputs)
    info = dict(
        config=args.config, device=(torch.cuda.get_device_name(device)
                                    if device.type == 'cuda' else
                                    f'cpu ({cpu_name()})'),
        threads=torch.get_num_threads(), batch=batch, steps=args.steps,
        warmup=args.warmup, order=order, torch=torch.__version__,
        shapes_line=(f'N={s.num_tubes} tubes, N_vis={s.num_visible}, L='
                     f'{s.text_len} (mean {s.text_tokens:.1f} real), masked '
                     f'words={s.num_masked_words:.1f}, '
                     f'D={s.embed_dims} x {s.depth} layers, decoder '
                     f'{s.dec_dims} x {s.dec_depth}, vocab {s.vocab_size}'),
        peak_desc=peak_desc,
        peaks={('fp32' if k == 'none' else k): v for k, v in peaks.items()},
        memory_kind=(memory.kind if memory is not None
                     else 'torch.cuda.max_memory_allocated per step'),
        load=(load_before, os.getloadavg()[0] if load_before is not None
              else None))
    print_report(results, info, check)

    if args.profile:
        profile_steps(runners, inputs, args.profile)
    out = dict(info=info, results=results, check=check,
               shapes=s.as_dict())
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(out, f, indent=1, default=str)
    return out


def profile_steps(runners: Dict[str, Runner], inputs: dict,
                  folder: str) -> None:
    from torch.profiler import ProfilerActivity, profile
    os.makedirs(folder, exist_ok=True)
    acts = [ProfilerActivity.CPU]
    if torch.cuda.is_available():
        acts.append(ProfilerActivity.CUDA)
    for name, r in runners.items():
        with profile(activities=acts, record_shapes=False) as prof:
            r.step(inputs)
        prof.export_chrome_trace(os.path.join(folder, f'{name}.json'))
        print(f'\n== profile of one {name} step (top 30 by self CPU time)')
        print(prof.key_averages().table(sort_by='self_cpu_time_total',
                                        row_limit=30))


if __name__ == '__main__':
    main()
