from .setup import ensure_synthetic_data, prepare_runtime  # noqa: F401
from .safe_load import (REFERENCE_CHECKPOINT_GLOBALS, UnsafeCheckpointError,  # noqa: F401
                        load_checkpoint_file)
