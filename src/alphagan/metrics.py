"""The Deep Image Matting evaluation metrics: SAD, MSE, gradient and connectivity error.

A port of the MATLAB code released with DIM (Xu et al., CVPR 2017): ``compute_sad_loss.m``,
``compute_mse_loss.m``, ``compute_gradient_loss.m`` (+ ``gaussgradient.m``) and
``compute_connectivity_error.m``. It follows that code's math step by step; what remains is
floating point: MATLAB casts some intermediates to ``single``, this port stays in float64,
and applies the (rank-one) gradient kernel as two 1D passes (relative differences ~1e-7).
Where MATLAB would fail (no component at a threshold) omega is taken as empty.

Input conventions, shared by every public function (read by :mod:`alphagan.convert`):

- ``pred``, ``gt``: HxW alpha (or a path / PIL image). Integer arrays are on the 0..255
  scale (uint8; uint16 is 0..65535 and is scaled to 0..255 by /257); float arrays are in
  [0, 1] and are multiplied by 255 without rounding. NaN and floats above 1 are refused.
- ``trimap``: HxW, uint8 0/128/255 or float {0, 0.5, 1} (or a path / PIL image), read by
  :func:`alphagan.convert.to_trimap`: values snap to the nearest level within its tolerance
  (the MATLAB code counts only exactly 128 as unknown; a clean trimap gives the same
  pixels), and what is not a trimap (labels 0/1/2, a photo, a matte) is refused.

Only unknown pixels are scored. The prediction (not the ground truth) is first clamped to the
trimap, pred = 0 on background and 255 on foreground, as the DIM evaluation does; this matters
for the gradient (whole-image min-max and filtering) and the connectivity (components).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np

from alphagan.convert import ImageLike, alpha_255, to_trimap
from alphagan.errors import InputError

__all__ = ["sad", "mse", "gradient_error", "connectivity_error", "compute_all"]

# Connectivity thresholds are compared on the 255 scale with this tolerance. On 8-bit data
# a value k is either exactly on a threshold 25.5*n (MATLAB: single(k)/255 >= n/10 is then
# true) or at least 0.5 away from it, so any tolerance in (0, 0.5) reproduces the exact math.
# Without one, ties break on rounding: 255 * (6 * 0.1) = 153.00000000000003 > 153, and a
# float32 k/255 input times 255 can land ~1e-5 below k.
_THRESHOLD_TOL = 1e-3

_GRADIENT_SIGMA = 1.4
_STRIP_ROWS = 64  # rows per gradient strip: ~0.5 MB of float64 per buffer at 800 columns


class _Prepared(NamedTuple):
    pred: np.ndarray  # (H, W) float64 on 0..255, clamped to the trimap
    gt: np.ndarray  # (H, W) float64 on 0..255
    unknown: np.ndarray  # (H, W) bool, the scored pixels


def _prepare(pred: ImageLike, gt: ImageLike, trimap: ImageLike) -> _Prepared:
    p = alpha_255(pred, name="pred")
    g = alpha_255(gt, name="gt")
    levels = to_trimap(trimap, require_unknown=False)
    shapes = {"pred": p.shape, "gt": g.shape, "trimap": levels.shape}
    if len(set(shapes.values())) != 1:
        raise InputError(f"pred, gt and trimap must have the same shape, got {shapes}")
    p[levels <= 0.0] = 0.0
    p[levels >= 1.0] = 255.0
    return _Prepared(p, g, (levels > 0.0) & (levels < 1.0))


# --- SAD and MSE ---------------------------------------------------------------------------


def _sad(x: _Prepared) -> float:
    return float(np.abs(x.pred[x.unknown] - x.gt[x.unknown]).sum() / 255.0 / 1000.0)


def _mse(x: _Prepared) -> float:
    n = int(np.count_nonzero(x.unknown))
    if n == 0:
        raise InputError("MSE is undefined: the trimap has no unknown pixels")
    d = (x.pred[x.unknown] - x.gt[x.unknown]) / 255.0
    return float(np.dot(d, d) / n)


def sad(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> float:
    """Sum of absolute differences over the unknown region, in thousands (alphas in [0, 1]).

    pred, gt: (H, W) uint8/uint16 or float in [0, 1]; trimap: (H, W) uint8 {0, 128, 255} or
    float {0, 0.5, 1}. An empty unknown region gives 0.0.
    """
    return _sad(_prepare(pred, gt, trimap))


def mse(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> float:
    """Mean squared error over the unknown region (alphas in [0, 1]).

    Inputs as for :func:`sad`. Raises ``InputError`` when the trimap has no unknown pixel.
    """
    return _mse(_prepare(pred, gt, trimap))


# --- Gradient error ------------------------------------------------------------------------


def _gauss(x: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-(x**2) / (2.0 * sigma**2)) / (sigma * np.sqrt(2.0 * np.pi))


def _dgauss(x: np.ndarray, sigma: float) -> np.ndarray:
    return -x * _gauss(x, sigma) / sigma**2


def _gaussgradient_factors(sigma: float = _GRADIENT_SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """1D factors (smooth, deriv) of ``gaussgradient.m``'s kernel: hx = outer(smooth, deriv).

    smooth = G(u), deriv = G'(u) for u = -h..h, each scaled to unit L2 norm, so that hx has
    unit L2 norm as in the MATLAB code; h = 4 for sigma = 1.4 (9 taps).
    """
    epsilon = 1e-2
    # Half-size: the smallest integer x with G(x) <= epsilon.
    scaled_epsilon = math.sqrt(2.0 * math.pi) * sigma * epsilon
    halfsize = math.ceil(sigma * math.sqrt(-2.0 * math.log(scaled_epsilon)))
    u = np.arange(-halfsize, halfsize + 1, dtype=np.float64)
    smooth, deriv = _gauss(u, sigma), _dgauss(u, sigma)
    # ||outer(a, b)||_F == ||a|| * ||b||: normalising each factor normalises hx.
    return smooth / np.linalg.norm(smooth), deriv / np.linalg.norm(deriv)


def _gaussgradient_kernel(sigma: float = _GRADIENT_SIGMA) -> np.ndarray:
    """The x-derivative-of-Gaussian kernel hx of ``gaussgradient.m``: (2h+1, 2h+1) float64.

    hx[i, j] = G(i - h) * G'(j - h) (rows smooth, columns differentiate), scaled to unit L2
    norm. The y kernel is hx.T.
    """
    smooth, deriv = _gaussgradient_factors(sigma)
    return np.outer(smooth, deriv)


def _gaussgradient(
    image: np.ndarray, sigma: float = _GRADIENT_SIGMA
) -> tuple[np.ndarray, np.ndarray]:
    """(gx, gy) of an (H, W) float64 image, as ``imfilter(im, h, 'replicate', 'conv')``.

    hx is rank one, so it is applied as two 1D passes (sepFilter2D; ~5x faster than a 9x9
    filter2D, same result up to rounding). imfilter 'conv' flips the kernel and OpenCV
    correlates, so the factors are flipped (the Gaussian is symmetric, only G' changes sign).
    """
    smooth, deriv = _gaussgradient_factors(sigma)
    smooth_f, deriv_f = smooth[::-1].copy(), deriv[::-1].copy()
    # sepFilter2D(src, ddepth, kernelX (along a row), kernelY (along a column))
    gx = cv2.sepFilter2D(image, cv2.CV_64F, deriv_f, smooth_f, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.sepFilter2D(image, cv2.CV_64F, smooth_f, deriv_f, borderType=cv2.BORDER_REPLICATE)
    return gx, gy


def _gradient_amplitude(image: np.ndarray, where: np.ndarray) -> np.ndarray:
    """|gaussgradient(mat2gray(image))| at the pixels ``where``, in row-major order (1D).

    image: (H, W) float64; where: (H, W) bool. mat2gray (min-max over the whole image, not
    /255) as in the reference; a constant image gives zeros.
    """
    lo, hi = float(image.min()), float(image.max())
    if hi <= lo:
        return np.zeros(np.count_nonzero(where))
    # Filter in strips of rows, each with the kernel's half-size of extra rows above and
    # below so that the kept rows are exact: small temporaries, recycled by the allocator,
    # avoid the page faults of several full-size ones, which cost more than the filtering.
    margin = _gaussgradient_kernel().shape[0] // 2
    rows = image.shape[0]
    parts = []
    for top in range(0, rows, _STRIP_ROWS):
        bottom = min(top + _STRIP_ROWS, rows)
        strip_where = where[top:bottom]
        if not strip_where.any():
            continue
        first, last = max(top - margin, 0), min(bottom + margin, rows)
        # at the image's top and bottom the strip's replicated border is the image's
        gx, gy = _gaussgradient((image[first:last] - lo) / (hi - lo))
        keep = slice(top - first, bottom - first)
        parts.append(np.hypot(gx[keep][strip_where], gy[keep][strip_where]))
    return np.concatenate(parts) if parts else np.zeros(0)


def _gradient_error(x: _Prepared) -> float:
    if not x.unknown.any():
        return 0.0
    d = _gradient_amplitude(x.pred, x.unknown) - _gradient_amplitude(x.gt, x.unknown)
    return float(np.dot(d, d) / 1000.0)


def gradient_error(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> float:
    """Gradient error: sum over unknown pixels of (|grad pred~| - |grad gt~|)^2, in thousands.

    pred~, gt~ are min-max normalised to [0, 1] over the whole image; the gradient is a
    derivative-of-Gaussian (sigma 1.4, 9x9) with replicated borders. Inputs as for
    :func:`sad`; an empty unknown region gives 0.0.
    """
    return _gradient_error(_prepare(pred, gt, trimap))


# --- Connectivity error --------------------------------------------------------------------


def _largest_component(mask: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected components of an (H, W) uint8 mask: (labels, label of the largest one).

    Mirrors ``bwconncomp(mask, 4)`` + ``[~, max_id] = max(cellfun(@numel, ...))``; the label
    is -1 when the mask is empty. ``labels``: an (H, W) int32 buffer to reuse.
    """
    # connectedComponents + bincount: 2x faster here than connectedComponentsWithStats.
    n, labels = cv2.connectedComponents(mask, labels=labels, connectivity=4, ltype=cv2.CV_32S)
    if n <= 1:
        return labels, -1  # MATLAB: omega stays all zero
    areas = np.bincount(labels.ravel(), minlength=n)
    areas[0] = 0  # label 0 is the background (mask == 0); counting it is the classic port bug
    best = np.flatnonzero(areas == areas.max())
    if best.size == 1:
        return labels, int(best[0])
    # MATLAB's max() keeps the first of equal sizes, and bwconncomp numbers components in
    # column-major scan order, whereas OpenCV scans row-major: take the tied component whose
    # first pixel comes first in column-major order.
    column_major = labels.T.ravel()
    return labels, int(column_major[np.argmax(np.isin(column_major, best))])


def _connectivity_error(x: _Prepared, step: float) -> float:
    if not np.isfinite(step) or not 0.0 < step <= 1.0:
        raise InputError(f"connectivity step must be in (0, 1], got {step}")
    if not x.unknown.any():
        return 0.0
    # MATLAB 0:step:1, e.g. 0, 0.1, ..., 1.0 (the epsilon guards 1/step landing just below n).
    n_steps = int(np.floor(1.0 / step + 1e-9))
    thresholds = np.arange(n_steps + 1) * step
    # (pred >= t) & (gt >= t)  <=>  min(pred, gt) >= t
    both = np.minimum(x.pred, x.gt)
    mask = np.empty(both.shape, dtype=bool)
    labels = np.empty(both.shape, dtype=np.int32)
    # Only unknown pixels are scored, so only their levels are tracked. A pixel's level is
    # thresholds[k - 1] for the first k where it falls outside the largest component; while
    # still "unassigned" (MATLAB l_map == -1) it has stayed inside for every k so far.
    unknown_idx = np.flatnonzero(x.unknown)
    unassigned = np.ones(unknown_idx.size, dtype=bool)
    stayed = np.zeros(unknown_idx.size, dtype=np.intp)  # = k - 1 once left out
    for k in range(1, n_steps + 1):
        np.greater_equal(both, 255.0 * thresholds[k] - _THRESHOLD_TOL, out=mask)
        labels, label = _largest_component(mask.view(np.uint8), labels)
        if label < 0:
            unassigned[:] = False  # no component at all: every pixel is left out
        else:
            unassigned &= labels.ravel()[unknown_idx] == label
        if not unassigned.any():
            break  # every scored pixel has its level; later thresholds change nothing
        stayed += unassigned
    # Never left out -> 1 (not thresholds[-1], which differs when step does not divide 1).
    level = np.append(thresholds[:n_steps], 1.0)[stayed]
    pred_d = x.pred[x.unknown] / 255.0 - level
    gt_d = x.gt[x.unknown] / 255.0 - level
    pred_phi = 1.0 - pred_d * (pred_d >= 0.15)
    gt_phi = 1.0 - gt_d * (gt_d >= 0.15)
    return float(np.abs(pred_phi - gt_phi).sum() / 1000.0)


def connectivity_error(
    pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray, step: float = 0.1
) -> float:
    """Connectivity error over the unknown region, in thousands.

    For thresholds t = step, 2*step, ..., 1 a pixel's level l is the last threshold before
    it left the largest 4-connected component of (pred >= t) & (gt >= t) (1 if it never
    left); phi(a) = 1 - d*[d >= 0.15] with d = a - l; the error sums |phi(pred) - phi(gt)|.
    Inputs as for :func:`sad`; ``step`` in (0, 1]. An empty unknown region gives 0.0.
    """
    return _connectivity_error(_prepare(pred, gt, trimap), step)


def compute_all(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> dict[str, float]:
    """All four metrics at once: ``{"sad", "mse", "grad", "conn"}`` (inputs as for :func:`sad`).

    Raises ``InputError`` when the trimap has no unknown pixel (MSE is undefined).
    """
    x = _prepare(pred, gt, trimap)
    return {
        "sad": _sad(x),
        "mse": _mse(x),
        "grad": _gradient_error(x),
        "conn": _connectivity_error(x, 0.1),
    }
