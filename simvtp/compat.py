"""Fixes for the known breakages of the pinned OpenMMLab stack, each in one place.

``simvtp/__init__.py`` calls :func:`apply_all` once, before anything imports
mmaction. Every fix is idempotent and only acts when its breakage is present,
so a user whose stack is already healthy sees no change. Nothing else of
mmengine's behaviour changes on ``import simvtp``:
:data:`PATCHED_ATTRIBUTES` lists every module attribute a fix replaces (a
test compares it with what an import really changes). Crash-safe
checkpointing is a hook (:class:`~simvtp.engine.hooks.AtomicCheckpointHook`)
and strict safe loading an explicit opt-in
(:func:`simvtp.utils.safe_load.use_safe_checkpoint_loading`), both chosen by
simvtp's configs and tools, not forced on other code in the process.

1. ``mmaction2==1.2.0``'s wheel lacks ``mmaction/models/localizers/drn`` (the
   folder has no ``__init__.py`` upstream), so ``import mmaction.models``
   raises ``ModuleNotFoundError``. We register a placeholder module whose
   ``DRN`` raises a clear error when someone actually builds it.
2. ``torch>=2.6`` loads checkpoints with ``weights_only=True`` by default;
   mmengine 0.10.7 checkpoints carry ``HistoryBuffer`` objects, numpy
   scalars/arrays and ``getattr(HistoryBuffer, 'mean')``-style references
   to its statistics methods, so ``Runner.resume`` fails. We allowlist
   exactly those globals with ``torch.serialization.add_safe_globals``
   (:func:`simvtp.utils.safe_load.mmengine_checkpoint_globals`; the
   ``getattr`` entry is a stand-in that resolves only those methods).
   Anything else is still refused by torch, and torch's own switches
   (``weights_only=False``, ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``) keep
   working.
3. ``transformers>=4.56`` removed helpers that mmaction2 1.2.0's vindlu
   ``modeling_bert`` imports; :func:`check_transformers_version` fails early
   with the fix instead of an obscure ImportError deep inside mmaction.
4. mmengine 0.10.7's PyTorch launcher calls ``torch.cuda.set_device``
   unconditionally, which fails when the device is the CPU. There (and only
   there: CUDA, NPU, MLU and MUSA hosts keep mmengine's own set-up) we
   initialise the process group with gloo and skip ``set_device``; through
   ``deepspeed.init_distributed`` for ``DeepSpeedStrategy``
   (``init_backend='deepspeed'``).
5. On CPU-only torch builds, PyPI's torchvision wheel (required by timm, which
   mmaction2's vindlu imports) is linked against CUDA torch; its compiled ops
   fail to load and ``import torchvision`` dies registering fake kernels for
   ``torchvision::nms``/``qnms``. We declare those two schemas so the pure
   Python parts of torchvision import; calling a torchvision C op still
   raises torchvision's own "Couldn't load custom C++ ops" error.
6. mmengine 0.10.7's ``DeepSpeedStrategy`` registers DeepSpeed's optimizers
   on every construction with ``register_deepspeed_optimizers``, which
   imports ``deepspeed.runtime.fp16.onebit`` (1-bit Adam/LAMB, 0/1 Adam):
   DeepSpeed removed those optimizers (0.19.8 has no such module), so the
   strategy cannot be built at all; and a second strategy in one process
   fails re-registering the names. Our version registers those of the six
   that this DeepSpeed has, each once, and nothing when DeepSpeed is absent.
"""
import importlib.util
import os
import sys
import types
import warnings

TRANSFORMERS_MIN = (4, 38)
TRANSFORMERS_MAX_EXCLUSIVE = (4, 56)


def _version_tuple(version: str) -> tuple:
    parts = []
    for piece in version.split('.')[:3]:
        digits = ''.join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


# ----------------------------------------------------------------------------
# 1. missing mmaction.models.localizers.drn
# ----------------------------------------------------------------------------
DRN_MODULES = ('mmaction.models.localizers.drn',
               'mmaction.models.localizers.drn.drn')


def _drn_is_missing() -> bool:
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        return False
    root = spec.submodule_search_locations[0]
    return not os.path.isfile(
        os.path.join(root, 'models', 'localizers', 'drn', '__init__.py'))


