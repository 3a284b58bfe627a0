"""SimVTP: masked video-text pre-training on the OpenMMLab stack.

Importing the package applies the stack's compatibility fixes
(:mod:`simvtp.compat`) before anything imports mmaction, then registers
every simvtp module in the ``'simvtp'`` scope.
"""
from .version import __version__
from . import compat

compat.apply_all()

from . import registry  # noqa: E402
from . import datasets, engine, evaluation, models  # noqa: E402,F401

__all__ = ['__version__', 'registry']
