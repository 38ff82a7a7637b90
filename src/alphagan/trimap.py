"""Trimaps: the one place that owns trimap levels and thresholds.

A trimap is float32 HxW with exactly three values: 0 = known background, 0.5 = unknown
(the region to matte), 1 = known foreground. Files store them as black / grey / white.

Reading a trimap file (the tolerance rule)
------------------------------------------
A trimap file is read as grey levels on a 0..255 scale (16-bit files are divided by 257).
Every pixel snaps to the nearest of the levels 0, 128 and 255 (a value exactly halfway
between two levels, 64 or 191.5, counts as unknown, the cautious side). Values near a level
are accepted, so trimaps that went through JPEG compression, a paint program that stored 127
or 250 instead of 128 or 255, or a mild resize still load. The file is refused as "not a
trimap" when

- more than 1% of its pixels lie farther than 32 grey levels from every level (a photo does,
  and so do most alpha mattes), or
- its in-between values look like an alpha matte's: the pixels far from every level number
  more than half of those near grey (within 32 levels of 128). A matte's soft values spread
  over the whole 1..254 range, giving 2 to 3 times as many far pixels as near-grey ones (all
  18 alphamatting.com training mattes); trimaps stay far below 0.5 (under 0.1 after JPEG at
  quality 30 or more, under 0.25 after downscaling up to 4x). This catches mattes with thin
  soft edges that the 1% rule lets through.

It is also refused when no pixel is near grey (a black-and-white mask): nothing to matte.

Making a trimap
---------------
``trimap_from_alpha`` and ``trimap_from_mask`` build one from a ground-truth alpha or a binary
mask: known foreground shrinks by ``erode`` pixels, known background by ``dilate`` pixels, and
what lies between is unknown. A width ``r`` is the radius of an elliptical structuring element
of size ``2r + 1`` (OpenCV's ``MORPH_ELLIPSE``; for ``r = 1`` that is the 3x3 cross, so one
step of erosion removes the 4-connected boundary). ``r = 0`` means no morphology. The image
border is not treated as background: a foreground that touches the border stays known there.
A width beyond the image's diagonal acts as the diagonal (no pixel is farther away than
that), so ``erode=100000`` costs what the image size allows, not a 40 GB kernel.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable

import cv2
import numpy as np

from alphagan import io as _io
from alphagan.defaults import BACKGROUND_THRESHOLD, ERODE_SIZE, FOREGROUND_THRESHOLD
from alphagan.errors import InputError, OptionTypeError, TrimapError

__all__ = [
    "UNKNOWN",
    "unknown_mask",
    "known_fg",
    "known_bg",
    "require_both_labels",
    "clamp_to_trimap",
    "trimap_from_array",
    "trimap_from_levels",
    "read_trimap",
    "trimap_from_alpha",
    "trimap_from_mask",
    "trimap_from_soft_mask",
    "trimap_to_uint8",
]

UNKNOWN = 0.5

# Levels of a trimap file on the 0..255 scale, and the tolerance around them.
_FILE_LEVELS = (0.0, 128.0, 255.0)  # the distance below is measured to these
_NEAR = 32.0  # a pixel within 32 grey levels of a level is that level, possibly with noise
_MAX_FAR_FRACTION = 0.01  # more "far" pixels than this: a photo or a matte, not a trimap
_MAX_FAR_PER_GREY = 0.5  # far pixels per near-grey pixel above this: an alpha matte

# An alpha that is 255 (resp. 0) in 8 bits: the thresholds sit half an 8-bit step inside.
_ALPHA_ONE = 1.0 - 1.0 / 510.0
_ALPHA_ZERO = 1.0 / 510.0


def unknown_mask(trimap: np.ndarray) -> np.ndarray:
    """Bool HxW: the unknown region, ``0 < trimap < 1``."""
    trimap = np.asarray(trimap)
    return (trimap > 0) & (trimap < 1)


def known_fg(trimap: np.ndarray) -> np.ndarray:
    """Bool HxW: known foreground, ``trimap >= 1``."""
    return np.asarray(trimap) >= 1


def known_bg(trimap: np.ndarray) -> np.ndarray:
    """Bool HxW: known background, ``trimap <= 0``."""
    return np.asarray(trimap) <= 0


def require_both_labels(trimap: np.ndarray, who: str) -> None:
    """Raise ``TrimapError`` if ``trimap`` has unknown pixels but no known foreground or no
    known background: ``who`` (closed-form / KNN matting, a model fed their alphas) needs
    both to have anything to propagate."""
    if not unknown_mask(trimap).any():
        return
    missing = [label for label, known in (("foreground (white)", known_fg(trimap)),
                                          ("background (black)", known_bg(trimap)))
               if not known.any()]
    if missing:
        raise TrimapError(f"the trimap has no known {' or '.join(missing)} pixels; {who} "
                          f"needs both")


def clamp_to_trimap(alpha: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """float32 HxW alpha clipped to [0,1] with known regions set exactly (0 bg, 1 fg)."""
    alpha = np.clip(alpha, 0.0, 1.0).astype(np.float32, copy=False)
    alpha[known_bg(trimap)] = 0.0
    alpha[known_fg(trimap)] = 1.0
    return alpha


def trimap_from_array(
    values: np.ndarray, *, name: str = "trimap", require_unknown: bool = True
) -> np.ndarray:
    """Normalise a grey trimap (HxW uint8, or uint16 scaled to 0..255) to float32 {0, 0.5, 1}.

    Applies the tolerance rule in the module docstring; raises ``InputError`` whose message
    starts with ``name`` (the CLI passes the file name) when the array is not a trimap.
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise InputError(f"{name}: a trimap must be a single-channel HxW array, got {values.shape}")
    if values.size == 0:
        raise InputError(f"{name}: empty trimap")
    refuse_labels(values, name, f"a {values.dtype} trimap")
    if values.dtype == np.uint8:
        grey = values.astype(np.float32)
    elif values.dtype == np.uint16:
        grey = values.astype(np.float32) / np.float32(257.0)
    else:
        raise InputError(f"{name}: a trimap array must be uint8 or uint16, got {values.dtype}")
    return trimap_from_levels(grey, name=name, require_unknown=require_unknown)