class DRN:
    """Placeholder for mmaction2's DRN localizer, absent from its 1.2.0 wheel."""

    def __init__(self, *args, **kwargs):
        raise ImportError(
            'mmaction2 1.2.0 was released without '
            'mmaction/models/localizers/drn, so DRN cannot be built. Install '
            'mmaction2 from source if you need it; simvtp does not use it.')


def fix_missing_drn() -> bool:
    """Register a placeholder for ``mmaction.models.localizers.drn``.

    Returns True when the placeholder was installed.
    """
    if DRN_MODULES[1] in sys.modules or not _drn_is_missing():
        return False
    package = types.ModuleType(DRN_MODULES[0])
    package.__path__ = []  # a package, so ``from .drn.drn import`` resolves
    module = types.ModuleType(DRN_MODULES[1])
    module.DRN = DRN
    package.drn = module
    sys.modules[DRN_MODULES[0]] = package
    sys.modules[DRN_MODULES[1]] = module
    return True


# ----------------------------------------------------------------------------
# 2. weights_only loading of mmengine checkpoints
# ----------------------------------------------------------------------------
def allow_mmengine_checkpoints() -> bool:
    """Allowlist the globals of mmengine checkpoints for weights_only loads.

    Returns True when torch has the allowlist mechanism (torch >= 2.4;
    older versions do not load weights-only by default).
    """
    import torch
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # pragma: no cover - torch < 2.4
        return False
    from simvtp.utils.safe_load import mmengine_checkpoint_globals
    add(mmengine_checkpoint_globals())
    return True


# ----------------------------------------------------------------------------
# 3. transformers version
# ----------------------------------------------------------------------------
def check_transformers_version(version: str = None) -> None:
    """Raise ImportError when transformers is outside [4.38, 4.56).

    Args:
        version: the version string to check; the installed one by default.
            A missing transformers is reported too, since simvtp's text side
            and mmaction2's multimodal models need it.
    """
    if version is None:
        try:
            from importlib.metadata import version as dist_version
            version = dist_version('transformers')
        except Exception:
            raise ImportError(
                'simvtp needs transformers>=4.38,<4.56; it is not installed. '
                'Run: pip install "transformers>=4.38,<4.56"') from None
    parsed = _version_tuple(version)
    if not (TRANSFORMERS_MIN <= parsed[:2] < TRANSFORMERS_MAX_EXCLUSIVE):
        raise ImportError(
            f'simvtp needs transformers>=4.38,<4.56 but found {version}: '
            'mmaction2 1.2.0 imports BERT helpers that transformers 4.56 '
            'removed. Run: pip install "transformers>=4.38,<4.56"')


# ----------------------------------------------------------------------------
# 4. CPU-only distributed launch
# ----------------------------------------------------------------------------
def device_is_cpu() -> bool:
    """Whether mmengine would run on the CPU (no CUDA, NPU, MLU, MUSA or MPS
    device): the only case where fix 4 applies."""
    from mmengine.device import get_device
    return get_device() == 'cpu'


def fix_cpu_distributed_launch() -> bool:
    """Make mmengine's PyTorch launcher work on the CPU (gloo, no
    set_device); any accelerator keeps mmengine's own launcher."""
    import torch
    from mmengine.dist import utils as dist_utils

    original = dist_utils._init_dist_pytorch
    if getattr(original, '_simvtp_cpu_safe', False):
        return False

    def init_dist_pytorch(backend, init_backend='torch', **kwargs):
        if not device_is_cpu() or init_backend not in ('torch', 'deepspeed'):
            return original(backend, init_backend=init_backend, **kwargs)
        if backend != 'gloo':
            warnings.warn(f'the device is the CPU: using the gloo backend '
                          f'instead of {backend!r}.')
        if init_backend == 'deepspeed':
            import deepspeed
            deepspeed.init_distributed(dist_backend='gloo', **kwargs)
        else:
            torch.distributed.init_process_group(backend='gloo', **kwargs)

    init_dist_pytorch._simvtp_cpu_safe = True
    dist_utils._init_dist_pytorch = init_dist_pytorch
    return True


