from . import hooks  # noqa: F401
from .optim_wrappers import (NonFiniteLossError,  # noqa: F401
                             SkipNonFiniteAmpOptimWrapper,
                             SkipNonFiniteOptimWrapper)
from .loops import ResumableIterBasedTrainLoop  # noqa: F401,E402
from .optimizers import LayerDecayOptimWrapperConstructor  # noqa: F401,E402
from .fsdp_wrap import transformer_block_wrap_policy  # noqa: F401,E402
