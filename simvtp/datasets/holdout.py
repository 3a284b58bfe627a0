"""A fixed, seeded held-out set of videos carved from a training split.

Retrieval benchmarks such as MSR-VTT 9k / 1k-A ship no validation split;
selecting checkpoints on the test split inflates the reported figures. A
dataset given ``holdout=dict(part='val', num_videos=500, seed=0)`` keeps
only the held-out videos (with all their captions) and the same dataset with
``part='train'`` keeps the rest: the two never share a video.
"""
from typing import Iterable, Optional, Set

import numpy as np

PARTS = ('train', 'val')


def check_holdout(holdout: Optional[dict], where: str) -> Optional[dict]:
    """Validate a ``holdout`` config; returns it with defaults filled."""
    if holdout is None:
        return None
    holdout = dict(dict(seed=0, num_videos=None, fraction=None), **holdout)
    unknown = set(holdout) - {'part', 'seed', 'num_videos', 'fraction'}
    if unknown:
        raise ValueError(f'{where}: holdout has unknown keys '
                         f'{sorted(unknown)}; expected part, num_videos or '
                         'fraction, seed')
    if holdout.get('part') not in PARTS:
        raise ValueError(f"{where}: holdout.part must be 'train' (the videos "
                         "not held out) or 'val' (the held-out ones), got "
                         f"{holdout.get('part')!r}")
    if (holdout['num_videos'] is None) == (holdout['fraction'] is None):
        raise ValueError(f'{where}: holdout needs exactly one of num_videos '
                         'and fraction')
    if holdout['fraction'] is not None and not 0 < holdout['fraction'] < 1:
        raise ValueError(f'{where}: holdout.fraction must be in (0, 1), got '
                         f"{holdout['fraction']}")
    if holdout['num_videos'] is not None and holdout['num_videos'] < 1:
        raise ValueError(f'{where}: holdout.num_videos must be >= 1, got '
                         f"{holdout['num_videos']}")
    return holdout


def held_out_videos(videos: Iterable[str], holdout: dict,
                    where: str = 'dataset') -> Set[str]:
    """The held-out subset of ``videos`` (names, any order, duplicates
    allowed): ``num_videos`` (or ``round(fraction * N)``) of the sorted
    unique names drawn with ``numpy.random.default_rng(seed)``, so the
    choice depends only on the set of videos and the seed."""
    names = sorted(set(videos))
    count = holdout['num_videos'] if holdout['num_videos'] is not None \
        else int(round(holdout['fraction'] * len(names)))
    if not 1 <= count < len(names):
        raise ValueError(f'{where}: holdout of {count} videos out of '
                         f'{len(names)} leaves no training or no held-out '
                         'video')
    rng = np.random.default_rng(holdout['seed'])
    picked = rng.choice(len(names), size=count, replace=False)
    return {names[i] for i in picked}