def refuse_labels(levels: np.ndarray, name: str, description: str) -> None:
    """``InputError`` for integer trimap levels within 0..2 that are not all 0: labels
    0/1/2 (or 0/1) whose meaning would be a guess. Files and arrays get the same message;
    ``description`` says what was given (e.g. "a uint8 trimap"); the value range is added."""
    if levels.dtype.kind not in "iu" or not levels.size:
        return
    high = int(levels.max())
    if 0 < high <= 2:
        raise InputError(
            f"{name}: got {description} with values {int(levels.min())}..{high}: labels "
            "0/1/2 are ambiguous; expected 0 (background), 128 (unknown), 255 (foreground), "
            "or a float trimap 0 / 0.5 / 1"
        )


def trimap_from_levels(
    grey: np.ndarray, *, name: str = "trimap", require_unknown: bool = True
) -> np.ndarray:
    """Grey levels (float HxW on the 0..255 scale) -> float32 trimap {0, 0.5, 1}.

    The tolerance rule of the module docstring; ``require_unknown=False`` lets a trimap
    without unknown pixels through (the metrics score such a trimap as 0).
    """
    background = grey < 64.0  # nearer to 0 than to 128
    foreground = grey > 191.5  # nearer to 255 than to 128
    unknown = ~(background | foreground)
    # distance to the nearest level, built in place (a 24-megapixel trimap: one extra array)
    distance = np.abs(grey - 128.0)
    np.minimum(distance, np.abs(grey), out=distance)
    np.minimum(distance, np.abs(grey - 255.0), out=distance)
    n_far = int(np.count_nonzero(distance > _NEAR))
    n_grey = int(np.count_nonzero(unknown & (distance <= _NEAR)))

    if n_far > _MAX_FAR_FRACTION * grey.size:
        raise InputError(
            f"{name}: not a trimap: {100.0 * n_far / grey.size:.2f}% of pixels (over 1%) are "
            f"far from black, grey (128) and white (a photo or an alpha matte?)"
        )
    # Checked before the matte rule so that a (JPEG-noisy) binary mask gets this message.
    if n_grey == 0 and require_unknown:
        raise InputError(f"{name}: has no unknown (grey) pixels, nothing to matte")
    if n_far > _MAX_FAR_PER_GREY * n_grey and n_grey:
        raise InputError(
            f"{name}: not a trimap: its in-between values spread like an alpha matte's "
            f"({n_far} pixels far from black, grey and white, {n_grey} near grey)"
        )

    trimap = np.full(grey.shape, UNKNOWN, dtype=np.float32)
    trimap[background] = 0.0
    trimap[foreground] = 1.0
    return trimap


