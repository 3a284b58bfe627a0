from .dist_consistency_hook import DistConsistencyHook, weight_fingerprint

__all__ = ['DistConsistencyHook', 'weight_fingerprint']
from .data_health_hook import DataHealthHook  # noqa: F401,E402
from .rng_state_hook import RNGStateHook  # noqa: F401,E402
from .reconstruction_vis_hook import ReconstructionVisHook  # noqa: F401,E402
__all__ += ['DataHealthHook', 'RNGStateHook']
from .lazy_runtime_info_hook import LazyRuntimeInfoHook  # noqa: F401,E402
__all__ += ['LazyRuntimeInfoHook']
from .atomic_checkpoint_hook import AtomicCheckpointHook  # noqa: F401,E402
__all__ += ['AtomicCheckpointHook']
from .stream_resume_hook import StreamResumeHook  # noqa: F401,E402
__all__ += ['StreamResumeHook']
from .best_checkpoint_hook import LoadBestCheckpointHook  # noqa: F401,E402
__all__ += ['LoadBestCheckpointHook']
from .metric_model_hook import MetricModelHook  # noqa: F401,E402
__all__ += ['MetricModelHook']
