"""Fixes for the known breakages of the pinned OpenMMLab stack, each in one place.

``simvtp/__init__.py`` calls :func:`apply_all` once, before anything imports
mmaction. Every fix is idempotent and only acts when its breakage is present,
so a user whose stack is already healthy sees no change.

1. ``mmaction2==1.2.0``'s wheel lacks ``mmaction/models/localizers/drn`` (the
   folder has no ``__init__.py`` upstream), so ``import mmaction.models``
   raises ``ModuleNotFoundError``. We register a placeholder module whose
   ``DRN`` raises a clear error when someone actually builds it.
2. ``torch>=2.6`` loads checkpoints with ``weights_only=True``; mmengine 0.10.7
   checkpoints carry ``HistoryBuffer`` objects and numpy scalars/arrays in
   their ``meta``, so ``Runner.resume`` fails. We allowlist exactly those
   globals (:func:`mmengine_checkpoint_globals`); anything else is still
   refused by torch. ``HistoryBuffer`` also pickles its statistics methods as
   ``getattr(HistoryBuffer, 'min')``: allowing ``builtins.getattr`` would open
   arbitrary attribute access to any checkpoint, so instead we make it pickle
   the method *names* and look them up on load.
3. ``transformers>=4.56`` removed helpers that mmaction2 1.2.0's vindlu
   ``modeling_bert`` imports; :func:`check_transformers_version` fails early
   with the fix instead of an obscure ImportError deep inside mmaction.
4. mmengine 0.10.7's PyTorch launcher calls ``torch.cuda.set_device``
   unconditionally, which fails on CPU-only machines. We initialise the
   process group with gloo and skip ``set_device`` when CUDA is absent.
5. On CPU-only torch builds, PyPI's torchvision wheel (required by timm, which
   mmaction2's vindlu imports) is linked against CUDA torch; its compiled ops
   fail to load and ``import torchvision`` dies registering fake kernels for
   ``torchvision::nms``/``qnms``. We declare those two schemas so the pure
   Python parts of torchvision import; calling a torchvision C op still
   raises torchvision's own "Couldn't load custom C++ ops" error.
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
def mmengine_checkpoint_globals() -> list:
    """The non-tensor globals an mmengine 0.10.7 checkpoint pickles.

    ``meta['message_hub']`` holds ``HistoryBuffer`` objects whose state is
    numpy arrays; runtime info holds numpy scalars. Nothing callable.
    """
    import numpy as np
    from mmengine.logging import HistoryBuffer

    try:  # numpy >= 2 moved the pickling helpers to numpy._core
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    allowed = [HistoryBuffer, np.ndarray, np.dtype, _reconstruct, scalar]
    # dtype classes (np.dtypes.Float64DType, ...) are pickled by numpy >= 1.25
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        allowed += [
            getattr(dtypes, name) for name in dir(dtypes)
            if name.endswith('DType') and isinstance(getattr(dtypes, name), type)
        ]
    return allowed


def make_history_buffer_pickle_safe() -> bool:
    """Pickle ``HistoryBuffer`` statistics methods by name, not by function.

    mmengine's own ``__getstate__`` stores the function objects (and, as a side
    effect, copies them into the instance ``__dict__``), which a weights_only
    load can only accept by allowing ``builtins.getattr``. Names are plain
    strings; :meth:`__setstate__` accepts both forms so checkpoints saved by
    plain mmengine still load where the caller trusts them.
    """
    from mmengine.logging import HistoryBuffer
    if getattr(HistoryBuffer, '_simvtp_pickle_safe', False):
        return False

    def __getstate__(self):
        state = {k: v for k, v in self.__dict__.items()
                 if k != 'statistics_methods'}
        state['statistics_method_names'] = sorted(self._statistics_methods)
        return state

    def __setstate__(self, state):
        state = dict(state)
        names = state.pop('statistics_method_names', ())
        legacy = state.pop('statistics_methods', {})  # plain mmengine files
        self._statistics_methods.update(legacy)
        for name in ('min', 'max', 'current', 'mean'):  # as __init__ does
            self._statistics_methods.setdefault(name, getattr(HistoryBuffer, name))
        unknown = [n for n in names if n not in self._statistics_methods]
        if unknown:
            warnings.warn(f'HistoryBuffer statistics {unknown} were saved in '
                          'the checkpoint but are not registered now; import '
                          'the module that registers them before resuming.')
        self.__dict__.update(state)

    HistoryBuffer.__getstate__ = __getstate__
    HistoryBuffer.__setstate__ = __setstate__
    HistoryBuffer._simvtp_pickle_safe = True
    return True


def allow_mmengine_checkpoints() -> bool:
    """Allowlist the globals of mmengine checkpoints for weights_only loads.

    Returns True when torch has the allowlist mechanism (torch >= 2.4).
    """
    import torch
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:
        return False
    make_history_buffer_pickle_safe()
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
def fix_cpu_distributed_launch() -> bool:
    """Make mmengine's PyTorch launcher work without CUDA (gloo, no set_device)."""
    import torch
    from mmengine.dist import utils as dist_utils

    original = dist_utils._init_dist_pytorch
    if getattr(original, '_simvtp_cpu_safe', False):
        return False

    def init_dist_pytorch(backend, init_backend='torch', **kwargs):
        if torch.cuda.is_available() or init_backend != 'torch':
            return original(backend, init_backend=init_backend, **kwargs)
        if backend != 'gloo':
            warnings.warn(f'CUDA is not available: using the gloo backend '
                          f'instead of {backend!r}.')
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
    _APPLIED = True
