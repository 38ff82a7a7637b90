"""Estimate at a reduced size: ``max_side`` for any alpha estimator (network or baseline)."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from alphagan.trimap import UNKNOWN, clamp_to_trimap

__all__ = ["at_max_side", "downscale_trimap"]


def at_max_side(
    estimate: Callable[[np.ndarray, np.ndarray], np.ndarray],
    image: np.ndarray,
    trimap: np.ndarray,
    max_side: int | None,
) -> np.ndarray:
    """``estimate(image, trimap)`` on a copy whose longer side is ``max_side`` when the image
    is larger (INTER_AREA image, trimap by :func:`downscale_trimap`), the small alpha clamped
    to the small trimap and upsampled bilinearly to the full size; a direct call otherwise.
    The result is not clamped to the full-size trimap (the caller does that)."""
    height, width = trimap.shape
    if max_side is None or max(height, width) <= max_side:
        return estimate(image, trimap)
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # cv2: (w, h)
    small_trimap = downscale_trimap(trimap, size)
    small = estimate(cv2.resize(image, size, interpolation=cv2.INTER_AREA), small_trimap)
    # Clamp before upsampling: the raw values an estimator gives in known regions would
    # otherwise bleed into the unknown band through the bilinear filter.
    small = clamp_to_trimap(small, small_trimap)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def downscale_trimap(trimap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Shrink a trimap HxW {0, 0.5, 1} to ``size`` = (width, height) without losing unknowns.

    A small pixel is known foreground (background) only when every full-size pixel it covers
    is; any mixture is unknown. So an unknown band thinner than the scale factor stays
    unknown (nearest-neighbour sampling can drop it, and its pixels would then be clamped to
    0 or 1 without the estimator ever seeing them).
    """
    def shrink(mask: np.ndarray) -> np.ndarray:
        return cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA)

    # INTER_AREA averages with positive weights: 1 (up to rounding) only if all pixels are 1.
    fg = shrink(trimap >= 1) > 1.0 - 1e-4
    bg = shrink(trimap <= 0) > 1.0 - 1e-4
    small = np.full(fg.shape, UNKNOWN, np.float32)
    small[fg] = 1.0
    small[bg] = 0.0
    return small
