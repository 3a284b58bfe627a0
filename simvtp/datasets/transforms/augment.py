"""Clip-consistent video augmentations for fine-tuning.

* :class:`VideoRandAugment` -- timm's RandAugment (``rand-m7-n4-mstd0.5-inc1``
  by default, the policy of VideoMAE/SimVTP fine-tuning) with one draw of
  ops, magnitudes and signs per clip, applied to every frame.
* :class:`VideoRandomErasing` -- timm's RandomErasing on uint8 frames, the
  box shared by the frames of a clip as VideoMAE does it.

Both work on mmaction2's ``results['imgs']`` after ``DecordDecode`` (and
``RandomResizedCrop``/``Resize``/``Flip``): a list (or a ``(T, H, W, 3)``
array) of ``(H, W, 3)`` uint8 RGB frames, and return the same type, shape and
dtype. They draw from numpy's global random state, like mmaction2's
transforms, which mmengine seeds per dataloader worker
(``randomness=dict(seed=...)``).

torchvision is not a dependency, so the ops are written on Pillow and numpy.
"""
import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image, ImageEnhance, ImageOps

from simvtp.registry import TRANSFORMS

Frames = Union[List[np.ndarray], np.ndarray]


def check_frames(results: Dict, owner: str) -> Frames:
    """``results['imgs']`` after checking it is a non-empty list/tuple of
    equally shaped ``(H, W, 3)`` uint8 arrays or a ``(T, H, W, 3)`` uint8
    array; raises ``ValueError`` naming the field otherwise."""
    if 'imgs' not in results:
        raise ValueError(f"{owner}: results has no 'imgs' (decode the video "
                         'first, e.g. DecordDecode)')
    imgs = results['imgs']
    if isinstance(imgs, np.ndarray):
        if imgs.ndim != 4:
            raise ValueError(
                f"{owner}: results['imgs'] must be a (T, H, W, 3) uint8 array "
                f'or a list of (H, W, 3) uint8 frames, got an array of shape '
                f'{imgs.shape}')
        frames = list(imgs)
    elif isinstance(imgs, (list, tuple)):
        frames = imgs
    else:
        raise ValueError(
            f"{owner}: results['imgs'] must be a list of (H, W, 3) uint8 "
            f'frames, got {type(imgs).__name__}')
    if len(frames) == 0:
        raise ValueError(f"{owner}: results['imgs'] is empty")
    first = frames[0]
    for i, frame in enumerate(frames):
        if not isinstance(frame, np.ndarray):
            raise ValueError(
                f"{owner}: results['imgs'][{i}] must be a numpy array, got "
                f'{type(frame).__name__}')
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(
                f"{owner}: results['imgs'][{i}] must have shape (H, W, 3) "
                f'(RGB), got {frame.shape}')
        if frame.dtype != np.uint8:
            raise ValueError(
                f"{owner}: results['imgs'][{i}] must be uint8, got "
                f'{frame.dtype}')
        if frame.shape != first.shape:
            raise ValueError(
                f"{owner}: results['imgs'] frames differ in shape: "
                f'{first.shape} (frame 0) vs {frame.shape} (frame {i})')
    return imgs


def _like(imgs: Frames, frames: List[np.ndarray]) -> Frames:
    """``frames`` in the container type of ``imgs``."""
    return np.stack(frames) if isinstance(imgs, np.ndarray) else list(frames)


# ---------------------------------------------------------------- RandAugment
# Frame ops: (PIL image, *args, fill, resample) -> PIL image.
def _affine(img, matrix, fill, resample):
    return img.transform(img.size, Image.AFFINE, matrix, resample=resample,
                         fillcolor=fill)


def _shear_x(img, factor, fill, resample):
    return _affine(img, (1, factor, 0, 0, 1, 0), fill, resample)


def _shear_y(img, factor, fill, resample):
    return _affine(img, (1, 0, 0, factor, 1, 0), fill, resample)


def _translate_x(img, fraction, fill, resample):
    return _affine(img, (1, 0, fraction * img.size[0], 0, 1, 0), fill,
                   resample)


def _translate_y(img, fraction, fill, resample):
    return _affine(img, (1, 0, 0, 0, 1, fraction * img.size[1]), fill,
                   resample)


def _rotate(img, degrees, fill, resample):
    return img.rotate(degrees, resample=resample, fillcolor=fill)


