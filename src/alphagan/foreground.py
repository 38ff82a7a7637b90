"""Foreground colours, RGBA cut-outs and composites from an image and its alpha.

Images are float32 HxWx3 RGB in [0,1]; alpha float32 HxW in [0,1]. pymatting is imported
only when a foreground is estimated (its numba compilation is slow to start).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "estimate_foreground",
    "cutout",
    "composite_onto",
    "parse_color",
    "fit_background",
    "checkerboard",
]

_NAMED_COLORS = {
    "white": (1.0, 1.0, 1.0),
    "black": (0.0, 0.0, 0.0),
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "grey": (0.5, 0.5, 0.5),
    "gray": (0.5, 0.5, 0.5),
}


def estimate_foreground(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Foreground colours F with ``I = aF + (1-a)B`` (pymatting's multi-level method).

    image HxWx3 and alpha HxW in [0,1] -> F float32 HxWx3 in [0,1]. Where alpha is 0 the
    foreground is undefined; the method extrapolates smoothly from nearby pixels.
    """
    if alpha.size == 1:
        # pymatting divides by zero on a single pixel; with no neighbour to borrow colour
        # from, the pixel's own colour is the foreground.
        return np.clip(image, 0.0, 1.0).astype(np.float32).reshape(*alpha.shape, 3)
    from pymatting import estimate_foreground_ml

    # pymatting computes in float32: passing float32 (not float64 copies) saves 12 bytes per
    # pixel and changes nothing (a 6000x4000 photo: 0.8 GB less at the peak).
    fg = estimate_foreground_ml(np.ascontiguousarray(image, dtype=np.float32),
                                np.ascontiguousarray(alpha, dtype=np.float32))
    return np.clip(fg, 0.0, 1.0, out=fg).astype(np.float32, copy=False)


def cutout(foreground: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGBA cut-out with straight (non-premultiplied) alpha: HxWx4 float32 in [0,1]."""
    return np.concatenate([foreground, alpha[..., None]], axis=2).astype(np.float32)


def parse_color(text: str) -> tuple[float, float, float]:
    """A colour name (white, black, red, green, blue, grey), ``#rrggbb``, ``#rgb`` or ``r,g,b``
    (0-255) -> RGB floats in [0,1]. Raises ValueError on anything else."""
    s = text.strip().lower()
    if s in _NAMED_COLORS:
        return _NAMED_COLORS[s]
    if s.startswith("#") and len(s) in (4, 7):
        digits = s[1:] if len(s) == 7 else "".join(c * 2 for c in s[1:])
        try:
            return tuple(int(digits[i : i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]
        except ValueError:
            pass
    parts = s.split(",")
    if len(parts) == 3:
        try:
            values = [int(p) for p in parts]
        except ValueError:
            values = []
        if values and all(0 <= v <= 255 for v in values):
            return tuple(v / 255.0 for v in values)  # type: ignore[return-value]
    raise ValueError(
        f"not a colour: {text!r} (use a name like 'white', '#00ff00' or '0,255,0')"
    )


def fit_background(background: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a background HxWx3 to cover (height, width) keeping its aspect, centre-crop."""
    bh, bw = background.shape[:2]
    scale = max(height / bh, width / bw)
    nh, nw = max(height, round(bh * scale)), max(width, round(bw * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(background, (nw, nh), interpolation=interp)
    top, left = (nh - height) // 2, (nw - width) // 2
    return resized[top : top + height, left : left + width]


def composite_onto(
    foreground: np.ndarray,
    alpha: np.ndarray,
    background: tuple[float, float, float] | np.ndarray,
) -> np.ndarray:
    """``a F + (1-a) B`` onto a colour (RGB floats) or an image (resized to cover, cropped).

    Returns float32 HxWx3 in [0,1].
    """
    h, w = alpha.shape
    if isinstance(background, np.ndarray):
        bg = fit_background(background.astype(np.float32), h, w)
    else:
        bg = np.broadcast_to(np.asarray(background, dtype=np.float32), (h, w, 3))
    a = alpha[..., None]
    return (a * foreground + (1.0 - a) * bg).astype(np.float32)


def checkerboard(height: int, width: int, square: int = 16) -> np.ndarray:
    """Light/dark grey checkerboard HxWx3 in [0,1], the usual transparency backdrop."""
    yy, xx = np.mgrid[0:height, 0:width]
    light = ((yy // square + xx // square) % 2 == 0)[..., None]
    return np.where(light, 0.8, 0.6).astype(np.float32) * np.ones(3, np.float32)
