from .safe_load import (REFERENCE_CHECKPOINT_GLOBALS,  # noqa: F401
                        CorruptCheckpointError, UnsafeCheckpointError,
                        load_checkpoint_file, use_safe_checkpoint_loading)
from .setup import ensure_synthetic_data, prepare_runtime  # noqa: F401