def _lut(table: np.ndarray) -> Callable:
    def apply(img, fill, resample):
        return img.point(np.tile(table, 3).tolist())
    return apply


def _posterize(img, bits, fill, resample):
    return img if bits >= 8 else ImageOps.posterize(img, bits)


def _solarize(img, threshold, fill, resample):
    # inverts the values >= threshold; 256 leaves the frame unchanged
    return ImageOps.solarize(img, threshold)


def _solarize_add(img, add, fill, resample):
    values = np.arange(256)
    table = np.where(values < 128, np.minimum(values + add, 255), values)
    return _lut(table)(img, fill, resample)


def _enhance(kind) -> Callable:
    def apply(img, factor, fill, resample):
        return kind(img).enhance(factor)
    return apply


def _no_args(fn) -> Callable:
    return lambda img, fill, resample: fn(img)


# Level -> op arguments. ``level`` is the clipped magnitude in [0, 10];
# ``sign`` is +1 or -1, drawn per op for the signed ones. Ranges follow
# timm's auto_augment.py (rand augment, level denominator 10).
def _signed(scale):
    return lambda level, sign: (sign * level / 10. * scale, )


def _enhance_increasing(level, sign):
    # 1.0 is "no change"; the factor moves to 0.1 or 1.9 as level grows
    return (max(0.1, 1. + sign * level / 10. * .9), )


def _enhance_plain(level, sign):
    return (level / 10. * 1.8 + .1, )


def _posterize_bits(level):
    return int(level / 10. * 4)


def _solarize_threshold(level):
    return min(256, int(level / 10. * 256))


OPS: Dict[str, Tuple[Optional[Callable], Callable]] = {
    'AutoContrast': (None, _no_args(ImageOps.autocontrast)),
    'Equalize': (None, _no_args(ImageOps.equalize)),
    'Invert': (None, _lut(255 - np.arange(256))),
    'Rotate': (_signed(30.), _rotate),
    'Posterize': (lambda lv, s: (_posterize_bits(lv), ), _posterize),
    'PosterizeIncreasing': (lambda lv, s: (4 - _posterize_bits(lv), ),
                            _posterize),
    'Solarize': (lambda lv, s: (_solarize_threshold(lv), ), _solarize),
    'SolarizeIncreasing': (lambda lv, s: (256 - _solarize_threshold(lv), ),
                           _solarize),
    'SolarizeAdd': (lambda lv, s: (min(128, int(lv / 10. * 110)), ),
                    _solarize_add),
    'Color': (_enhance_plain, _enhance(ImageEnhance.Color)),
    'ColorIncreasing': (_enhance_increasing, _enhance(ImageEnhance.Color)),
    'Contrast': (_enhance_plain, _enhance(ImageEnhance.Contrast)),
    'ContrastIncreasing': (_enhance_increasing,
                           _enhance(ImageEnhance.Contrast)),
    'Brightness': (_enhance_plain, _enhance(ImageEnhance.Brightness)),
    'BrightnessIncreasing': (_enhance_increasing,
                             _enhance(ImageEnhance.Brightness)),
    'Sharpness': (_enhance_plain, _enhance(ImageEnhance.Sharpness)),
    'SharpnessIncreasing': (_enhance_increasing,
                            _enhance(ImageEnhance.Sharpness)),
    'ShearX': (_signed(.3), _shear_x),
    'ShearY': (_signed(.3), _shear_y),
    'TranslateXRel': (_signed(.45), _translate_x),
    'TranslateYRel': (_signed(.45), _translate_y),
}

#: timm's ``_RAND_INCREASING_TRANSFORMS`` (the ``inc1`` op set)
INCREASING_OPS = (
    'AutoContrast', 'Equalize', 'Invert', 'Rotate', 'PosterizeIncreasing',
    'SolarizeIncreasing', 'SolarizeAdd', 'ColorIncreasing',
    'ContrastIncreasing', 'BrightnessIncreasing', 'SharpnessIncreasing',
    'ShearX', 'ShearY', 'TranslateXRel', 'TranslateYRel')
#: timm's ``_RAND_TRANSFORMS`` (``inc0``)
PLAIN_OPS = (
    'AutoContrast', 'Equalize', 'Invert', 'Rotate', 'Posterize', 'Solarize',
    'SolarizeAdd', 'Color', 'Contrast', 'Brightness', 'Sharpness', 'ShearX',
    'ShearY', 'TranslateXRel', 'TranslateYRel')

