from .dist_consistency_hook import DistConsistencyHook, weight_fingerprint

__all__ = ['DistConsistencyHook', 'weight_fingerprint']
