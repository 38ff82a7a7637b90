"""Estimate at a reduced size: ``max_side`` for any alpha estimator (network or baseline)."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

__all__ = ["at_max_side"]


def at_max_side(
    estimate: Callable[[np.ndarray, np.ndarray], np.ndarray],
    image: np.ndarray,
    trimap: np.ndarray,
    max_side: int | None,
) -> np.ndarray:
    """``estimate(image, trimap)`` on a copy whose longer side is ``max_side`` when the image
    is larger (INTER_AREA image, nearest-neighbour trimap), the alpha upsampled bilinearly to
    the full size; a direct call otherwise. The result is not clamped to the trimap."""
    height, width = trimap.shape
    if max_side is None or max(height, width) <= max_side:
        return estimate(image, trimap)
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # cv2: (w, h)
    small = estimate(cv2.resize(image, size, interpolation=cv2.INTER_AREA),
                     cv2.resize(trimap, size, interpolation=cv2.INTER_NEAREST))
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
