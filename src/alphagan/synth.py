"""Procedural matting foregrounds with exactly known alpha: training data the project makes itself.

A foreground is a stack of layers kept premultiplied, a colour-times-alpha image ``P``
(H, W, 3) and an alpha ``A`` (H, W), composited back to front with the "over" operator::

    P = P_top + (1 - A_top) * P_below        A = A_top + (1 - A_top) * A_below

Thin things (hair, fur, filaments, nets, webs) and polygon edges are drawn with OpenCV on a
canvas ``SUPERSAMPLE`` times the output size and reduced with ``INTER_AREA``, so a pixel's alpha
is the fraction of it the object covers: a strand a quarter of a pixel wide gets alpha ~0.25.
Strands are drawn as ``(r, g, b, 1) * 255`` into a four-channel canvas: OpenCV's anti-aliased
blending ``new = old * (1 - c) + value * c`` is then itself the over operator, so thousands of
strands of different colours share one canvas. Blurs (motion, defocus) are applied to ``P``
and ``A`` together, which keeps the colours meaningful at the blurred edges.

The colour image handed out is ``F = P / A`` where the object covers a pixel fully, a smooth
extension of the object's colours where ``A`` is 0, and a blend of the two where ``A`` is small
(compositing ``a F + (1 - a) B`` reads ``F`` everywhere, and resampling mixes neighbours).

Written sets use the ``folder`` layout that :class:`~alphagan.data.CompositionDataset` reads:
``OUT/fg/<name>.png`` + ``OUT/alpha/<name>.png`` (see :func:`write_synth_dataset`).
"""

from __future__ import annotations

import argparse
import colorsys
import sys
import warnings
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from alphagan.errors import InputError, UsageError
from alphagan.subparsers import build_synth_parser

__all__ = [
    "SUPERSAMPLE",
    "smooth_noise",
    "strand_paths",
    "draw_strands",
    "synth_foreground",
    "textured_foreground_from_alpha",
    "write_synth_dataset",
    "build_synth_parser",
    "run_synth",
]

SUPERSAMPLE = 4  # drawing canvas side / output side
_SHIFT = 2  # fractional bits of the OpenCV point coordinates on the supersampled canvas

# Output alpha below 1/255 is exactly 0 and above 254/255 exactly 1, so the 8-bit file has a
# clean background and solid core (a 1e-4 haze would make every pixel "unknown").
_ZERO, _ONE = 1.0 / 255.0, 254.0 / 255.0

# Acceptance of a generated foreground (fractions of the canvas).
_MIN_BACKGROUND = 0.10
_MIN_SOLID = 0.005
_MIN_SOFT, _MAX_SOFT = 0.01, 0.85

# Natural hair and fur colours (linear-ish sRGB in [0, 1]): black, browns, auburn, ginger,
# blondes, grey, white.
_HAIR_COLOURS = np.array(
    [
        [0.04, 0.03, 0.03], [0.10, 0.07, 0.05], [0.20, 0.12, 0.07], [0.35, 0.22, 0.13],
        [0.55, 0.40, 0.27], [0.50, 0.20, 0.10], [0.75, 0.40, 0.17], [0.80, 0.66, 0.44],
        [0.92, 0.84, 0.66], [0.60, 0.58, 0.55], [0.93, 0.92, 0.89],
    ],
    np.float32,
)

Layer = tuple[np.ndarray, np.ndarray]  # (P (H, W, 3) premultiplied colour, A (H, W)), float32


# --------------------------------------------------------------------------------------------
# Noise and colours


def smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int,
                 channels: int = 1) -> np.ndarray:
    """Low-frequency noise in [0,1]: a ``cells``-wide random grid upsampled bicubically.

    Returns float32 (height, width, channels).
    """
    grid = rng.random((cells, max(2, cells * width // height), channels)).astype(np.float32)
    out = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    out = out.reshape(height, width, channels)
    lo, hi = out.min(), out.max()
    return (out - lo) / max(hi - lo, 1e-6)


def _fractal(rng: np.random.Generator, h: int, w: int, cells: int, octaves: int,
             persistence: float = 0.5) -> np.ndarray:
    """(h, w) float32 in [0, 1]: octaves of ``smooth_noise`` at doubling frequencies."""
    total = np.zeros((h, w), np.float32)
    amplitude = 1.0
    for octave in range(octaves):
        total += amplitude * smooth_noise(rng, h, w, min(cells << octave, max(h, w) // 2))[..., 0]
        amplitude *= persistence
    lo, hi = total.min(), total.max()
    return (total - lo) / max(hi - lo, 1e-6)


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    hue, sat, val = rng.random(), rng.random() ** 0.8, rng.uniform(0.08, 1.0)
    return np.array(colorsys.hsv_to_rgb(hue, sat, val), np.float32)


def _hair_colour(rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.75:
        base = _HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))] * rng.uniform(0.85, 1.15)
        return np.clip(base + rng.normal(0.0, 0.02, 3), 0.0, 1.0).astype(np.float32)
    return _random_colour(rng)


def _texture(rng: np.random.Generator, h: int, w: int,
             colour: np.ndarray | None = None) -> np.ndarray:
    """A colour field (h, w, 3) float32 in [0, 1]: flat, gradient, noise, stripes or spots."""
    c1 = _random_colour(rng) if colour is None else colour
    if rng.random() < 0.6:  # a related second colour: shade or tint of the first
        c2 = np.clip(c1 * rng.uniform(0.4, 1.6) + rng.normal(0.0, 0.08, 3), 0.0, 1.0)
    else:
        c2 = _random_colour(rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    kind = rng.integers(5)
    if kind == 0:  # flat
        t = np.zeros((h, w), np.float32)
    elif kind == 1:  # linear or radial gradient
        if rng.random() < 0.6:
            angle = rng.uniform(0, 2 * np.pi)
            t = xx * np.cos(angle) + yy * np.sin(angle)
        else:
            t = np.hypot(xx - rng.uniform(0, w), yy - rng.uniform(0, h))
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    elif kind == 2:  # smooth noise
        t = _fractal(rng, h, w, int(rng.integers(2, 8)), int(rng.integers(1, 5)))
    elif kind == 3:  # warped stripes, soft or crisp
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(4.0, 0.15 * max(h, w))
        warp = rng.uniform(0.0, 6.0) * _fractal(rng, h, w, 3, 2)
        phase = (xx * np.cos(angle) + yy * np.sin(angle)) * (2 * np.pi / period) + warp
        sharp = rng.uniform(1.0, 6.0)
        t = np.clip(0.5 + 0.5 * sharp * np.sin(phase), 0.0, 1.0)
    else:  # spots (thresholded noise with soft edges)
        noise = _fractal(rng, h, w, int(rng.integers(4, 16)), 2)
        t = np.clip((noise - rng.uniform(0.45, 0.7)) * rng.uniform(8.0, 30.0), 0.0, 1.0)
    tex = c1 + t[..., None] * (c2 - c1)
    if rng.random() < 0.6:  # broad shading
        tex = tex * (rng.uniform(0.55, 0.85) + 0.3 * smooth_noise(rng, h, w, 3))
    grain = rng.uniform(0.0, 0.03)
    if grain > 0.005:  # sensor-like grain, so flat colours are not perfectly flat
        tex = tex + grain * rng.standard_normal((h, w, 1), dtype=np.float32)
    return np.clip(tex, 0.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Supersampled drawing


def _ss_points(points: np.ndarray) -> np.ndarray:
    """Output-pixel (x, y) coordinates (pixel centres on integers) -> int32 canvas points.

    The canvas is ``SUPERSAMPLE`` times larger and the points carry ``_SHIFT`` fraction bits.
    """
    ss = ((np.asarray(points, np.float64) + 0.5) * SUPERSAMPLE - 0.5) * (1 << _SHIFT)
    return np.rint(np.clip(ss, -(2**28), 2**28)).astype(np.int32)


def _reduce(canvas: np.ndarray, h: int, w: int) -> np.ndarray:
    """A uint8 supersampled canvas -> float32 (h, w[, c]) in [0, 1] by area averaging."""
    return cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _fill(h: int, w: int, polygons: Sequence[np.ndarray],
          holes: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Coverage (h, w) float32 of the union of ``polygons`` minus ``holes`` ((N, 2) x, y)."""
    canvas = np.zeros((h * SUPERSAMPLE, w * SUPERSAMPLE), np.uint8)
    for value, group in ((255, polygons), (0, holes)):
        for poly in group:  # one call each: fillPoly fills overlaps even-odd
            cv2.fillPoly(canvas, [_ss_points(poly)], value, cv2.LINE_AA, shift=_SHIFT)
    return _reduce(canvas, h, w)


def _ellipse(cx: float, cy: float, rx: float, ry: float, rotation: float = 0.0,
             n: int = 128) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return _place(np.stack([rx * np.cos(t), ry * np.sin(t)], 1), cx, cy, rotation)


def _place(points: np.ndarray, cx: float, cy: float, rotation: float) -> np.ndarray:
    """Rotate local (x, y) points by ``rotation`` and move the origin to (cx, cy)."""
    c, s = np.cos(rotation), np.sin(rotation)
    x, y = points[..., 0], points[..., 1]
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], -1)


def strand_paths(roots: np.ndarray, angles: np.ndarray, lengths: np.ndarray, *,
                 points: int = 16, curl: np.ndarray | float = 0.0,
                 wave_amplitude: np.ndarray | float = 0.0,
                 wave_cycles: np.ndarray | float = 1.0, wave_phase: np.ndarray | float = 0.0,
                 droop: np.ndarray | float = 0.0,
                 gravity: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """Polylines of N hair strands: (N, points + 1, 2) float (x, y) in output pixels.

    Each strand starts at ``roots[i]`` (N, 2) heading ``angles[i]`` (radians, image
    coordinates: 0 = +x, pi/2 = down) and has arc length ``lengths[i]``. Its heading turns
    by ``curl`` radians over the whole length, oscillates by ``wave_amplitude`` radians
    ``wave_cycles`` times (curly or wavy hair), and bends towards the unit vector ``gravity``
    by ``droop`` (0: straight on, 1: hanging at the tip). Every per-strand argument may be a
    scalar or an (N,) array.
    """
    n = len(roots)
    s = np.linspace(0.0, 1.0, points + 1)[None, :]  # (1, K)

    def col(v: np.ndarray | float) -> np.ndarray:
        return np.broadcast_to(np.asarray(v, np.float64), (n,))[:, None]

    amp, cycles, phase = col(wave_amplitude), col(wave_cycles), col(wave_phase)
    theta = (col(angles) + col(curl) * s
             + amp * (np.sin(2 * np.pi * cycles * s + phase) - np.sin(phase)))  # (N, K)
    direction = np.stack([np.cos(theta), np.sin(theta)], -1)  # (N, K, 2)
    bend = np.clip(col(droop) * s, 0.0, 1.0)[..., None]
    direction = (1.0 - bend) * direction + bend * np.asarray(gravity, np.float64)
    direction /= np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), 1e-6)
    steps = direction[:, :-1] * (col(lengths) / points)[..., None]  # (N, K-1, 2)
    path = np.concatenate([np.zeros((n, 1, 2)), np.cumsum(steps, axis=1)], axis=1)
    return path + np.asarray(roots, np.float64)[:, None, :]


def draw_strands(size: tuple[int, int], paths: np.ndarray, colours: np.ndarray,
                 thickness: np.ndarray, opacity: np.ndarray, *, taper: bool = True) -> Layer:
    """Draw thin anti-aliased polylines; returns the layer ``(P (H, W, 3), A (H, W))`` float32.

    ``size`` (H, W); ``paths`` (N, K, 2) output-pixel (x, y), e.g. from :func:`strand_paths`;
    ``colours`` (N, 3) in [0, 1]; ``thickness`` (N,) OpenCV line thickness on the
    supersampled canvas (at ``SUPERSAMPLE`` 4: 1, 2, 3 draw about 0.34, 0.84 and 1.35 output
    pixels wide); ``opacity`` (N,) in (0, 1]. ``P`` is premultiplied (colour * ``A``).
    Strands sharing an opacity share one supersampled canvas, so pass a few distinct
    opacities, not one per strand. Colours are rounded to 1/32 and strands are drawn in
    groups of equal (colour, thickness). With ``taper`` the last third of strands thicker than
    1 is drawn one step thinner, like a hair's tip.
    """
    h, w = size
    paths = np.asarray(paths)
    if paths.ndim != 3 or paths.shape[2] != 2:
        raise ValueError(f"paths must be (N, K, 2), got shape {paths.shape}")
    n, k = paths.shape[:2]
    colours = np.asarray(colours)
    opacity = np.asarray(opacity, np.float64)
    thickness = np.maximum(np.asarray(thickness, np.int64), 1)
    if colours.shape != (n, 3) or opacity.shape != (n,) or thickness.shape != (n,):
        raise ValueError(f"colours (N, 3), thickness (N,) and opacity (N,) must match "
                         f"{n} paths, got {colours.shape}, {thickness.shape}, {opacity.shape}")
    pts = _ss_points(paths)
    shades = np.rint(np.clip(colours, 0.0, 1.0) * 32).astype(np.int64)
    split = max(1, (2 * k) // 3)
    layer: Layer | None = None
    for level in np.unique(opacity):
        canvas = np.zeros((h * SUPERSAMPLE, w * SUPERSAMPLE, 4), np.uint8)
        chosen = np.flatnonzero(opacity == level)
        key = ((shades[chosen, 0] * 33 + shades[chosen, 1]) * 33 + shades[chosen, 2]) * 64 \
            + np.minimum(thickness[chosen], 63)
        order = chosen[np.argsort(key, kind="stable")]
        bounds = np.flatnonzero(np.diff(np.sort(key))) + 1
        for group in np.split(order, bounds):
            shade = shades[group[0]] * (255.0 / 32.0)
            value = (float(shade[0]), float(shade[1]), float(shade[2]), 255.0)
            t = int(thickness[group[0]])
            if taper and t > 1 and k > 3:
                cv2.polylines(canvas, list(pts[group, : split + 1]), False, value, t,
                              cv2.LINE_AA, shift=_SHIFT)
                cv2.polylines(canvas, list(pts[group, split:]), False, value, t - 1,
                              cv2.LINE_AA, shift=_SHIFT)
            else:
                cv2.polylines(canvas, list(pts[group]), False, value, t, cv2.LINE_AA,
                              shift=_SHIFT)
        small = _reduce(canvas, h, w) * np.float32(level)
        drawn: Layer = (small[..., :3], small[..., 3])
        layer = drawn if layer is None else _over(drawn, layer)
    if layer is None:
        return np.zeros((h, w, 3), np.float32), np.zeros((h, w), np.float32)
    return layer


def _over(top: Layer, below: Layer) -> Layer:
    p_top, a_top = top
    p_below, a_below = below
    keep = 1.0 - a_top
    return p_top + keep[..., None] * p_below, a_top + keep * a_below


def _solid_layer(alpha: np.ndarray, texture: np.ndarray) -> Layer:
    return texture * alpha[..., None], alpha


def _blur(layer: Layer, kernel: np.ndarray) -> Layer:
    """Convolve P and A with the same kernel (outside the canvas counts as empty)."""
    p, a = layer
    p = cv2.filter2D(p, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    a = cv2.filter2D(a, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    return np.clip(p, 0.0, None), np.clip(a, 0.0, 1.0)


def _gaussian(layer: Layer, sigma: float) -> Layer:
    p, a = layer
    p = cv2.GaussianBlur(p, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    a = cv2.GaussianBlur(a, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    return p, np.clip(a, 0.0, 1.0)


def _motion_kernel(length: float, angle: float) -> np.ndarray:
    """A normalised, anti-aliased line kernel of ``length`` pixels at ``angle`` radians."""
    side = int(np.ceil(length)) | 1
    half = (side - 1) / 2
    dx, dy = 0.5 * length * np.cos(angle), 0.5 * length * np.sin(angle)
    canvas = np.zeros((side * SUPERSAMPLE, side * SUPERSAMPLE), np.uint8)
    ends = _ss_points(np.array([[half - dx, half - dy], [half + dx, half + dy]]))
    cv2.line(canvas, tuple(ends[0]), tuple(ends[1]), 255, SUPERSAMPLE, cv2.LINE_AA,
             shift=_SHIFT)
    kernel = _reduce(canvas, side, side)
    return kernel / max(float(kernel.sum()), 1e-6)


# --------------------------------------------------------------------------------------------
# Solid shapes (alpha only)


_SQUARE = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64)


def _blob(rng: np.random.Generator, h: int, w: int, cx: float, cy: float, radius: float,
          rotation: float) -> np.ndarray:
    """Thresholded smooth noise around a centre, with a 1-px anti-aliased edge."""
    yy, xx = np.ogrid[0:h, 0:w]
    aspect = rng.uniform(0.6, 1.0)
    r = np.sqrt(((xx - cx) / radius) ** 2 + ((yy - cy) / (radius * aspect)) ** 2)
    noise = _fractal(rng, h, w, int(rng.integers(2, 6)), 2) - 0.5
    field = (1.0 - r + rng.uniform(0.4, 1.2) * noise).astype(np.float32)
    gy, gx = np.gradient(field)
    # field / |grad| is the signed distance (pixels) to the zero level: a 1-px ramp.
    return np.clip(field / np.maximum(np.hypot(gx, gy), 1e-6) + 0.5, 0.0, 1.0)


def _ellipse_body(rng: np.random.Generator, h: int, w: int, cx: float, cy: float,
                  radius: float, rotation: float) -> np.ndarray:
    return _fill(h, w, [_ellipse(cx, cy, radius, radius * rng.uniform(0.4, 1.0), rotation)])


def _polygon(rng: np.random.Generator, h: int, w: int, cx: float, cy: float, radius: float,
             rotation: float) -> np.ndarray:
    """3-9 corners at random angles and radii: convex or mildly concave."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(3, 10))))
    radii = radius * rng.uniform(0.6, 1.0, len(angles))
    local = np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)
    return _fill(h, w, [_place(local, cx, cy, rotation)])


def _star(rng: np.random.Generator, h: int, w: int, cx: float, cy: float, radius: float,
          rotation: float) -> np.ndarray:
    """4-11 points: sharp concave corners."""
    angles = np.linspace(0, 2 * np.pi, 2 * int(rng.integers(4, 12)), endpoint=False)
    radii = radius * rng.uniform(0.6, 1.0, len(angles))
    radii[1::2] *= rng.uniform(0.3, 0.7)
    local = np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)
    return _fill(h, w, [_place(local, cx, cy, rotation)])


def _ring(rng: np.random.Generator, h: int, w: int, cx: float, cy: float, radius: float,
          rotation: float) -> np.ndarray:
    """An elliptical ring with an off-centre hole."""
    ry = radius * rng.uniform(0.5, 1.0)
    inner = rng.uniform(0.35, 0.8)
    off = radius * (1 - inner) * rng.uniform(-0.3, 0.3, 2)
    return _fill(h, w, [_ellipse(cx, cy, radius, ry, rotation)],
                 [_ellipse(cx + off[0], cy + off[1], radius * inner, ry * inner, rotation)])


def _lattice(rng: np.random.Generator, h: int, w: int, cx: float, cy: float, radius: float,
             rotation: float) -> np.ndarray:
    """A disc or plate pierced by a grid of round or square holes (grille, colander)."""
    if rng.random() < 0.5:
        outline = _ellipse(cx, cy, radius, radius * rng.uniform(0.6, 1.0), rotation)
    else:
        outline = _place(_SQUARE * radius * rng.uniform(0.6, 0.8), cx, cy, rotation)
    spacing = radius * rng.uniform(0.15, 0.4)
    hole = spacing * rng.uniform(0.2, 0.4)
    grid = np.arange(-radius, radius + spacing, spacing)
    gx, gy = np.meshgrid(grid, grid)
    centres = _place(np.stack([gx.ravel(), gy.ravel()], 1), cx, cy, rotation)
    if rng.random() < 0.5:
        holes = [_ellipse(x, y, hole, hole, n=32) for x, y in centres]
    else:
        holes = [_place(_SQUARE * hole, x, y, rotation) for x, y in centres]
    return _fill(h, w, [outline], holes)


def _leaf(rng: np.random.Generator, h: int, w: int, cx: float, cy: float, radius: float,
          rotation: float) -> np.ndarray:
    """A leaf with an optionally serrated margin, a stalk and insect-bitten holes."""
    length, width = 2.0 * radius, 2.0 * radius * rng.uniform(0.2, 0.5)
    t = np.linspace(0.0, 1.0, 120)
    taper = 1.0 - 0.4 * t * rng.random()
    half = 0.5 * width * np.sin(np.pi * t) ** rng.uniform(0.6, 1.2) * taper
    teeth = rng.integers(0, 30)
    if teeth:
        half = half * (1.0 - rng.uniform(0.03, 0.12) * np.abs(np.sin(np.pi * teeth * t)))
    x = length * (t - 0.5)
    blade = np.concatenate([np.stack([x, half], 1), np.stack([x, -half], 1)[::-1]])
    stalk = _SQUARE * [0.15 * length, 0.012 * length] - [0.6 * length, 0.0]
    holes = []
    for _ in range(int(rng.integers(0, 6))):
        i = int(rng.uniform(0.15, 0.85) * (len(t) - 1))
        r_hole = rng.uniform(0.03, 0.12) * length
        hole = _ellipse(x[i], rng.uniform(-0.6, 0.6) * half[i], r_hole,
                        r_hole * rng.uniform(0.5, 1.0), rng.uniform(0, np.pi), n=40)
        holes.append(_place(hole, cx, cy, rotation))
    return _fill(h, w, [_place(blade, cx, cy, rotation), _place(stalk, cx, cy, rotation)],
                 holes)


_BODIES = {
    "blob": _blob, "ellipse": _ellipse_body, "polygon": _polygon, "star": _star,
    "ring": _ring, "lattice": _lattice, "leaf": _leaf,
}


def _body_alpha(rng: np.random.Generator, h: int, w: int, centre: tuple[float, float],
                radius: float, kind: str) -> np.ndarray:
    """Alpha (h, w) float32 of a solid body of ``kind`` (a key of ``_BODIES``)."""
    return _BODIES[kind](rng, h, w, centre[0], centre[1], radius, rng.uniform(0, 2 * np.pi))


def _contour_points(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points on the 0.5 level of ``alpha`` and the outward unit normals there: (M, 2) each."""
    mask = (alpha > 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return np.zeros((0, 2)), np.zeros((0, 2))
    pts = np.concatenate([c.reshape(-1, 2) for c in contours]).astype(np.int64)
    smooth = cv2.GaussianBlur(alpha, (0, 0), 2.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0)[pts[:, 1], pts[:, 0]]
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1)[pts[:, 1], pts[:, 0]]
    normal = -np.stack([gx, gy], 1).astype(np.float64)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-6)
    return pts.astype(np.float64), normal


# --------------------------------------------------------------------------------------------
# Elements: each returns layers, back to front


class _Scene:
    """Size and scale of the canvas being built, and where to put objects."""

    def __init__(self, rng: np.random.Generator, h: int, w: int) -> None:
        self.rng, self.h, self.w = rng, h, w
        self.scale = float(min(h, w))

    def spot(self, spread: float = 0.25) -> tuple[float, float]:
        """A random point near the middle (x, y)."""
        return (self.w * (0.5 + self.rng.uniform(-spread, spread)),
                self.h * (0.5 + self.rng.uniform(-spread, spread)))


def _shades(rng: np.random.Generator, base: np.ndarray, n: int, spread: float) -> np.ndarray:
    """(n, 3) colours around ``base``: brightness and slight hue jitter."""
    factor = rng.uniform(1.0 - spread, 1.0 + spread, (n, 1))
    return np.clip(base[None] * factor + rng.normal(0.0, 0.15 * spread, (n, 3)), 0.0, 1.0)


def _opacities(rng: np.random.Generator, n: int, low: float, levels: int = 2) -> np.ndarray:
    """(n,) opacities drawn from ``levels`` values in [low, 1] (few values: few canvases)."""
    values = np.round(rng.uniform(low, 1.0, levels), 2)
    values[0] = 1.0 if rng.random() < 0.6 else values[0]
    return values[rng.integers(levels, size=n)]


def _strand_widths(rng: np.random.Generator, n: int, coarse: bool = False) -> np.ndarray:
    """(n,) OpenCV thicknesses on the supersampled canvas: mostly sub-pixel strands.

    At ``SUPERSAMPLE`` 4, OpenCV's anti-aliased thickness 1, 2, 3 and 6 come out about 0.34,
    0.84, 1.35 and 1.85 output pixels wide (thickness 4 draws like 3); a strand's opacity
    scales its coverage further, so an opacity-0.5 thickness-1 strand reads as 0.17 px wide.
    """
    if coarse:
        return rng.choice([1, 2, 3, 6], size=n, p=[0.3, 0.4, 0.2, 0.1])
    return rng.choice([1, 2, 3], size=n, p=[0.55, 0.35, 0.1])


def _solid(scene: _Scene, *, radius: float | None = None,
           kinds: Sequence[str] = ("blob", "ellipse", "polygon", "star")) -> Layer:
    """A textured solid body of one of ``kinds``, sharp or (30%) slightly defocused."""
    rng = scene.rng
    kind = str(rng.choice(list(kinds)))
    r = radius if radius is not None else scene.scale * rng.uniform(0.14, 0.35)
    alpha = _body_alpha(rng, scene.h, scene.w, scene.spot(), r, kind)
    colour = np.array([0.25, 0.5, 0.15], np.float32) * rng.uniform(0.6, 1.4) \
        if kind == "leaf" and rng.random() < 0.7 else None
    layer = _solid_layer(alpha, _texture(rng, scene.h, scene.w, colour))
    if rng.random() < 0.3:  # slightly defocused boundary
        layer = _gaussian(layer, rng.uniform(0.6, 2.5))
    return layer


def _add_solid(scene: _Scene) -> list[Layer]:
    return [_solid(scene)]


def _add_holes(scene: _Scene) -> list[Layer]:
    """Bodies with holes and concavities: rings, lattices, leaves, stars."""
    layers = [_solid(scene, kinds=("ring", "lattice", "leaf", "star"))]
    if scene.rng.random() < 0.3:
        layers.append(_solid(scene, kinds=("ring", "leaf")))
    return layers


def _fur_strands(scene: _Scene, body_alpha: np.ndarray, body_colour: np.ndarray) -> Layer:
    """Strands growing out of the rim of a solid body (and some lying over it)."""
    rng, h, w, s = scene.rng, scene.h, scene.w, scene.scale
    pts, normal = _contour_points(body_alpha)
    if len(pts) == 0:
        return np.zeros((h, w, 3), np.float32), np.zeros((h, w), np.float32)
    n = int(min(8000, len(pts) * rng.uniform(1.5, 6.0)))
    pick = rng.integers(len(pts), size=n)
    root_n = normal[pick]
    mean_len = s * rng.uniform(0.02, 0.12)
    lengths = mean_len * rng.lognormal(0.0, 0.35, n)
    roots = pts[pick] - root_n * lengths[:, None] * rng.uniform(0.0, 0.3, (n, 1)) \
        + rng.normal(0.0, 0.5, (n, 2))
    comb = rng.uniform(0, 2 * np.pi)
    comb_weight = rng.uniform(0.0, 0.5)
    heading = (1 - comb_weight) * root_n + comb_weight * np.array([np.cos(comb), np.sin(comb)])
    angles = np.arctan2(heading[:, 1], heading[:, 0]) + rng.normal(0, rng.uniform(0.15, 0.6), n)
    inside = np.flatnonzero(body_alpha.ravel() >= 1.0)
    if inside.size and rng.random() < 0.6:  # combed fur lying over the body: its texture
        m = int(min(4000, inside.size * rng.uniform(0.02, 0.08)))
        yx = np.stack(np.unravel_index(rng.choice(inside, m), body_alpha.shape), 1)
        roots = np.concatenate([roots, yx[:, ::-1].astype(np.float64)])
        angles = np.concatenate([angles, comb + rng.normal(0, 0.3, m)])
        lengths = np.concatenate([lengths, mean_len * rng.lognormal(0.0, 0.35, m)])
        n += m
    curly = rng.random() < 0.3
    paths = strand_paths(
        roots, angles, lengths, points=16 if curly else 10,
        curl=rng.normal(0.0, 1.0) + rng.normal(0.0, 0.5, n),
        wave_amplitude=rng.uniform(0.5, 1.2) if curly else rng.uniform(0.0, 0.3),
        wave_cycles=rng.uniform(1.0, 3.0, n), wave_phase=rng.uniform(0, 2 * np.pi, n),
        droop=rng.uniform(0.0, 0.7), gravity=(0.0, 1.0),
    )
    base = body_colour if rng.random() < 0.5 else _hair_colour(rng)
    palette = _shades(rng, base, 8, rng.uniform(0.15, 0.45))
    colours = palette[rng.integers(len(palette), size=n)]
    return draw_strands((h, w), paths, colours, _strand_widths(rng, n),
                        _opacities(rng, n, 0.5, int(rng.integers(1, 3))))


def _add_furry(scene: _Scene) -> list[Layer]:
    """A solid body with hair or fur growing from its rim."""
    rng = scene.rng
    body = _solid(scene, kinds=("blob", "ellipse", "blob", "polygon"))
    p, a = body
    colour = (p.reshape(-1, 3).sum(0) / max(float(a.sum()), 1e-6)).astype(np.float32)
    layers = [body, _fur_strands(scene, a, colour)]
    if rng.random() < 0.3:  # a second, longer coat
        layers.append(_fur_strands(scene, a, colour))
    return layers


def _add_hanging_hair(scene: _Scene) -> list[Layer]:
    """Long hair in clumps, hanging from a scalp line (off canvas or on a head) or free."""
    rng, h, w, s = scene.rng, scene.h, scene.w, scene.scale
    layers: list[Layer] = []
    tilt = rng.normal(0.0, 0.35)
    gravity = (np.sin(tilt), np.cos(tilt))
    clumps = int(rng.integers(8, 60))
    n = int(rng.integers(300, 1800))
    x0, x1 = sorted(rng.uniform(0.1 * w, 0.9 * w, 2))
    if x1 - x0 < 0.15 * w:
        x1 = min(w * 0.95, x0 + 0.15 * w)
    y_top = rng.uniform(-0.1 * h, 0.35 * h)
    head = rng.random() < 0.4
    if head:  # hair over the top of a head: roots on an arc, a solid head below them
        cx, rx = 0.5 * (x0 + x1), 0.5 * (x1 - x0)
        ry = rx * rng.uniform(0.8, 1.3)
        cy = y_top + ry
        head_alpha = _fill(h, w, [_ellipse(cx, cy, rx, ry, rng.normal(0, 0.1))])
        layers.append(_solid_layer(head_alpha, _texture(rng, h, w)))
        phi = rng.uniform(-np.pi * 0.95, -np.pi * 0.05, clumps)  # upper half of the ellipse
        clump_roots = np.stack([cx + rx * np.cos(phi), cy + ry * np.sin(phi)], 1)
        clump_angles = phi * 0.5 + rng.normal(0, 0.2, clumps)  # outwards, falling sideways
        droop = rng.uniform(0.7, 1.0)
    else:
        u = rng.uniform(0, 1, clumps)
        clump_roots = np.stack([x0 + u * (x1 - x0), y_top + rng.normal(0, 0.03 * h, clumps)], 1)
        clump_angles = np.arctan2(gravity[1], gravity[0]) + rng.normal(0, 0.35, clumps)
        droop = rng.uniform(0.2, 0.8)
    length = s * rng.uniform(0.3, 0.9) * rng.uniform(0.7, 1.1, clumps)
    curl = rng.normal(0.0, 0.6, clumps)
    amp = rng.uniform(0.0, 0.7) * rng.uniform(0.5, 1.0, clumps)
    cycles = rng.uniform(1.0, 5.0) * rng.uniform(0.8, 1.2, clumps)
    phase = rng.uniform(0, 2 * np.pi, clumps)
    k = 40
    guide = strand_paths(clump_roots, clump_angles, length, points=k, curl=curl,
                         wave_amplitude=amp, wave_cycles=cycles, wave_phase=phase,
                         droop=droop, gravity=gravity)
    member = rng.integers(clumps, size=n)
    spread = s * rng.uniform(0.01, 0.04)
    own = strand_paths(
        clump_roots[member] + rng.normal(0, spread, (n, 2)),
        clump_angles[member] + rng.normal(0, 0.12, n), length[member] * rng.uniform(0.75, 1.1, n),
        points=k, curl=curl[member] + rng.normal(0, 0.25, n), wave_amplitude=amp[member],
        wave_cycles=cycles[member], wave_phase=phase[member] + rng.normal(0, 0.4, n),
        droop=droop, gravity=gravity)
    # Clumping: strands converge on their clump's guide towards the tips.
    pull = rng.uniform(0.2, 0.85) * np.linspace(0, 1, k + 1)[None, :, None] ** 1.5
    paths = own + pull * (guide[member] - own)
    stray = rng.random(n) < rng.uniform(0.0, 0.08)  # flyaways
    if stray.any():
        m = int(stray.sum())
        paths[stray] = strand_paths(
            paths[stray, 0], rng.uniform(0, 2 * np.pi, m), s * rng.uniform(0.1, 0.5, m),
            points=k, curl=rng.normal(0, 2.0, m), droop=0.3, gravity=gravity)
    palette = _shades(rng, _hair_colour(rng), 8, rng.uniform(0.15, 0.5))
    colours = palette[rng.integers(len(palette), size=n)]
    layers.append(draw_strands((h, w), paths, colours, _strand_widths(rng, n),
                               _opacities(rng, n, 0.45, int(rng.integers(1, 4)))))
    return layers


def _add_filaments(scene: _Scene) -> list[Layer]:
    """A few long, thin curves: threads, fibres, whiskers, antennae."""
    rng, h, w, s = scene.rng, scene.h, scene.w, scene.scale
    n = int(rng.integers(2, 25))
    roots = np.stack([rng.uniform(0.1 * w, 0.9 * w, n), rng.uniform(0.1 * h, 0.9 * h, n)], 1)
    paths = strand_paths(roots, rng.uniform(0, 2 * np.pi, n), s * rng.uniform(0.2, 1.0, n),
                         points=64, curl=rng.normal(0, 2.0, n),
                         wave_amplitude=rng.uniform(0.0, 0.6, n), wave_cycles=rng.uniform(
                             0.5, 3.0, n), wave_phase=rng.uniform(0, 2 * np.pi, n))
    palette = _shades(rng, _random_colour(rng), 4, 0.3)
    colours = palette[rng.integers(len(palette), size=n)]
    return [draw_strands((h, w), paths, colours, _strand_widths(rng, n, coarse=True),
                         _opacities(rng, n, 0.5, 2), taper=False)]


def _add_net(scene: _Scene) -> list[Layer]:
    """A grid of thin threads (net, mesh, lace), warped, inside a shape, maybe in a frame."""
    rng, h, w, s = scene.rng, scene.h, scene.w, scene.scale
    cx, cy = scene.spot(0.15)
    radius = s * rng.uniform(0.2, 0.42)
    ry = radius * rng.uniform(0.6, 1.0)
    rotation = rng.uniform(0, np.pi)
    spacing = rng.uniform(4.0, 28.0)
    warp = spacing * rng.uniform(0.0, 0.5)
    wavelength = rng.uniform(2.0, 8.0) * spacing
    offsets = np.arange(-radius * 1.1, radius * 1.1, spacing)
    along = np.linspace(-radius * 1.1, radius * 1.1, max(8, int(2.2 * radius / 3)))
    lines = []
    for swap in (False, True):
        u = np.repeat(offsets[:, None], len(along), 1)
        v = np.repeat(along[None, :], len(offsets), 0)
        u = u + warp * np.sin(2 * np.pi * v / wavelength + rng.uniform(0, 2 * np.pi))
        local = np.stack([v, u] if swap else [u, v], -1)
        lines.append(_place(local, cx, cy, rotation + rng.normal(0, 0.05)))
    paths = np.concatenate(lines)
    n = len(paths)
    colour = _random_colour(rng)
    colours = _shades(rng, colour, 2, 0.1)[rng.integers(2, size=n)]
    thread = int(rng.choice([1, 2, 2, 3, 6]))
    net = draw_strands((h, w), paths, colours, np.full(n, thread),
                       np.full(n, np.round(rng.uniform(0.6, 1.0), 2)), taper=False)
    if rng.random() < 0.6:
        outline = _ellipse(cx, cy, radius, ry, rotation)
    else:
        outline = _place(_SQUARE * [radius, ry], cx, cy, rotation)
    region = _fill(h, w, [outline])
    net = net[0] * region[..., None], net[1] * region
    if rng.random() < 0.6:  # a solid frame (hoop, racket)
        band = rng.uniform(2.0, 0.04 * s)
        grow = np.array([radius + band, ry + band]) / np.array([radius, ry])
        outer = (outline - [cx, cy]) * grow + [cx, cy]
        frame = _fill(h, w, [outer], [outline])
        if rng.random() < 0.5:  # a handle
            handle = _place(np.array([[radius, -band], [radius * 2.2, -band],
                                      [radius * 2.2, band], [radius, band]]), cx, cy, rotation)
            frame = np.maximum(frame, _fill(h, w, [handle]))
        return [net, _solid_layer(frame, _texture(rng, h, w))]
    return [net]


def _add_web(scene: _Scene) -> list[Layer]:
    """A spider web: radial spokes, sagging capture threads around them, anchor threads."""
    rng, h, w, s = scene.rng, scene.h, scene.w, scene.scale
    cx, cy = scene.spot(0.15)
    radius = s * rng.uniform(0.2, 0.45)
    spokes = int(rng.integers(10, 28))
    theta = np.sort(np.linspace(0, 2 * np.pi, spokes, endpoint=False)
                    + rng.normal(0, 0.6 / spokes * np.pi, spokes))
    reach = radius * rng.uniform(0.8, 1.1, spokes)
    paths = []
    t = np.linspace(0.0, 1.0, 2)
    for a, r in zip(theta, reach):
        paths.append(np.stack([cx + t * r * np.cos(a), cy + t * r * np.sin(a)], 1))
    step = radius * rng.uniform(0.03, 0.08)
    rings = np.arange(0.12 * radius, 0.95 * radius, step)
    ring_paths = []
    for r in rings:
        rr = r * rng.uniform(0.97, 1.03, spokes)
        # Between two spokes the thread sags towards the centre: a midpoint at 0.9 r.
        mid = 0.5 * (theta + np.roll(theta, -1) + np.where(np.arange(spokes) == spokes - 1,
                                                         2 * np.pi, 0))
        ang = np.stack([theta, mid], 1).ravel()
        rad = np.stack([rr, rr * rng.uniform(0.88, 0.97)], 1).ravel()
        ang, rad = np.append(ang, ang[0] + 2 * np.pi), np.append(rad, rad[0])
        ring_paths.append(np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1))
    anchors = []
    for a in rng.uniform(0, 2 * np.pi, int(rng.integers(2, 6))):
        far = radius * rng.uniform(1.3, 2.5)
        anchors.append(np.stack([cx + np.linspace(radius * 0.9, far, 2) * np.cos(a),
                                 cy + np.linspace(radius * 0.9, far, 2) * np.sin(a)], 1))
    colour = np.full(3, rng.uniform(0.7, 1.0), np.float32) * rng.uniform(0.9, 1.0, 3)
    threads = paths + anchors + ring_paths
    n, k = len(threads), max(len(p) for p in threads)
    # One (N, K, 2) array: shorter polylines repeat their last point.
    padded = np.stack([np.concatenate([p, np.repeat(p[-1:], k - len(p), 0)]) for p in threads])
    return [draw_strands((h, w), padded, np.repeat(colour[None], n, 0),
                         np.full(n, int(rng.choice([1, 2, 3]))), np.full(n, 0.9), taper=False)]


def _add_glass(scene: _Scene) -> list[Layer]:
    """Partial opacity: a plateau of 0.1-0.7 with smooth edges, a rim and a highlight."""
    rng, h, w, s = scene.rng, scene.h, scene.w, scene.scale
    kind = str(rng.choice(["ellipse", "polygon", "blob", "ring"]))
    mask = _body_alpha(rng, h, w, scene.spot(), s * rng.uniform(0.12, 0.32), kind)
    level = rng.uniform(0.1, 0.7)
    soft = cv2.GaussianBlur(mask, (0, 0), rng.uniform(1.0, 8.0))
    alpha = level * soft
    if rng.random() < 0.5:  # thickness varies a little across the pane
        alpha = alpha * (0.8 + 0.2 * _fractal(rng, h, w, 3, 2))
    if rng.random() < 0.5:  # a more opaque rim where the glass is seen edge-on
        edge = mask - cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=int(rng.integers(1, 4)))
        edge = cv2.GaussianBlur(edge, (0, 0), 0.8)
        alpha = np.maximum(alpha, rng.uniform(level, 0.95) * edge)
    tint = np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0, 0.5), rng.uniform(0.6, 1)),
                    np.float32)
    tex = _texture(rng, h, w, tint)
    if rng.random() < 0.6:  # a specular streak
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        angle = rng.uniform(0, np.pi)
        px, py = scene.spot(0.2)
        d = (xx - px) * np.cos(angle) + (yy - py) * np.sin(angle)
        streak = np.exp(-0.5 * (d / (s * rng.uniform(0.01, 0.05))) ** 2)
        tex = tex + (1.0 - tex) * streak[..., None] * rng.uniform(0.4, 0.9)
    return [_solid_layer(np.clip(alpha, 0.0, 1.0).astype(np.float32), tex)]


def _add_smoke(scene: _Scene) -> list[Layer]:
    """Smoke or cloud: domain-warped fractal noise under a soft, elongated falloff."""
    rng, h, w, s = scene.rng, scene.h, scene.w, scene.scale
    cx, cy = scene.spot(0.2)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    u = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
    v = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
    su, sv = s * rng.uniform(0.15, 0.35), s * rng.uniform(0.08, 0.22)
    sv = sv * (1.0 + rng.uniform(0.0, 0.8) * np.clip(u / su, -1.0, 1.0))  # a widening plume
    falloff = np.exp(-0.5 * ((u / su) ** 2 + (v / np.maximum(sv, 1.0)) ** 2))
    # Domain warping: sampling the noise at displaced positions gives swirls and wisps.
    noise = _fractal(rng, h, w, int(rng.integers(3, 8)), 5, 0.6)
    reach = s * rng.uniform(0.03, 0.12)
    dx = (_fractal(rng, h, w, 3, 3) - 0.5) * 2 * reach
    dy = (_fractal(rng, h, w, 3, 3) - 0.5) * 2 * reach
    noise = cv2.remap(noise, xx + dx, yy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    density = falloff * noise ** rng.uniform(1.0, 2.5)
    density /= max(float(density.max()), 1e-6)
    threshold = rng.uniform(0.05, 0.3)
    ramp = np.clip((density - threshold) / (1.0 - threshold), 0.0, 1.0)
    alpha = rng.uniform(0.4, 1.0) * ramp * ramp * (3.0 - 2.0 * ramp)  # smoothstep
    grey = rng.uniform(0.3, 1.0)
    colour = np.clip(grey + rng.normal(0.0, 0.06, 3), 0.0, 1.0).astype(np.float32)
    shading = 0.75 + 0.4 * _fractal(rng, h, w, 4, 3)[..., None]  # lit and shadowed puffs
    tex = np.clip(colour * shading, 0.0, 1.0).astype(np.float32)
    return [_solid_layer(alpha.astype(np.float32), tex)]


def _add_motion(scene: _Scene) -> list[Layer]:
    """A solid (sometimes furry) shape with a directional motion blur."""
    rng = scene.rng
    layers = _add_furry(scene) if rng.random() < 0.3 else _add_solid(scene)
    merged = layers[0]
    for layer in layers[1:]:
        merged = _over(layer, merged)
    kernel = _motion_kernel(scene.scale * rng.uniform(0.02, 0.12), rng.uniform(0, np.pi))
    blurred = _blur(merged, kernel)
    if rng.random() < 0.5:  # a sharp object beside it, so some pixels stay solid
        return [blurred, _solid(scene, radius=scene.scale * rng.uniform(0.06, 0.15))]
    return [blurred]


_KINDS: dict[str, tuple[Callable[[_Scene], list[Layer]], float]] = {
    "furry": (_add_furry, 3.0),
    "hair": (_add_hanging_hair, 2.0),
    "holes": (_add_holes, 1.5),
    "solid": (_add_solid, 1.0),
    "glass": (_add_glass, 1.0),
    "smoke": (_add_smoke, 0.7),
    "net": (_add_net, 1.0),
    "web": (_add_web, 0.6),
    "filaments": (_add_filaments, 1.0),
    "motion": (_add_motion, 1.0),
}


# --------------------------------------------------------------------------------------------
# Foregrounds


def _extend_colours(p: np.ndarray, a: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """F (H, W, 3): P / A where covered, a smooth fill (normalised blur) where not.

    ``fallback`` is a colour (3,) used far away from any covered pixel.
    """
    h, w = a.shape
    factor = 8
    sh, sw = max(1, h // factor), max(1, w // factor)
    ps = cv2.resize(p, (sw, sh), interpolation=cv2.INTER_AREA)
    as_ = cv2.resize(a, (sw, sh), interpolation=cv2.INTER_AREA)
    sigma = max(sh, sw) / 16
    bp = cv2.GaussianBlur(ps, (0, 0), sigma)
    ba = cv2.GaussianBlur(as_, (0, 0), sigma)
    eps = 1e-3
    extended = (bp + eps * fallback) / (ba + eps)[..., None]
    extended = cv2.resize(extended, (w, h), interpolation=cv2.INTER_LINEAR)
    # F = (P + k (1 - A) E) / (A + k (1 - A)): P / A at A = 1, E at A = 0, and at small A a
    # blend that hides the quantisation noise of P / A.
    k = 0.02 * (1.0 - a)
    return np.clip((p + k[..., None] * extended) / (a + k)[..., None], 0.0, 1.0)


def _finish(p: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.clip(a, 0.0, 1.0)
    covered = float(a.sum())
    fallback = p.reshape(-1, 3).sum(0) / covered if covered > 0 else np.full(3, 0.5)
    fg = _extend_colours(p, a, fallback.astype(np.float32))
    alpha = a.copy()
    alpha[alpha < _ZERO] = 0.0
    alpha[alpha > _ONE] = 1.0
    return fg.astype(np.float32), alpha.astype(np.float32)


def _acceptable(alpha: np.ndarray) -> bool:
    n = alpha.size
    background = np.count_nonzero(alpha == 0.0) / n
    solid = np.count_nonzero(alpha == 1.0) / n
    soft = 1.0 - background - solid
    return background >= _MIN_BACKGROUND and solid >= _MIN_SOLID and _MIN_SOFT <= soft <= _MAX_SOFT


def _compose(rng: np.random.Generator, h: int, w: int, kinds: Sequence[str]) -> Layer:
    scene = _Scene(rng, h, w)
    p = np.zeros((h, w, 3), np.float32)
    a = np.zeros((h, w), np.float32)
    for kind in kinds:
        for layer in _KINDS[kind][0](scene):
            p, a = _over(layer, (p, a))
    return p, a


def synth_foreground(rng: np.random.Generator,
                     size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """One procedural foreground with exactly known alpha.

    Returns ``(fg, alpha)``: fg float32 (H, W, 3) in [0, 1], defined everywhere; alpha float32
    (H, W) in [0, 1], exactly 0 below 1/255 and exactly 1 above 254/255. ``size`` is
    (H, W). The object mixes two to four kinds of content chosen at random: a body with fur
    or hair on its rim, long clumped hanging hair, bodies with holes (rings, lattices,
    leaves), plain solid bodies (sharp or slightly blurred), glass-like partial opacity,
    smoke, nets in frames, spider webs, long filaments, motion-blurred shapes. At least 10% of
    the canvas is background, at least 0.5% solid and 1-85% fractional (drawings that miss
    are redrawn). Deterministic given ``rng``'s state.
    """
    h, w = (int(v) for v in size)
    if h < 16 or w < 16:
        raise ValueError(f"size must be at least 16x16, got {h}x{w}")
    names = list(_KINDS)
    weights = np.array([_KINDS[k][1] for k in names])
    for _ in range(8):
        count = int(rng.choice([2, 3, 4], p=[0.5, 0.35, 0.15]))
        kinds = list(rng.choice(names, size=count, replace=False, p=weights / weights.sum()))
        rng.shuffle(kinds)
        fg, alpha = _finish(*_compose(rng, h, w, kinds))
        if _acceptable(alpha):
            return fg, alpha
    # Rarely reached: a furry body in the middle always has background, core and fringe.
    scene = _Scene(rng, h, w)
    body = _fill(h, w, [_ellipse(0.5 * w, 0.5 * h, 0.22 * w, 0.22 * h)])
    tex = _texture(rng, h, w)
    layer = _over(_fur_strands(scene, body, tex[h // 2, w // 2]), _solid_layer(body, tex))
    return _finish(*layer)


def textured_foreground_from_alpha(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    """A procedural foreground colour image for a real alpha matte that has none.

    ``alpha`` float32 (H, W) in [0, 1]; returns float32 (H, W, 3) in [0, 1]. The solid core
    gets one texture, and the fringe (hair, fur, thin parts: pixels far from the solid core)
    often a different, hair-like one, blended smoothly between them.
    """
    alpha = np.asarray(alpha, np.float32)
    h, w = alpha.shape
    body = _texture(rng, h, w)
    if rng.random() < 0.3:
        return body
    fringe = _texture(rng, h, w, _hair_colour(rng) if rng.random() < 0.6 else None)
    core = (alpha >= _ONE).astype(np.float32)
    sigma = max(h, w) * rng.uniform(0.005, 0.03)
    near_core = np.clip(cv2.GaussianBlur(core, (0, 0), sigma) * 2.0, 0.0, 1.0)
    mix = (1.0 - near_core)[..., None] * rng.uniform(0.6, 1.0)
    return (body + mix * (fringe - body)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Writing data sets


def _load_shape(path: Path, max_side: int) -> np.ndarray:
    """A real alpha matte, area-downscaled so its long side is at most ``max_side``."""
    from alphagan.io import read_alpha

    alpha = read_alpha(path)
    h, w = alpha.shape
    if max(h, w) > max_side:
        scale = max_side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
    alpha = np.clip(alpha, 0.0, 1.0)
    alpha[alpha < _ZERO] = 0.0
    alpha[alpha > _ONE] = 1.0
    return alpha


def write_synth_dataset(out: Path, *, count: int, seed: int = 0, size: int = 640,
                        alpha_shapes: Path | None = None, exclude: Sequence[str] = (),
                        max_side: int = 1024, progress: bool = True) -> list[str]:
    """Write procedural training foregrounds as ``out/fg/<name>.png`` + ``out/alpha/<name>.png``.

    ``count`` items ``synth_00000`` ... of ``size`` x ``size`` from :func:`synth_foreground`,
    item ``i`` drawn from ``np.random.default_rng([seed, i])``; and, if ``alpha_shapes`` is a
    folder, one item ``shape_<stem>`` per alpha file in it, its alpha area-downscaled to a
    long side of at most ``max_side`` and given a colour image by
    :func:`textured_foreground_from_alpha` drawn from
    ``np.random.default_rng([seed, crc32(stem), 1])``. Stems in ``exclude`` (e.g. a
    benchmark's test images; ``GT02`` or ``GT02.png``) are left out, with a warning for any
    that the folder does not hold. Items whose two files both exist are skipped, so
    re-running (or continuing an interrupted run) writes identical files and rewrites
    nothing. 8-bit PNGs, written atomically. Returns the names of all items, written or
    already present. Raises ``InputError`` for a negative ``count``, a ``size`` below 16,
    or a missing ``alpha_shapes`` folder.
    """
    from tqdm import tqdm  # only here: importing the package stays light

    from alphagan.io import IMAGE_EXTENSIONS, list_images, write_png

    out = Path(out)
    if count < 0:
        raise InputError(f"count must be >= 0, got {count}")
    if size < 16:
        raise InputError(f"size must be at least 16, got {size}")
    if max_side < 16:
        raise InputError(f"max_side must be at least 16, got {max_side}")
    jobs: list[tuple[str, Callable[[], tuple[np.ndarray, np.ndarray]]]] = []
    for i in range(count):
        jobs.append((f"synth_{i:05d}", lambda i=i: synth_foreground(
            np.random.default_rng([seed, i]), (size, size))))
    if alpha_shapes is not None:
        folder = Path(alpha_shapes)
        if not folder.is_dir():
            raise InputError(f"{folder}: no such folder (alpha shapes)")
        shapes = list_images(folder)
        # "GT02" or "GT02.png" both name the stem GT02.
        skip = {Path(e).stem if Path(e).suffix.lower() in IMAGE_EXTENSIONS else e
                for e in exclude}
        unknown = sorted(skip - set(shapes))
        if unknown:  # a typo here would leak a held-out image into training: say so
            warnings.warn(f"{folder}: excluded stem(s) not found: {', '.join(unknown)}",
                          stacklevel=2)
        for stem, path in shapes.items():
            if stem in skip:
                continue

            def make(stem: str = stem, path: Path = path) -> tuple[np.ndarray, np.ndarray]:
                alpha = _load_shape(path, max_side)
                rng = np.random.default_rng([seed, zlib.crc32(stem.encode()), 1])
                return textured_foreground_from_alpha(rng, alpha), alpha

            jobs.append((f"shape_{stem}", make))

    names = []
    for name, make in tqdm(jobs, desc="synth", unit="fg", disable=not progress,
                           file=sys.stderr):
        names.append(name)
        fg_path, alpha_path = out / "fg" / f"{name}.png", out / "alpha" / f"{name}.png"
        if fg_path.is_file() and alpha_path.is_file():
            continue
        fg, alpha = make()
        write_png(fg_path, fg)
        write_png(alpha_path, alpha)
    return names


# --------------------------------------------------------------------------------------------
# Command line (wired into ``alphagan`` by cli.py)


def run_synth(args: argparse.Namespace) -> int:
    """Run ``alphagan synth``; returns 0. Bad arguments raise ``InputError``."""
    from alphagan.cli import check_output_dir

    if args.count < 1:
        raise UsageError(f"--count must be at least 1, got {args.count}")
    check_output_dir(Path(args.out))
    if args.alpha_shapes is not None and not Path(args.alpha_shapes).is_dir():
        raise InputError(f"--alpha-shapes {args.alpha_shapes}: no such folder")
    exclude = [stem.strip() for stem in str(args.exclude or "").split(",") if stem.strip()]
    names = write_synth_dataset(
        args.out, count=args.count, seed=args.seed, size=args.size,
        alpha_shapes=args.alpha_shapes, exclude=exclude,
        max_side=getattr(args, "max_side", 1024), progress=not args.quiet)
    shapes = sum(name.startswith("shape_") for name in names)
    print(f"{args.out}: {len(names)} foregrounds ({len(names) - shapes} procedural, "
          f"{shapes} from alpha shapes) in fg/ and alpha/", file=sys.stderr)
    return 0
