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
6. mmengine 0.10.7 writes checkpoints and the ``last_checkpoint`` pointer in
   place, and with ``max_keep_ckpts`` deletes the oldest checkpoint *before*
   writing the new one: a kill during a save leaves a truncated newest file,
   an empty pointer, or (``max_keep_ckpts=1``) no checkpoint at all. Local
   checkpoints and the pointer are now written to a temporary file in the
   same folder, flushed, fsynced and renamed over the target (then the
   folder is fsynced), and outdated checkpoints are removed only after the
   new one and the pointer are in place. Temporaries left by a killed
   process are removed at the next save. Remote backends are unchanged.
7. mmengine's local checkpoint loader calls ``torch.load`` without
   ``weights_only``, so it depends on torch's default (and on the
   ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` environment variable). It now goes
   through :func:`simvtp.utils.safe_load.load_checkpoint_file`: always
   weights-only with the allowlist of fix 2, and a refused file raises
   :class:`~simvtp.utils.safe_load.UnsafeCheckpointError` naming the file and
   the offending global.
"""
import importlib.util
import os
import os.path as osp
import sys
import tempfile
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


# ----------------------------------------------------------------------------
# 6. atomic checkpoint writes
# ----------------------------------------------------------------------------
TMP_SUFFIX = '.simvtp-tmp'


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists, owned by someone else
        return True
    return True


def _remove_stale_temporaries(directory: str) -> None:
    """Remove temporaries of saves whose process died (kill -9, OOM)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not name.endswith(TMP_SUFFIX):
            continue
        pid = name[:-len(TMP_SUFFIX)].rsplit('.pid', 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() \
                and not _pid_alive(int(pid)):
            try:
                os.unlink(osp.join(directory, name))
            except OSError:
                pass


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, write) -> None:
    """Write ``path`` all-or-nothing: ``write(f)`` fills a temporary file in
    the same folder, which is flushed, fsynced and renamed over ``path``.

    A reader (or a resumed run after kill -9) sees the old file or the new
    one, never a partial one.
    """
    path = osp.abspath(osp.expanduser(str(path)))
    directory = osp.dirname(path)
    os.makedirs(directory, exist_ok=True)
    _remove_stale_temporaries(directory)
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix=f'.{osp.basename(path)}.',
        suffix=f'.pid{os.getpid()}{TMP_SUFFIX}')
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp creates 0600
    except (AttributeError, OSError):  # pragma: no cover - non-POSIX
        pass
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def atomic_write_text(path: str, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode('utf-8')))


def _is_local_path(filename: str, backend_args=None) -> bool:
    from mmengine.fileio import get_file_backend
    from mmengine.fileio.backends import LocalBackend
    if '://' in str(filename):
        return False
    try:
        backend = get_file_backend(filename, backend_args=backend_args)
    except Exception:
        return False
    return isinstance(backend, LocalBackend)


def make_checkpoint_saving_atomic() -> bool:
    """Fix 6: atomic ``save_checkpoint`` and ``last_checkpoint``; delete
    outdated checkpoints only after the new one is safely written.

    Returns True when the patch was installed now.
    """
    import torch
    import mmengine.runner as runner_pkg
    from mmengine.dist import is_main_process
    from mmengine.hooks import CheckpointHook
    from mmengine.runner import checkpoint as ckpt_module
    from mmengine.runner import runner as runner_module

    original = ckpt_module.save_checkpoint
    if getattr(original, '_simvtp_atomic', False):
        return False

    def save_checkpoint(checkpoint, filename, file_client_args=None,
                        backend_args=None):
        if file_client_args is not None or not _is_local_path(
                filename, backend_args):
            return original(checkpoint, filename,
                            file_client_args=file_client_args,
                            backend_args=backend_args)
        atomic_write(filename, lambda f: torch.save(checkpoint, f))

    save_checkpoint._simvtp_atomic = True
    save_checkpoint.__doc__ = (original.__doc__ or '') + \
        '\n(simvtp: local files are written atomically.)'
    for module in (ckpt_module, runner_module, runner_pkg):
        if getattr(module, 'save_checkpoint', None) is original:
            module.save_checkpoint = save_checkpoint

    def _save_checkpoint_with_step(self, runner, step, meta):
        outdated = []
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            while len(self.keep_ckpt_ids) >= self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        name = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, name)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, name, self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta, by_epoch=self.by_epoch,
            backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        # the pointer moves only once the new file is complete; the old
        # files go only once the pointer has moved
        atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'),
                          self.last_ckpt)
        for old in outdated:
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(old))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # deepspeed folders
                self.file_backend.rmtree(path)

    _save_checkpoint_with_step._simvtp_atomic = True
    import mmengine
    if mmengine.__version__.startswith('0.10.'):  # written against 0.10.x
        CheckpointHook._save_checkpoint_with_step = _save_checkpoint_with_step
    else:  # pragma: no cover - other mmengine versions
        warnings.warn(f'simvtp: CheckpointHook of mmengine '
                      f'{mmengine.__version__} not patched (written for '
                      '0.10.x); its last_checkpoint pointer and old-file '
                      'deletion may not be crash-safe.')
    return True


# ----------------------------------------------------------------------------
# 7. weights-only loading of local checkpoints by mmengine, explicitly
# ----------------------------------------------------------------------------
def make_local_checkpoint_loading_safe() -> bool:
    """Fix 7: mmengine's local loader -> ``load_checkpoint_file``."""
    from mmengine.runner.checkpoint import CheckpointLoader
    current = CheckpointLoader._schemes.get('')
    if getattr(current, '_simvtp_safe', False):
        return False

    def load_from_local(filename, map_location):
        from simvtp.utils.safe_load import load_checkpoint_file
        filename = osp.expanduser(filename)
        if not osp.isfile(filename):
            raise FileNotFoundError(f'{filename} can not be found.')
        return load_checkpoint_file(filename, map_location=map_location)

    load_from_local._simvtp_safe = True
    CheckpointLoader.register_scheme('', loader=load_from_local, force=True)
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
    make_checkpoint_saving_atomic()
    make_local_checkpoint_loading_safe()
    _APPLIED = True