_RESAMPLE = {'bilinear': Image.BILINEAR, 'bicubic': Image.BICUBIC,
             'nearest': Image.NEAREST}


@TRANSFORMS.register_module()
class VideoRandAugment(BaseTransform):
    """timm's RandAugment with one draw per clip, applied to every frame.

    Per clip: ``num_ops`` ops are drawn uniformly with replacement from the
    op set; each is applied with probability ``prob``, its magnitude drawn
    from ``N(magnitude, magnitude_std)`` and clipped to ``[0, magnitude_max]``
    and, for the signed ops (Rotate, Shear*, Translate*, the ``*Increasing``
    enhancements), a sign drawn with probability 1/2. The ops run with these
    same arguments on every frame, as VideoMAE's fine-tuning does (its
    ``AugmentOp`` maps one drawn op over the list of PIL frames).
    Data-dependent ops (AutoContrast, Equalize, Contrast's grey mean) use each
    frame's own statistics, as there.

    Magnitude ``m`` on the 0..10 scale maps to (timm, ``auto_augment.py``):
    Rotate ``±3m`` degrees; ShearX/Y ``±0.03m``; TranslateX/YRel ``±0.045m``
    of the width/height; Posterize(Increasing) keeps ``4 - int(0.4m)`` bits
    (``int(0.4m)`` for plain Posterize); Solarize(Increasing) inverts values
    ``>= 256 - int(25.6m)`` (``int(25.6m)`` for plain); SolarizeAdd adds
    ``int(11m)`` to values below 128; Color/Contrast/Brightness/Sharpness
    Increasing blend with factor ``1 ± 0.09m`` (plain: ``0.18m + 0.1``).

    The default ``rand-m7-n4-mstd0.5-inc1`` is the fine-tuning policy of
    VideoMAE and SimVTP. Differences from VideoMAE's run, both settable:
    ``fill`` defaults to timm's ImageNet-mean fill ``(124, 116, 104)``
    (VideoMAE passes no ``img_mean`` and fills with 128); ``interpolation``
    is bicubic as VideoMAE's ``--train_interpolation`` default ('random'
    draws bilinear or bicubic per clip, timm's own default).

    Required keys: ``imgs``. Modified keys: ``imgs``.

    Args:
        num_ops: ops drawn per clip (``n``).
        magnitude: mean magnitude on the 0..10 scale (``m``).
        magnitude_std: std of the per-op magnitude noise (``mstd``); 0 fixes
            the magnitude, ``inf`` draws it uniformly from ``[0, magnitude]``.
        increasing: use the ops whose strength grows with the magnitude
            (``inc1``); False gives timm's original op set.
        prob: probability that each drawn op is applied.
        fill: RGB colour of the area uncovered by geometric ops.
        interpolation: 'bicubic', 'bilinear', 'nearest' or 'random'.
        magnitude_max: upper clip of the sampled magnitude (timm: 10).
        ops: names from :data:`OPS` to draw from instead of the default set.
    """

    def __init__(self,
                 num_ops: int = 4,
                 magnitude: float = 7,
                 magnitude_std: float = 0.5,
                 increasing: bool = True,
                 prob: float = 0.5,
                 fill: Sequence[int] = (124, 116, 104),
                 interpolation: str = 'bicubic',
                 magnitude_max: float = 10.,
                 ops: Optional[Sequence[str]] = None) -> None:
        if int(num_ops) != num_ops or num_ops < 0:
            raise ValueError(f'num_ops must be a non-negative integer, got '
                             f'{num_ops}')
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if magnitude_std < 0:
            raise ValueError(f'magnitude_std must be >= 0, got '
                             f'{magnitude_std}')
        if interpolation not in (*_RESAMPLE, 'random'):
            raise ValueError(
                f"interpolation must be one of {sorted(_RESAMPLE)} or "
                f"'random', got {interpolation!r}")
        fill = tuple(int(c) for c in fill)
        if len(fill) != 3 or not all(0 <= c <= 255 for c in fill):
            raise ValueError(f'fill must be 3 values in [0, 255], got {fill}')
        ops = tuple(ops) if ops is not None else (
            INCREASING_OPS if increasing else PLAIN_OPS)
        unknown = [name for name in ops if name not in OPS]
        if unknown or not ops:
            raise ValueError(f'ops must be a non-empty subset of '
                             f'{sorted(OPS)}; unknown: {unknown}')
        self.num_ops = int(num_ops)
        self.magnitude = float(magnitude)
        self.magnitude_std = float(magnitude_std)
        self.prob = float(prob)
        self.fill = fill
        self.interpolation = interpolation
        self.magnitude_max = float(magnitude_max)
        self.ops = ops

    def _sample_magnitude(self) -> float:
        m = self.magnitude
        if self.magnitude_std == float('inf'):
            m = np.random.uniform(0, m)
        elif self.magnitude_std > 0:
            m = np.random.normal(m, self.magnitude_std)
        return float(min(max(m, 0.), self.magnitude_max))

    def sample(self) -> List[Tuple[str, tuple]]:
        """One clip's draw: the applied ``(op name, op args)`` in order."""
        chosen = [self.ops[i]
                  for i in np.random.randint(len(self.ops), size=self.num_ops)]
        plan = []
        for name in chosen:
            if self.prob < 1 and np.random.rand() >= self.prob:
                continue
            level_to_args = OPS[name][0]
            if level_to_args is None:
                plan.append((name, ()))
                continue
            level = self._sample_magnitude()
            sign = -1. if np.random.rand() < 0.5 else 1.
            plan.append((name, level_to_args(level, sign)))
        return plan

    def transform(self, results: Dict) -> Dict:
        imgs = check_frames(results, type(self).__name__)
        plan = self.sample()
        if not plan:
            return results
        resample = _RESAMPLE[self.interpolation] \
            if self.interpolation != 'random' else \
            (Image.BILINEAR, Image.BICUBIC)[np.random.randint(2)]
        out = []
        for frame in imgs:
            img = Image.fromarray(np.ascontiguousarray(frame), 'RGB')
            for name, args in plan:
                img = OPS[name][1](img, *args, fill=self.fill,
                                   resample=resample)
            out.append(np.asarray(img, dtype=np.uint8).copy())
        results['imgs'] = _like(imgs, out)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_ops={self.num_ops}, '
                f'magnitude={self.magnitude}, '
                f'magnitude_std={self.magnitude_std}, prob={self.prob}, '
                f'ops={list(self.ops)})')


