"""Procedural video-text scenes: scene spec, caption grammar, frame renderer.

A clip shows one or two large, saturated objects on a dark background. Its
caption composes ``colour x shape x motion`` for every object, e.g. ``"a red
circle moves left and a blue square grows"``; the background is never
described. Solving text-to-video retrieval therefore needs appearance (the
first frame tells colour and shape) *and* motion (``moves left`` and ``moves
right`` share their first frame).

Geometry is stored in frame-relative units (fractions of the frame side), so
one :class:`SceneSpec` renders at any resolution. All randomness comes from
the ``numpy.random.Generator`` handed to :func:`sample_scene`; the renderer is
deterministic given the spec.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

# Saturated RGB colours far from the dark backgrounds (every background base
# channel is <= 70, every colour has a channel >= 220) so an object stays
# recognisable from the few 16x16 cells left visible by 90% tube masking.
COLOURS: Dict[str, Tuple[int, int, int]] = {
    'red': (235, 30, 30),
    'green': (30, 220, 50),
    'blue': (40, 90, 255),
    'yellow': (245, 230, 30),
    'purple': (165, 50, 230),
    'cyan': (30, 225, 235),
    'orange': (255, 140, 0),
    'white': (245, 245, 245),
}

SHAPES: Tuple[str, ...] = ('circle', 'square', 'triangle', 'star', 'diamond')

# Canonical motion name -> caption forms used by the templates below:
# (present, present variant, progressive, bare participle).
MOTIONS: Dict[str, Tuple[str, str, str, str]] = {
    'moves left': ('moves left', 'moves to the left', 'is moving left',
                   'moving left'),
    'moves right': ('moves right', 'moves to the right', 'is moving right',
                    'moving right'),
    'moves up': ('moves up', 'moves upward', 'is moving up', 'moving up'),
    'moves down': ('moves down', 'moves downward', 'is moving down',
                   'moving down'),
    'grows': ('grows', 'gets bigger', 'is growing', 'growing'),
    'shrinks': ('shrinks', 'gets smaller', 'is shrinking', 'shrinking'),
    'rotates': ('rotates', 'spins around', 'is rotating', 'rotating'),
    'stays still': ('stays still', 'does not move', 'is standing still',
                    'standing still'),
}

# Caption templates: (article, index into the MOTIONS forms). Every template
# keeps the content words, so retrieval cannot be solved from the template.
TEMPLATES: Tuple[Tuple[str, int], ...] = (
    ('a ', 0),      # a red circle moves left
    ('a ', 1),      # a red circle moves to the left
    ('a ', 2),      # a red circle is moving left
    ('', 3),        # red circle moving left
    ('the ', 0),    # the red circle moves left
)

# A rotating circle looks exactly like a still one.
_NO_ROTATION = ('circle',)

# Outline scale per shape (relative to half the nominal extent), so that
# the shapes have visually similar areas.
_SHAPE_SCALE = {'circle': 1.0, 'square': 0.9, 'triangle': 1.25,
                'star': 1.3, 'diamond': 1.1}
# Farthest outline point from the centre, in the same units, at any angle
# (a square's corner lies sqrt(2) half-sides away).
_REACH = {'circle': 1.0, 'square': 0.9 * np.sqrt(2), 'triangle': 1.25,
          'star': 1.3, 'diamond': 1.1}

_TRANSLATIONS = {'moves left': (-1, 0), 'moves right': (1, 0),
                 'moves up': (0, -1), 'moves down': (0, 1)}

_MARGIN = 0.02          # keep objects this far (frame fraction) from borders
_SUBPIXEL_BITS = 4      # cv2 fixed-point shift: 1/16 pixel positions


@dataclass
class ObjectSpec:
    """One object and its trajectory, in frame-relative units.

    Attributes:
        colour, shape, motion: keys of COLOURS, SHAPES and MOTIONS.
        start, end: (x, y) centre at the first and last frame, in [0, 1].
        extent_start, extent_end: bounding extent (fraction of the frame
            side) at the first and last frame.
        angle_start, angle_end: orientation in degrees (counter-clockwise).
    """
    colour: str
    shape: str
    motion: str
    start: Tuple[float, float]
    end: Tuple[float, float]
    extent_start: float
    extent_end: float
    angle_start: float = 0.0
    angle_end: float = 0.0

    def at(self, p: float) -> Tuple[float, float, float, float]:
        """State at clip progress ``p`` in [0, 1]: (x, y, extent, angle)."""
        x = self.start[0] + p * (self.end[0] - self.start[0])
        y = self.start[1] + p * (self.end[1] - self.start[1])
        extent = self.extent_start + p * (self.extent_end - self.extent_start)
        angle = self.angle_start + p * (self.angle_end - self.angle_start)
        return x, y, extent, angle

    def phrase(self, form: int) -> str:
        """``"red circle moves left"`` with the motion in the given form."""
        return f'{self.colour} {self.shape} {MOTIONS[self.motion][form]}'


@dataclass
class Background:
    """Dark backdrop: a solid colour or a linear gradient, plus static noise.

    Attributes:
        kind: ``'solid'`` or ``'gradient'``.
        colour_a, colour_b: RGB colours (``colour_b`` only for gradients).
        direction: gradient direction in degrees.
        noise_std: standard deviation of the per-pixel noise (0-255 scale).
        noise_seed: seeds the noise texture, so the spec stays small.
    """
    kind: str
    colour_a: Tuple[int, int, int]
    colour_b: Tuple[int, int, int]
    direction: float
    noise_std: float
    noise_seed: int


@dataclass
class SceneSpec:
    """A whole clip: background, objects (in drawing order) and caption."""
    background: Background
    objects: List[ObjectSpec] = field(default_factory=list)
    caption: str = ''


# ----------------------------------------------------------------------------
# sampling
# ----------------------------------------------------------------------------
def _dark_colour(rng: np.random.Generator) -> Tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(0, 71, size=3))


def sample_background(rng: np.random.Generator) -> Background:
    """Draw a dark solid or gradient background with mild noise."""
    kind = 'solid' if rng.random() < 0.5 else 'gradient'
    return Background(kind=kind, colour_a=_dark_colour(rng),
                      colour_b=_dark_colour(rng),
                      direction=float(rng.uniform(0, 360)),
                      noise_std=float(rng.uniform(2, 8)),
                      noise_seed=int(rng.integers(0, 2**31)))


def _sample_trajectory(rng: np.random.Generator, colour: str, shape: str,
                       motion: str, scale: float) -> ObjectSpec:
    """Place one object and give it a clearly visible motion.

    Sizes (nominal extent; drawn shapes span ~5-10% more): moving, rotating
    and still objects 34-44% of the frame side (times ``scale``); growing
    ones go from 22-26% to 40-46%, shrinking ones the reverse. Translations
    cover 30-50% of the frame side.
    """
    angle_end = 0.0
    if motion in ('grows', 'shrinks'):
        small = rng.uniform(0.22, 0.26) * scale
        large = rng.uniform(0.40, 0.46) * scale
        extent_start, extent_end = ((small, large) if motion == 'grows'
                                    else (large, small))
        half = large / 2 * _REACH[shape]
        lo, hi = half + _MARGIN, 1 - half - _MARGIN
        centre = (float(rng.uniform(lo, hi)), float(rng.uniform(lo, hi)))
        start = end = centre
    else:
        extent_start = extent_end = rng.uniform(0.34, 0.44) * scale
        half = extent_start / 2 * _REACH[shape]
        lo, hi = half + _MARGIN, 1 - half - _MARGIN
        if motion in _TRANSLATIONS:
            dx, dy = _TRANSLATIONS[motion]
            travel = rng.uniform(0.3, max(0.3, min(0.5, hi - lo)))
            along0 = rng.uniform(lo + travel, hi) if (dx or dy) < 0 else \
                rng.uniform(lo, hi - travel)
            along1 = along0 + travel * (dx or dy)
            across = rng.uniform(lo, hi)
            if dx:
                start, end = (along0, across), (along1, across)
            else:
                start, end = (across, along0), (across, along1)
        else:
            centre = (rng.uniform(lo, hi), rng.uniform(lo, hi))
            start = end = centre
        if motion == 'rotates':
            # 100-160 degrees: at most 10 degrees between frames sampled at
            # interval 2 of 32, well under half the square's 90-degree
            # symmetry, so the direction of rotation stays unambiguous.
            angle_end = float(rng.uniform(100, 160) * rng.choice([-1, 1]))
    return ObjectSpec(colour=colour, shape=shape, motion=motion,
                      start=(float(start[0]), float(start[1])),
                      end=(float(end[0]), float(end[1])),
                      extent_start=float(extent_start),
                      extent_end=float(extent_end),
                      angle_start=0.0, angle_end=angle_end)


def _min_gap(a: ObjectSpec, b: ObjectSpec, steps: int = 9) -> float:
    """Smallest (centre distance - sum of outline radii) over the clip."""
    gaps = []
    for p in np.linspace(0, 1, steps):
        xa, ya, ea, _ = a.at(p)
        xb, yb, eb, _ = b.at(p)
        reach = (ea * _SHAPE_SCALE[a.shape] + eb * _SHAPE_SCALE[b.shape]) / 2
        gaps.append(np.hypot(xa - xb, ya - yb) - reach)
    return float(min(gaps))


def _with_article(article: str, phrase: str) -> str:
    if article == 'a ' and phrase[0] in 'aeiou':
        return 'an ' + phrase      # "an orange star"
    return article + phrase


def _choice(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def sample_scene(rng: np.random.Generator,
                 num_objects: Optional[int] = None,
                 colours: Optional[Sequence[str]] = None,
                 shapes: Optional[Sequence[str]] = None,
                 motions: Optional[Sequence[str]] = None) -> SceneSpec:
    """Draw a random scene and its caption.

    Args:
        rng: the clip's own generator; the scene depends on nothing else.
        num_objects: 1 or 2; None draws 1 (40%) or 2 (60%).
        colours, shapes, motions: optionally force the attributes of the
            objects, one entry per object (tests use this). Two objects
            always get different colours and different shapes.

    Returns:
        SceneSpec with ``.caption`` set.
    """
    if num_objects is None:
        num_objects = 1 if rng.random() < 0.4 else 2
    if num_objects not in (1, 2):
        raise ValueError(f'num_objects must be 1 or 2, got {num_objects}')
    background = sample_background(rng)

    picked_colours = list(colours) if colours else [
        str(c) for c in rng.choice(list(COLOURS), size=num_objects,
                                   replace=False)]
    picked_shapes = list(shapes) if shapes else []
    picked_motions = list(motions) if motions else []
    for i in range(num_objects):
        if len(picked_shapes) <= i:
            pool = [s for s in SHAPES if s not in picked_shapes]
            if len(picked_motions) > i and picked_motions[i] == 'rotates':
                pool = [s for s in pool if s not in _NO_ROTATION]
            picked_shapes.append(_choice(rng, pool))
        if len(picked_motions) <= i:
            pool = [m for m in MOTIONS if not (
                m == 'rotates' and picked_shapes[i] in _NO_ROTATION)]
            picked_motions.append(_choice(rng, pool))
    for name, values, allowed in (('colours', picked_colours, COLOURS),
                                  ('shapes', picked_shapes, SHAPES),
                                  ('motions', picked_motions, MOTIONS)):
        if len(values) != num_objects or any(v not in allowed for v in values):
            raise ValueError(f'{name} must list {num_objects} of '
                             f'{list(allowed)}, got {values}')
    if len(set(picked_colours)) < num_objects or \
            len(set(picked_shapes)) < num_objects:
        raise ValueError('two objects need different colours and shapes')

    # Two objects are a bit smaller; retry layouts to avoid overlaps.
    scale = 1.0 if num_objects == 1 else 0.85
    best, best_gap = None, -np.inf
    for _ in range(100):
        objects = [_sample_trajectory(rng, picked_colours[i], picked_shapes[i],
                                      picked_motions[i], scale)
                   for i in range(num_objects)]
        gap = _min_gap(*objects) if num_objects == 2 else 0.0
        if gap > best_gap:
            best, best_gap = objects, gap
        if gap >= 0:
            break

    article, form = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    order = list(range(num_objects))
    if num_objects == 2 and rng.random() < 0.5:
        order.reverse()
    caption = ' and '.join(_with_article(article, best[i].phrase(form))
                           for i in order)
    return SceneSpec(background=background, objects=best, caption=caption)


# ----------------------------------------------------------------------------
# rendering
# ----------------------------------------------------------------------------
def render_background(bg: Background, size: int) -> np.ndarray:
    """Render the backdrop: (size, size, 3) uint8 RGB."""
    a = np.asarray(bg.colour_a, np.float32)
    if bg.kind == 'gradient':
        b = np.asarray(bg.colour_b, np.float32)
        coords = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
        theta = np.deg2rad(bg.direction)
        ramp = (np.cos(theta) * coords[None, :] +
                np.sin(theta) * coords[:, None])          # (H, W)
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        image = a + ramp[..., None] * (b - a)
    else:
        image = np.broadcast_to(a, (size, size, 3))
    noise = np.random.default_rng(bg.noise_seed).normal(
        0.0, bg.noise_std, size=(size, size, 3)).astype(np.float32)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _unit_outline(shape: str) -> np.ndarray:
    """Polygon vertices (N, 2) of a shape of radius ~1, pointing up."""
    if shape == 'square':
        return np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64)
    if shape == 'triangle':
        # Image y grows downwards: -90 degrees is the top vertex.
        t = np.deg2rad(-90 + np.arange(3) * 120)
        return np.stack([np.cos(t), np.sin(t)], 1)
    if shape == 'star':
        t = np.deg2rad(-90 + np.arange(10) * 36)
        r = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
        return np.stack([r * np.cos(t), r * np.sin(t)], 1)
    if shape == 'diamond':
        # Elongated so that a rotating square never looks like a diamond.
        return np.array([[0, -1], [0.65, 0], [0, 1], [-0.65, 0]], np.float64)
    raise ValueError(f'unknown polygon shape {shape!r}')


def draw_object(frame: np.ndarray, obj: ObjectSpec, p: float) -> None:
    """Draw ``obj`` at progress ``p`` onto ``frame`` (H, W, 3) in place."""
    size = frame.shape[0]
    x, y, extent, angle = obj.at(p)
    radius = extent / 2 * _SHAPE_SCALE[obj.shape] * size
    colour = COLOURS[obj.colour]
    one = 1 << _SUBPIXEL_BITS
    centre = (int(round(x * size * one)), int(round(y * size * one)))
    if obj.shape == 'circle':
        cv2.circle(frame, centre, int(round(radius * one)), colour,
                   thickness=-1, lineType=cv2.LINE_AA, shift=_SUBPIXEL_BITS)
        return
    pts = _unit_outline(obj.shape) * radius
    # Counter-clockwise on screen (y points down).
    t = np.deg2rad(angle)
    rot = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
    pts = pts @ rot.T + np.array([x, y]) * size
    pts = np.round(pts * one).astype(np.int32)
    cv2.fillPoly(frame, [pts], colour, lineType=cv2.LINE_AA,
                 shift=_SUBPIXEL_BITS)


def render_clip(spec_or_rng: Union[SceneSpec, np.random.Generator],
                num_frames: int = 32, size: int = 112) -> np.ndarray:
    """Render a clip.

    Args:
        spec_or_rng: a :class:`SceneSpec`, or a generator to draw one with
            :func:`sample_scene`.
        num_frames: T, number of frames; motion spans the whole clip.
        size: frame side in pixels (frames are square).

    Returns:
        (T, size, size, 3) uint8 array in RGB order.
    """
    spec = spec_or_rng if isinstance(spec_or_rng, SceneSpec) else \
        sample_scene(spec_or_rng)
    background = render_background(spec.background, size)
    clip = np.empty((num_frames, size, size, 3), np.uint8)
    for t in range(num_frames):
        p = t / (num_frames - 1) if num_frames > 1 else 0.0
        frame = background.copy()
        for obj in spec.objects:
            draw_object(frame, obj, p)
        clip[t] = frame
    return clip
