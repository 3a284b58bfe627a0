"""Loading checkpoint files without unpickling arbitrary objects.

* :func:`load_checkpoint_file`: ``torch.load(weights_only=True)`` with an
  explicit allowlist, always (whatever torch's default or the
  ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` variable say), and errors that say
  whether a file was refused or is simply not a readable checkpoint.
* :func:`use_safe_checkpoint_loading`: an explicit opt-in that routes
  mmengine's local checkpoint loader (``Runner.resume``, ``load_from``,
  ``mmengine.runner.load_checkpoint``) through :func:`load_checkpoint_file`.
  simvtp's own entry points (``tools/*.py``) call it; another project may
  call it too. ``import simvtp`` alone does not.
* :func:`mmengine_checkpoint_globals`: what an mmengine 0.10 checkpoint
  pickles besides tensors, including a stand-in for ``builtins.getattr``
  that resolves only ``HistoryBuffer``'s statistics methods (mmengine
  pickles them as ``getattr(HistoryBuffer, 'mean')``; the real ``getattr``
  would let a file reach any attribute of an allowed object, i.e. run code).
"""
import argparse
import os.path as osp
import pickle
import re
from typing import Iterable, List, Optional

import torch

# what the authors' release pickles beside tensors: the training arguments
REFERENCE_CHECKPOINT_GLOBALS = (argparse.Namespace, )
# HistoryBuffer's built-in statistics (mmengine.logging.HistoryBuffer)
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint holds a global that is not on the allowlist."""


class CorruptCheckpointError(RuntimeError):
    """A file that is not a readable checkpoint (truncated, empty, another
    format)."""


def _history_buffer_getattr(obj, name: str):
    """``getattr`` as mmengine checkpoints use it, and nothing more."""
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({getattr(obj, "__name__", type(obj).__name__)}, {name!r}) '
        'is not allowed: only HistoryBuffer statistics methods are')


def mmengine_checkpoint_globals() -> List:
    """The non-tensor globals an mmengine 0.10 checkpoint pickles.

    ``meta['message_hub']`` holds ``HistoryBuffer`` objects whose state is
    numpy arrays plus their statistics methods; runtime info holds numpy
    scalars. Nothing callable beyond numpy's array rebuilding.
    """
    import numpy as np
    from mmengine.logging import HistoryBuffer

    try:  # numpy >= 2 moved the pickling helpers to numpy._core
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    allowed = [HistoryBuffer, np.ndarray, np.dtype, _reconstruct, scalar,
               (_history_buffer_getattr, 'builtins.getattr'),
               (_history_buffer_getattr, '__builtin__.getattr')]
    # dtype classes (np.dtypes.Float64DType, ...) are pickled by numpy >= 1.25
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        allowed += [
            getattr(dtypes, name) for name in dir(dtypes)
            if name.endswith('DType') and isinstance(getattr(dtypes, name), type)
        ]
    return allowed


def load_checkpoint_file(path: str,
                         map_location: Optional[str] = 'cpu',
                         allow: Iterable = ()) -> dict:
    """``torch.load(path, weights_only=True)`` with an explicit allowlist.

    Tensors, containers, numbers and strings always load, and so do
    mmengine's checkpoint globals (:func:`mmengine_checkpoint_globals`);
    ``allow`` adds more for this one call (e.g.
    :data:`REFERENCE_CHECKPOINT_GLOBALS`). Anything else, in particular a
    callable whose unpickling would run code, is refused.

    Raises:
        FileNotFoundError: no such file.
        UnsafeCheckpointError: naming the file and the refused global.
        CorruptCheckpointError: the file is not a readable checkpoint.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path!r} does not exist')
    # torch's safe_globals context removes its entries on exit, also ones
    # that were allowlisted process-wide before (simvtp.compat fix 2): add
    # only what is not there yet
    present = set(torch.serialization.get_safe_globals())
    extra = [g for g in mmengine_checkpoint_globals() + list(allow)
             if g not in present]
    try:
        with torch.serialization.safe_globals(extra):
            return torch.load(path, map_location=map_location,
                              weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r'GLOBAL ([\w.]+)', str(e))
        if found or 'is not allowed' in str(e):
            detail = f'global {found.group(1)}' if found else str(e)[:300]
            raise UnsafeCheckpointError(
                f'{path}: refused to load, the file holds an object that is '
                f'not on the allowlist ({detail}). simvtp never unpickles '
                'arbitrary objects; if you created this file yourself, '
                're-save its tensors with torch.save(state_dict).') from None
        raise _corrupt(path, e) from None
    except (RuntimeError, EOFError, KeyError, ValueError) as e:
        raise _corrupt(path, e) from None


def _corrupt(path: str, exc: BaseException) -> CorruptCheckpointError:
    size = osp.getsize(path)
    detail = ' '.join(str(exc).split())[:200] or type(exc).__name__
    return CorruptCheckpointError(
        f'{path}: not a readable PyTorch checkpoint ({size} bytes): it is '
        f'truncated, corrupt or in another format ({type(exc).__name__}: '
        f'{detail}). If it was being written when a job stopped, use the '
        'previous checkpoint.')


_SAFE_SCHEME_MARK = '_simvtp_safe'


def use_safe_checkpoint_loading() -> bool:
    """Route mmengine's local checkpoint loader through
    :func:`load_checkpoint_file` (an explicit, process-wide opt-in).

    After this call ``Runner.resume``, ``Runner.load_checkpoint`` (
    ``load_from``) and ``mmengine.runner.load_checkpoint`` read local files
    weights-only with the allowlist above, even when
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is set, and refuse a file whose
    unpickling would run code. simvtp's ``tools/*.py`` call it first; other
    projects may call it as well. Idempotent; returns True when installed
    now.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    current = CheckpointLoader._schemes.get('')
    if getattr(current, _SAFE_SCHEME_MARK, False):
        return False

    def load_from_local(filename, map_location):
        filename = osp.expanduser(filename)
        if not osp.isfile(filename):
            raise FileNotFoundError(f'{filename} can not be found.')
        return load_checkpoint_file(filename, map_location=map_location)

    setattr(load_from_local, _SAFE_SCHEME_MARK, True)
    CheckpointLoader.register_scheme('', loader=load_from_local, force=True)
    return True
