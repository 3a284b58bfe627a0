from . import hooks  # noqa: F401
from .optim_wrappers import (NonFiniteLossError,  # noqa: F401
                             SkipNonFiniteAmpOptimWrapper,
                             SkipNonFiniteOptimWrapper)
from .loops import ResumableIterBasedTrainLoop  # noqa: F401,E402
from .optimizers import LayerDecayOptimWrapperConstructor  # noqa: F401,E402