# ----------------------------------------------------------------------------
# 5. torchvision built for CUDA torch on a CPU-only torch
# ----------------------------------------------------------------------------
# ops that torchvision registers fake kernels for without checking that its
# compiled extension loaded (torchvision/_meta_registrations.py)
_TORCHVISION_UNGUARDED_OPS = {
    'nms': 'nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor',
    'qnms': 'qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor',
}
_torchvision_lib = None  # kept alive: dropping a Library deregisters its ops


def _torchvision_ops_load() -> bool:
    """Whether torchvision's compiled ops load against this torch."""
    import torch
    spec = importlib.util.find_spec('torchvision')
    if spec is None or not spec.submodule_search_locations:
        return True
    root = spec.submodule_search_locations[0]
    candidates = [f for f in os.listdir(root)
                  if f.startswith('_C.') and f.endswith(('.so', '.pyd'))]
    if not candidates:
        return False
    try:
        torch.ops.load_library(os.path.join(root, candidates[0]))
    except (OSError, RuntimeError):
        return False
    return True


def fix_torchvision_without_ops() -> bool:
    """Declare the op schemas torchvision needs when its C ops cannot load."""
    global _torchvision_lib
    if 'torchvision' in sys.modules or _torchvision_lib is not None:
        return False
    if _torchvision_ops_load():
        return False
    import torch
    lib = torch.library.Library('torchvision', 'FRAGMENT')
    for name, schema in _TORCHVISION_UNGUARDED_OPS.items():
        if not hasattr(torch.ops.torchvision, name):
            lib.define(schema)
    _torchvision_lib = lib
    return True


# ----------------------------------------------------------------------------
# 6. DeepSpeedStrategy with a DeepSpeed that has no 1-bit optimizers
# ----------------------------------------------------------------------------
#: the optimizers mmengine 0.10.7 registers for DeepSpeedStrategy
DEEPSPEED_OPTIMIZERS = (
    ('deepspeed.ops.adam', 'DeepSpeedCPUAdam'),
    ('deepspeed.ops.adam', 'FusedAdam'),
    ('deepspeed.ops.lamb', 'FusedLamb'),
    ('deepspeed.runtime.fp16.onebit', 'OnebitAdam'),
    ('deepspeed.runtime.fp16.onebit', 'OnebitLamb'),
    ('deepspeed.runtime.fp16.onebit', 'ZeroOneAdam'),
)


def register_deepspeed_optimizers() -> list:
    """mmengine's ``register_deepspeed_optimizers`` for any DeepSpeed:
    registers in ``OPTIMIZERS`` those of :data:`DEEPSPEED_OPTIMIZERS` this
    DeepSpeed has (each once) and returns their names."""
    from mmengine.registry import OPTIMIZERS
    try:
        import deepspeed  # noqa: F401
    except ImportError:
        return []
    names = []
    for module, name in DEEPSPEED_OPTIMIZERS:
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):  # removed from DeepSpeed
            continue
        if name not in OPTIMIZERS.module_dict:
            OPTIMIZERS.register_module(module=cls)
        names.append(name)
    return names


register_deepspeed_optimizers._simvtp_fixed = True


def fix_deepspeed_optimizer_registration() -> bool:
    """Let ``DeepSpeedStrategy`` call :func:`register_deepspeed_optimizers`
    instead of mmengine's (which needs DeepSpeed's 1-bit optimizers)."""
    from mmengine._strategy import deepspeed as strategy
    if getattr(strategy.register_deepspeed_optimizers, '_simvtp_fixed',
               False):
        return False
    strategy.register_deepspeed_optimizers = register_deepspeed_optimizers
    return True


#: every module attribute a fix replaces, as (module, attribute)
PATCHED_ATTRIBUTES = (
    ('mmengine.dist.utils', '_init_dist_pytorch'),
    ('mmengine._strategy.deepspeed', 'register_deepspeed_optimizers'),
)


_APPLIED = False


def apply_all() -> None:
    """Apply every fix once (called by ``import simvtp``)."""
    global _APPLIED
    if _APPLIED:
        return
    check_transformers_version()
    fix_missing_drn()
    allow_mmengine_checkpoints()
    fix_cpu_distributed_launch()
    fix_torchvision_without_ops()
    fix_deepspeed_optimizer_registration()
    _APPLIED = True
