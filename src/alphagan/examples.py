"""A procedurally made example scene with known alpha: the demo's bundled default.

The project owns it entirely (no third-party photo): a furry, partly translucent object with
hair strands over a textured background, composited with ``I = aF + (1-a)B``, so the true
alpha is known and the demo can report its error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alphagan.synth import draw_strands, smooth_noise, strand_paths
from alphagan.trimap import trimap_from_alpha

__all__ = ["ExampleScene", "make_example", "smooth_noise"]


@dataclass(frozen=True)
class ExampleScene:
    """image, fg, bg: HxWx3 float32 in [0,1]; alpha HxW in [0,1]; trimap HxW {0,0.5,1}."""

    image: np.ndarray
    alpha: np.ndarray
    trimap: np.ndarray
    foreground: np.ndarray
    background: np.ndarray


def _strands(rng: np.random.Generator, h: int, w: int, centre: tuple[float, float],
             radii: tuple[float, float], count: int) -> np.ndarray:
    """Hair-like strands (alpha (h, w) in [0,1]) growing outwards from an ellipse's rim."""
    cy, cx = centre
    ry, rx = radii
    theta = rng.uniform(0, 2 * np.pi, count)
    roots = np.stack([cx + 0.92 * rx * np.cos(theta), cy + 0.92 * ry * np.sin(theta)], 1)
    lengths = rng.uniform(0.04, 0.14, count) * min(h, w)
    paths = strand_paths(roots, theta, lengths, points=24, curl=rng.normal(0, 0.5, count))
    # All strands on one supersampled canvas per opacity: sub-pixel widths after the resize.
    opacity = np.where(rng.random(count) < 0.5, 0.6, 0.95)
    _, alpha = draw_strands((h, w), paths, np.ones((count, 3)), rng.integers(1, 4, count),
                            opacity)
    return alpha


def make_example(height: int = 480, width: int = 640, seed: int = 0) -> ExampleScene:
    """Build the example scene deterministically from ``seed``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    centre, radii = (height * 0.52, width * 0.5), (height * 0.28, width * 0.22)
    d = np.sqrt(((yy - centre[0]) / radii[0]) ** 2 + ((xx - centre[1]) / radii[1]) ** 2)
    body = np.clip((1.0 - d) / 0.08 + 0.5, 0.0, 1.0)  # solid core with a soft rim
    # a translucent "wing": partial opacity with a smooth falloff
    wing_d = np.sqrt(((yy - height * 0.3) / (height * 0.12)) ** 2
                     + ((xx - width * 0.75) / (width * 0.1)) ** 2)
    wing = 0.6 * np.clip(1.0 - wing_d, 0.0, 1.0) ** 0.5
    hair = _strands(rng, height, width, centre, radii, count=500)
    alpha = np.clip(np.maximum(np.maximum(body, wing), hair), 0.0, 1.0).astype(np.float32)
    alpha[alpha < 1.0 / 255] = 0.0  # the smallest 8-bit step: keep the background exact

    fur = smooth_noise(rng, height, width, 24, 1)
    fg = np.stack([0.85 - 0.3 * fur[..., 0], 0.55 - 0.25 * fur[..., 0],
                   0.25 + 0.1 * fur[..., 0]], axis=2)
    colour = smooth_noise(rng, height, width, 6, 3)
    bg = 0.2 + 0.6 * (0.4 * colour + 0.6 * colour.mean(axis=2, keepdims=True))
    stripes = 0.5 + 0.5 * np.sin(xx / 9.0 + 3 * smooth_noise(rng, height, width, 4)[..., 0])
    bg = np.clip(bg * (0.75 + 0.25 * stripes[..., None]), 0.0, 1.0)
    image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    trimap = trimap_from_alpha(alpha, erode=8, dilate=8)
    f32 = np.float32
    return ExampleScene(image.astype(f32), alpha, trimap, fg.astype(f32), bg.astype(f32))
