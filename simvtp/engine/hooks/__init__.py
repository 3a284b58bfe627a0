from .dist_consistency_hook import DistConsistencyHook, weight_fingerprint
from .reconstruction_vis_hook import ReconstructionVisHook

__all__ = ['DistConsistencyHook', 'ReconstructionVisHook', 'weight_fingerprint']