def read_trimap(path: _io.PathLike, *, require_unknown: bool = True) -> np.ndarray:
    """Read a trimap file as float32 HxW {0, 0.5, 1}; errors name the file.

    The file must hold grey levels: a trimap painted in colour (say, red foreground) or with
    a transparency channel is refused rather than read by its brightness, which would turn
    coloured foreground into unknown (``alphagan.io.read_grey(colour="refuse")``).
    """
    return trimap_from_array(_io.read_grey(path, colour="refuse"), name=str(path),
                             require_unknown=require_unknown)


def trimap_from_alpha(alpha: np.ndarray, *, erode: int = 10, dilate: int = 10) -> np.ndarray:
    """Make a trimap (float32 HxW {0, 0.5, 1}) from an alpha matte (float HxW in [0, 1]).

    Known foreground: pixels with alpha >= 1 - 1/510 (255 in 8 bits), eroded by ``erode``
    pixels. Known background: pixels outside the alpha > 1/510 region dilated by ``dilate``
    pixels. Everything else, including every pixel whose 8-bit alpha is 1..254, is unknown.
    """
    alpha = np.asarray(alpha)
    if alpha.ndim != 2:
        raise ValueError(f"alpha must be an HxW array, got shape {alpha.shape}")
    if not np.issubdtype(alpha.dtype, np.floating):
        raise ValueError(
            f"alpha must be a float array in [0, 1], got dtype {alpha.dtype} "
            "(divide 8-bit values by 255, or use alphagan.io.read_alpha)"
        )
    return _trimap_from_regions(alpha >= _ALPHA_ONE, alpha > _ALPHA_ZERO, erode, dilate)