# -------------------------------------------------------------- RandomErasing
@TRANSFORMS.register_module()
class VideoRandomErasing(BaseTransform):
    """timm's RandomErasing on uint8 frames, one box per clip by default.

    With probability ``erase_prob`` a clip gets ``count`` boxes (``count``
    uniform in ``[min_count, max_count]``); each box has area
    ``U(min_area, max_area) * H * W / count`` and aspect ratio
    ``exp(U(log min_aspect, log max_aspect))`` (up to 10 tries to fit it;
    VideoMAE's clip-wide variant tries 100 times, which only matters for
    boxes that rarely fit, not for the default areas and aspects).

    VideoMAE (``kinetics.py``/``ssv2.py`` ``_aug_frame``) calls timm's eraser
    on the ``(T, C, H, W)`` clip with ``cube=True``: one probability draw and
    one box per clip, the same box in every frame, filled with fresh noise
    per frame. ``same_region_across_frames=True`` (the default) does that;
    False erases each frame independently (its own draw and box), which is
    what timm does for a batch of images.

    timm erases *normalised* tensors with ``N(0, 1)`` values ('pixel': per
    pixel and channel, 'rand': one value per channel, 'const': zeros). The
    pipeline here normalises later (in the data preprocessor), so the box is
    filled in uint8 with ``mean + std * N(0, 1)`` rounded and clipped to
    [0, 255] ('const': ``mean``), which after ``(x - mean) / std`` equals
    timm's fill up to that rounding and clipping. ``mean``/``std`` must be
    those of the data preprocessor, in the frames' RGB order.

    Required keys: ``imgs``. Modified keys: ``imgs``.

    Args:
        erase_prob: probability of erasing a clip (``--reprob``).
        mode: 'pixel', 'rand' or 'const' (``--remode``).
        min_count, max_count: number of boxes (``--recount``).
        min_area, max_area: box area as a fraction of the frame.
        min_aspect: smallest aspect ratio; ``max_aspect`` defaults to its
            inverse.
        same_region_across_frames: one box for the whole clip (VideoMAE).
        mean, std: RGB normalisation of the data preprocessor.
    """

    _TRIES = 10

    def __init__(self,
                 erase_prob: float = 0.25,
                 mode: str = 'pixel',
                 min_count: int = 1,
                 max_count: int = 1,
                 min_area: float = 0.02,
                 max_area: float = 1 / 3,
                 min_aspect: float = 0.3,
                 max_aspect: Optional[float] = None,
                 same_region_across_frames: bool = True,
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375)) -> None:
        if not 0 <= erase_prob <= 1:
            raise ValueError(f'erase_prob must be in [0, 1], got '
                             f'{erase_prob}')
        if mode not in ('pixel', 'rand', 'const'):
            raise ValueError(f"mode must be 'pixel', 'rand' or 'const', got "
                             f'{mode!r}')
        if not 1 <= min_count <= max_count:
            raise ValueError(f'need 1 <= min_count <= max_count, got '
                             f'{min_count}, {max_count}')
        if not 0 < min_area <= max_area <= 1:
            raise ValueError(f'need 0 < min_area <= max_area <= 1, got '
                             f'{min_area}, {max_area}')
        max_aspect = max_aspect or 1 / min_aspect
        if not 0 < min_aspect <= max_aspect:
            raise ValueError(f'need 0 < min_aspect <= max_aspect, got '
                             f'{min_aspect}, {max_aspect}')
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f'mean and std need 3 (RGB) values, got {mean}, '
                             f'{std}')
        self.erase_prob = float(erase_prob)
        self.mode = mode
        self.min_count, self.max_count = int(min_count), int(max_count)
        self.min_area, self.max_area = float(min_area), float(max_area)
        self.log_aspect = (math.log(min_aspect), math.log(max_aspect))
        self.same_region = bool(same_region_across_frames)
        self.mean = np.asarray(mean, np.float64)
        self.std = np.asarray(std, np.float64)

    def sample_boxes(self, height: int,
                     width: int) -> List[Tuple[int, int, int, int]]:
        """Boxes ``(top, left, h, w)`` for one erasing draw (empty when the
        draw skips erasing)."""
        if np.random.rand() >= self.erase_prob:
            return []
        count = self.min_count if self.min_count == self.max_count else \
            np.random.randint(self.min_count, self.max_count + 1)
        boxes = []
        for _ in range(count):
            for _ in range(self._TRIES):
                area = np.random.uniform(self.min_area, self.max_area) * \
                    height * width / count
                aspect = math.exp(np.random.uniform(*self.log_aspect))
                h = int(round(math.sqrt(area * aspect)))
                w = int(round(math.sqrt(area / aspect)))
                if h < height and w < width:
                    top = np.random.randint(0, height - h + 1)
                    left = np.random.randint(0, width - w + 1)
                    boxes.append((top, left, h, w))
                    break
        return boxes

    def _fill(self, h: int, w: int) -> np.ndarray:
        if self.mode == 'pixel':
            noise = np.random.standard_normal((h, w, 3))
        elif self.mode == 'rand':
            noise = np.random.standard_normal((1, 1, 3))
        else:
            noise = np.zeros((1, 1, 3))
        values = np.rint(self.mean + self.std * noise)
        return np.clip(values, 0, 255).astype(np.uint8)

    def _erase(self, frame: np.ndarray, boxes) -> np.ndarray:
        if not boxes:
            return frame
        frame = frame.copy()
        for top, left, h, w in boxes:
            frame[top:top + h, left:left + w] = self._fill(h, w)
        return frame

    def transform(self, results: Dict) -> Dict:
        imgs = check_frames(results, type(self).__name__)
        height, width = imgs[0].shape[:2]
        if self.same_region:
            boxes = self.sample_boxes(height, width)
            if not boxes:
                return results
            out = [self._erase(frame, boxes) for frame in imgs]
        else:
            out = [self._erase(frame, self.sample_boxes(height, width))
                   for frame in imgs]
        results['imgs'] = _like(imgs, out)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(erase_prob={self.erase_prob}, '
                f'mode={self.mode!r}, count=({self.min_count}, '
                f'{self.max_count}), area=({self.min_area}, {self.max_area}), '
                f'same_region_across_frames={self.same_region})')
