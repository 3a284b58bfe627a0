"""Loading checkpoint files without unpickling arbitrary objects."""
import argparse
import pickle
import re
from typing import Iterable, Optional

import torch

# what the authors' release pickles beside tensors: the training arguments
REFERENCE_CHECKPOINT_GLOBALS = (argparse.Namespace, )


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint holds a global that is not on the allowlist."""


def load_checkpoint_file(path: str,
                         map_location: Optional[str] = 'cpu',
                         allow: Iterable[type] = ()) -> dict:
    """``torch.load(path, weights_only=True)`` with an explicit allowlist.

    Tensors, containers, numbers and strings always load; mmengine's
    checkpoint globals are allowed by :mod:`simvtp.compat`; ``allow`` adds
    more for this one call (e.g. :data:`REFERENCE_CHECKPOINT_GLOBALS`).
    Anything else, in particular a callable whose unpickling would run code,
    is refused.

    Raises:
        UnsafeCheckpointError: naming the file and the refused global.
    """
    try:
        with torch.serialization.safe_globals(list(allow)):
            return torch.load(path, map_location=map_location,
                              weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r'GLOBAL ([\w.]+)', str(e))
        detail = f'global {found.group(1)}' if found else str(e)[:300]
        raise UnsafeCheckpointError(
            f'{path}: refused to load, the file holds an object that is not '
            f'on the allowlist ({detail}). simvtp never unpickles arbitrary '
            'objects; if you created this file yourself, re-save its '
            'tensors with torch.save(state_dict).') from None