def trimap_from_mask(mask: np.ndarray, *, erode: int = 10, dilate: int = 10) -> np.ndarray:
    """Make a trimap (float32 HxW {0, 0.5, 1}) from a binary mask (HxW, > 0 is foreground).

    Known foreground: the mask eroded by ``erode`` pixels; known background: outside the mask
    dilated by ``dilate`` pixels; the band between is unknown.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be an HxW array, got shape {mask.shape}")
    foreground = mask > 0
    return _trimap_from_regions(foreground, foreground, erode, dilate)


def trimap_from_soft_mask(
    mask: np.ndarray,
    *,
    foreground_threshold: int = FOREGROUND_THRESHOLD,
    background_threshold: int = BACKGROUND_THRESHOLD,
    erode_size: int = ERODE_SIZE,
    name: str = "mask",
) -> np.ndarray:
    """A soft or binary mask -> trimap (float32 HxW {0, 0.5, 1}), by rembg's convention.

    ``mask``: float32 HxW in [0, 1] (1 = foreground), e.g. from
    :func:`alphagan.convert.to_mask`. As in rembg's alpha matting (``rembg.remove`` with
    ``alpha_matting_foreground_threshold=240``, ``_background_threshold=10``,
    ``_erode_size=10``): on the 0..255 scale, pixels above ``foreground_threshold`` are
    foreground and pixels below ``background_threshold`` background; both regions are then
    eroded with an ``erode_size`` x ``erode_size`` square (the image border erodes the
    foreground, not the background, as scipy's ``binary_erosion`` does there); what is left is
    unknown. One difference: ``erode_size=0`` means no erosion (rembg then erodes with a 3x3
    cross, scipy's default structure).

    Raises ``InputError`` (a ``ValueError``) naming ``name`` when the result has no unknown
    pixel (nothing to matte) or no known pixel (nothing to learn the colours from), and for
    thresholds outside 0..255 or ``background_threshold > foreground_threshold + 1``.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2 or not np.issubdtype(mask.dtype, np.floating):
        raise ValueError(f"{name}: expected a float HxW mask in [0, 1], got {mask.dtype} {mask.shape}")
    for label, value in (("foreground_threshold", foreground_threshold),
                         ("background_threshold", background_threshold)):
        if not 0 <= _whole(value, label) <= 255:
            raise ValueError(f"{label} must be in 0..255, got {value}")
    if background_threshold > foreground_threshold + 1:
        raise ValueError(
            f"background_threshold ({background_threshold}) must not exceed "
            f"foreground_threshold ({foreground_threshold}) + 1: the regions would overlap"
        )
    size = _width(erode_size, "erode_size")
    # Compare on the 0..255 scale, rounded so that k/255 from 8-bit input is exactly k.
    level = np.round(mask.astype(np.float64) * 255.0, 3)
    foreground = level > foreground_threshold
    background = level < background_threshold
    if size:
        square = np.ones((size, size), np.uint8)
        # scipy's binary_erosion centres an even-sized structure at index size // 2, as
        # OpenCV's default anchor does; borders: outside counts as not-foreground and as
        # background (rembg's border_value=0 and 1).
        foreground = cv2.erode(foreground.astype(np.uint8), square,
                               borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
        background = cv2.erode(background.astype(np.uint8), square,
                               borderType=cv2.BORDER_CONSTANT, borderValue=1) > 0
    trimap = np.full(mask.shape, UNKNOWN, dtype=np.float32)
    trimap[background] = 0.0
    trimap[foreground] = 1.0
    n_unknown = int(np.count_nonzero(trimap == UNKNOWN))
    if n_unknown == 0:
        raise InputError(
            f"{name}: the mask gives no unknown pixels (every pixel is above "
            f"{foreground_threshold} or below {background_threshold} after erosion), nothing "
            "to matte"
        )
    if n_unknown == trimap.size:
        raise InputError(
            f"{name}: the mask gives no known pixels (none stays above {foreground_threshold} "
            f"or below {background_threshold} after a {size}x{size} erosion): an empty or "
            "uniformly grey mask?"
        )
    return trimap


def trimap_to_uint8(trimap: np.ndarray) -> np.ndarray:
    """Trimap {0, 0.5, 1} -> uint8 HxW {0, 128, 255}, for writing to a file."""
    trimap = np.asarray(trimap)
    out = np.full(trimap.shape, 128, dtype=np.uint8)
    out[known_bg(trimap)] = 0
    out[known_fg(trimap)] = 255
    return out


def _trimap_from_regions(
    sure_fg: np.ndarray, maybe_fg: np.ndarray, erode: int, dilate: int
) -> np.ndarray:
    """fg = ``sure_fg`` eroded; bg = outside ``maybe_fg`` dilated; the rest unknown."""
    # Past the diagonal every pixel is already within reach: same result, bounded kernel.
    reach = math.ceil(math.hypot(*sure_fg.shape))
    erode = min(_width(erode, "erode"), reach)
    dilate = min(_width(dilate, "dilate"), reach)
    fg = _morph(sure_fg, erode, cv2.erode)
    bg = ~_morph(maybe_fg, dilate, cv2.dilate)
    trimap = np.full(sure_fg.shape, UNKNOWN, dtype=np.float32)
    trimap[bg] = 0.0
    trimap[fg] = 1.0  # fg is inside maybe_fg, so it never overlaps bg
    return trimap


def _whole(value: int, what: str) -> int:
    """``value`` as an int; ``OptionTypeError`` (a TypeError and a ValueError) naming
    ``what`` for floats, bools and the like: thresholds and widths are whole numbers."""
    try:
        if isinstance(value, bool):
            raise TypeError
        return operator.index(value)
    except TypeError:
        raise OptionTypeError(f"{what}: expected a whole number, got {value!r}") from None


def _width(value: int, what: str) -> int:
    width = _whole(value, what)
    if width < 0:
        raise ValueError(f"{what} must be >= 0 pixels, got {width}")
    return width


def _morph(region: np.ndarray, radius: int, op: Callable[..., np.ndarray]) -> np.ndarray:
    if radius == 0:
        return region
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    # OpenCV's default border value for erode/dilate leaves pixels outside the image neutral,
    # so the image edge neither erodes the foreground nor grows the background.
    return op(region.astype(np.uint8), kernel) > 0
