"""The "strong" training recipe: the augmentations modern matting repositories train with.

GCA-Matting, MatteFormer, MODNet and mmagic's matting pipelines all add, on top of the DIM
composite, the same handful of transforms; :class:`AugmentConfig` holds their ranges and the
functions below apply them to float32 ``(H, W, 3)`` colour and ``(H, W)`` alpha arrays in
[0, 1]. :class:`~alphagan.data.CompositionDataset` chains them when ``augment="strong"``.

What keeps the matting equation. Every geometric and colour transform acts on the foreground
colour ``F`` and alpha ``a`` *before* the composite is formed, with the same warp for ``F`` and
``a``; the background ``B`` is cropped on its own; additive noise is the same field added to
``F`` and ``B``. So the returned ``image`` is exactly ``a*F + (1-a)*B`` of the returned
tensors, as in the DIM recipe. The exceptions are the degradations of the network's input
(Gaussian blur and JPEG, :func:`degrade_input`): they act on ``image`` alone, as a camera or
a web upload would, so after them ``image`` is a blurred / recompressed composite while
``fg``, ``bg`` and ``alpha`` (which the losses and the discriminator use) stay exact.

Two foregrounds (:func:`merge_foregrounds`) are laid one over the other, F1 in front::

    a = 1 - (1 - a1)(1 - a2)
    F = (a1 F1 + (1 - a1) a2 F2) / a        (F = F1 where a = 0)

so ``a*F + (1-a)*B = a1 F1 + (1-a1) (a2 F2 + (1-a2) B)``: F1 composited over (F2 over B).
GCA-Matting and mmagic use ``F = a1 F1 + (1 - a1) F2``, which drops the ``a2 / a`` weight and
so breaks that identity wherever ``0 < a2 < 1`` and ``a1 < 1``.

Where a matte touches the edge of its picture (alphamatting.com objects often leave through
the bottom of the frame), a rotation or zoom-out that uncovers the outside cuts the matte
along the picture's edge: alpha falls to 0 there (the colour repeats the edge), a straight
hard edge that the composite and trimap describe consistently.

Speed (``python -m benchmarks.data_pipeline --workers 0 --samples 400 --augment dim|strong
--backgrounds backgrounds,backgrounds_more``, crop 320, one process, on the 2-core dev machine
while a training job and other work kept its load average near 9): dim 41.1 samples/s
(114.5 per CPU-second), strong 26.8 samples/s (67.7 per CPU-second); strong costs about 1.7x
dim. The same command on the idle machine gave dim 247 samples/s earlier
(``benchmarks/results/data_pipeline.json``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "AugmentConfig",
    "affine_matrix",
    "warp_foreground",
    "jitter_colour",
    "merge_foregrounds",
    "add_noise",
    "degrade_input",
]


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the strong recipe (used when the data config says ``augment: strong``).

    Geometry (the same warp of foreground colour and alpha, the background untouched):
        rotation: degrees; the angle is uniform in [-rotation, rotation].
        scale: (low, high) zoom of the foreground crop, log-uniform (1 = the DIM crop).
        shear: degrees; horizontal shear uniform in [-shear, shear].
        (the horizontal flip is the data config's ``flip``.)
    Colour of each foreground (HSV, then gamma), applied with probability ``jitter_prob``:
        hue: degrees; hue shift uniform in [-hue, hue] (the colour wheel is 360).
        saturation, value: relative; multipliers uniform in [1 - x, 1 + x].
        gamma: (low, high); ``F ** g`` with g log-uniform in the range.
    Two foregrounds:
        merge_prob: probability that a second foreground (drawn like the first, warped and
            jittered on its own) is laid behind the first (see :func:`merge_foregrounds`).
    Backgrounds:
        bg_scale: (low, high) side of the square cut from the background picture, as a fraction
            of its short side (uniform; 1 = the DIM recipe), at a random position, then
            resized to the crop size: a random zoom of the picture. The crop is also flipped
            horizontally half the time.
    Trimaps (sides of the elliptical kernels, pixels at crop size, inclusive ranges):
        trimap_erode: erosion of the opaque region (``alpha == 1``) into the unknown band.
        trimap_dilate: dilation of the non-zero region (``alpha > 0``) into the background.
        The defaults, sides 3-41 (radii 1-20 px), cover both user trimap sets of
        alphamatting.com at the training crop scales (0.5-1) and zooms (0.8-1.25): the
        users' bands reach 3-7 px (Trimap1) and 5-15 px (Trimap2) beyond the soft region on
        each side, in photo pixels (``python -m benchmarks.trimap_widths``).
    The network's input (probabilities, then ranges):
        noise_prob, noise_sigma: Gaussian noise, sigma uniform in the range (in [0, 1] units),
            the same field added to F and B, so the composite stays exact.
        blur_prob, blur_sigma: Gaussian blur of the input image, sigma uniform (pixels).
        jpeg_prob, jpeg_quality: JPEG re-encoding of the input image, quality uniform
            (integers, inclusive).
    """

    rotation: float = 30.0
    scale: tuple[float, float] = (0.8, 1.25)
    shear: float = 10.0
    jitter_prob: float = 0.8
    hue: float = 20.0
    saturation: float = 0.3
    value: float = 0.3
    gamma: tuple[float, float] = (0.7, 1.4)
    merge_prob: float = 0.5
    bg_scale: tuple[float, float] = (0.3, 1.0)
    trimap_erode: tuple[int, int] = (3, 41)
    trimap_dilate: tuple[int, int] = (3, 41)
    noise_prob: float = 0.3
    noise_sigma: tuple[float, float] = (0.0, 0.03)
    blur_prob: float = 0.2
    blur_sigma: tuple[float, float] = (0.3, 1.5)
    jpeg_prob: float = 0.3
    jpeg_quality: tuple[int, int] = (40, 95)

    def __post_init__(self) -> None:
        for name in ("jitter_prob", "merge_prob", "noise_prob", "blur_prob", "jpeg_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"augmentation.{name} must be in [0, 1], got {value}")
        for name in ("rotation", "shear", "hue", "saturation", "value"):
            if getattr(self, name) < 0:
                raise ValueError(f"augmentation.{name} must be >= 0, got {getattr(self, name)}")
        if self.shear >= 80:
            raise ValueError(f"augmentation.shear must be < 80 degrees, got {self.shear}")
        if self.saturation > 1 or self.value > 1:
            raise ValueError("augmentation.saturation and .value must be <= 1 "
                             f"(multipliers 1 +- x), got {self.saturation}, {self.value}")
        _check_range("scale", self.scale, low=0.0, strict_low=True)
        _check_range("gamma", self.gamma, low=0.0, strict_low=True)
        _check_range("bg_scale", self.bg_scale, low=0.0, high=1.0, strict_low=True)
        _check_range("trimap_erode", self.trimap_erode, low=1)
        _check_range("trimap_dilate", self.trimap_dilate, low=1)
        _check_range("noise_sigma", self.noise_sigma, low=0.0)
        _check_range("blur_sigma", self.blur_sigma, low=0.0, strict_low=True)
        _check_range("jpeg_quality", self.jpeg_quality, low=1, high=100)


def _check_range(name: str, pair: tuple[float, float], *, low: float, high: float | None = None,
                 strict_low: bool = False) -> None:
    a, b = pair
    bad_low = a <= low if strict_low else a < low
    if bad_low or a > b or (high is not None and b > high):
        bound = f"{'>' if strict_low else '>='} {low}" + (f", <= {high}" if high is not None
                                                           else "")
        raise ValueError(f"augmentation.{name} must be (low, high) with low <= high, {bound}; "
                         f"got {tuple(pair)}")


# --------------------------------------------------------------------------------------------
# Geometry


def affine_matrix(rng: np.random.Generator, config: AugmentConfig, *, flip: bool) -> np.ndarray:
    """A random 2x2 linear map: rotation @ shear @ diag(+-scale, scale).

    Maps an offset in the source crop (already at output scale) to an offset in the output;
    ``flip`` allows the mirror (drawn with probability 1/2). Always draws the same number of
    values from ``rng``, whatever the ranges, so changing one range does not reshuffle the
    rest of a sample's stream.
    """
    angle = math.radians(rng.uniform(-config.rotation, config.rotation))
    shear = math.tan(math.radians(rng.uniform(-config.shear, config.shear)))
    lo, hi = config.scale
    scale = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    mirror = -1.0 if (rng.random() < 0.5 and flip) else 1.0
    cos, sin = math.cos(angle), math.sin(angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    shearing = np.array([[1.0, shear], [0.0, 1.0]])
    return rotation @ shearing @ np.diag([mirror * scale, scale])


def warp_foreground(fg: np.ndarray, alpha: np.ndarray, centre: tuple[float, float], side: int,
                    linear: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut a ``size`` x ``size`` view of (fg, alpha), warped by ``linear``, around ``centre``.

    Args:
        fg: (H, W, 3) uint8 or float32 foreground colours; ``alpha``: (H, W), same dtype.
        centre: (y, x) source point that lands on the output's centre.
        side: source pixels that span the output without warping (the DIM crop side); the
            map is first scaled by ``size / side``.
        linear: 2x2 map of offsets (output scale), from :func:`affine_matrix`.
        size: output side S.

    Returns (S, S, 3) fg and (S, S) alpha in their input dtype. Both arrays are sampled by the
    same map (bilinear, after an area-averaging shrink by ``side // size`` when that is >= 2,
    so thin hair does not alias away); outside the source, alpha is 0 and fg repeats its edge.
    """
    height, width = alpha.shape
    # dst -> src: v = (side / size) * linear^-1 (u - c_out) + centre, in pixel-centre coords.
    inverse = np.linalg.inv(linear) * (side / size)
    c_out = (size - 1) / 2.0
    cy, cx = centre
    corners = np.array([[-c_out, -c_out], [-c_out, c_out], [c_out, -c_out], [c_out, c_out]])
    reach = np.abs(corners @ inverse.T).max(axis=0) + 2.0  # (x, y) half-extent in the source
    x0 = max(int(math.floor(cx - reach[0])), 0)
    x1 = min(int(math.ceil(cx + reach[0])) + 1, width)
    y0 = max(int(math.floor(cy - reach[1])), 0)
    y1 = min(int(math.ceil(cy + reach[1])) + 1, height)
    fg, alpha = fg[y0:y1, x0:x1], alpha[y0:y1, x0:x1]
    offset = np.array([cx - x0, cy - y0])  # centre inside the window, (x, y)
    step = side // size
    if step >= 2:
        # Shrink by the integer factor first with area averaging (OpenCV's fast path for
        # integer factors), so hair does not alias away; the warp does the rest (< 2x).
        new_h, new_w = fg.shape[0] // step, fg.shape[1] // step
        fg = fg[: new_h * step, : new_w * step]
        alpha = alpha[: new_h * step, : new_w * step]
        fg = cv2.resize(fg, (new_w, new_h), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, (new_w, new_h), interpolation=cv2.INTER_AREA)
        # Output pixel x of an integer area shrink is centred on source k * x + (k - 1) / 2.
        inverse = inverse / step
        offset = (offset - (step - 1) / 2.0) / step
    matrix = np.empty((2, 3))
    matrix[:, :2] = inverse
    matrix[:, 2] = offset - inverse @ np.array([c_out, c_out])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    fg = cv2.warpAffine(fg, matrix, (size, size), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(alpha, matrix, (size, size), flags=flags,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return fg, alpha


# --------------------------------------------------------------------------------------------
# Colour


def jitter_colour(fg: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """(H, W, 3) float32 in [0, 1] -> the same with hue, saturation, value and gamma jittered.

    Hue is rotated by a uniform shift, saturation and value are multiplied, then ``F ** g``.
    Draws 4 values from ``rng`` always.
    """
    shift = rng.uniform(-config.hue, config.hue)
    sat = rng.uniform(1.0 - config.saturation, 1.0 + config.saturation)
    val = rng.uniform(1.0 - config.value, 1.0 + config.value)
    lo, hi = config.gamma
    gamma = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    hsv = cv2.cvtColor(fg, cv2.COLOR_RGB2HSV)  # float32: H in [0, 360), S and V in [0, 1]
    hue, saturation, value = cv2.split(hsv)  # contiguous planes: faster than strided views
    hue += np.float32(shift)
    hue[hue >= 360.0] -= np.float32(360.0)
    hue[hue < 0.0] += np.float32(360.0)
    saturation *= np.float32(sat)
    np.minimum(saturation, np.float32(1.0), out=saturation)
    value *= np.float32(val)
    np.minimum(value, np.float32(1.0), out=value)
    out = cv2.cvtColor(cv2.merge([hue, saturation, value]), cv2.COLOR_HSV2RGB)
    np.clip(out, 0.0, 1.0, out=out)  # HSV -> RGB rounding
    if abs(gamma - 1.0) > 1e-6:
        out = cv2.pow(out, gamma)
    return out


def merge_foregrounds(fg1: np.ndarray, alpha1: np.ndarray, fg2: np.ndarray, alpha2: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Lay foreground 1 over foreground 2: one foreground whose composite is F1 over (F2 over B).

    ``fg*``: (H, W, 3) float32, ``alpha*``: (H, W) float32, all in [0, 1]. Returns
    ``a = 1 - (1 - a1)(1 - a2)`` and ``F = (a1 F1 + (1 - a1) a2 F2) / a`` (F1 where a = 0),
    both float32.
    """
    rest1 = 1.0 - alpha1  # float32 (H, W) throughout
    weight2 = rest1 * alpha2
    alpha = 1.0 - rest1 * (1.0 - alpha2)
    # Per-pixel weights of F1 and F2 (cheap (H, W) planes): a1 / a and (1 - a1) a2 / a, or
    # 1 and 0 where a = 0 (there a1 = a2 = 0), so F = c1 F1 + c2 F2 needs one pass over F.
    covered = alpha > 0
    inverse = np.divide(1.0, alpha, out=np.zeros_like(alpha), where=covered)
    c1 = np.where(covered, alpha1 * inverse, np.float32(1.0))
    c2 = weight2 * inverse
    fg = c1[..., None] * fg1
    fg += c2[..., None] * fg2
    np.clip(fg, 0.0, 1.0, out=fg)  # a convex combination: only rounding is clipped
    return fg, alpha


# --------------------------------------------------------------------------------------------
# The network's input


def add_noise(fg: np.ndarray, bg: np.ndarray, sigma: float, rng: np.random.Generator) -> None:
    """Add one Gaussian field (std ``sigma``) to ``fg`` and ``bg`` in place, then clip to [0, 1].

    The same field on both: ``a*(F+n) + (1-a)*(B+n) = a*F + (1-a)*B + n``, so a composite made
    from the returned arrays is the noisy composite and the matting equation stays exact.
    """
    noise = rng.standard_normal(fg.shape, dtype=np.float32)
    noise *= np.float32(sigma)
    fg += noise
    bg += noise
    np.clip(fg, 0.0, 1.0, out=fg)
    np.clip(bg, 0.0, 1.0, out=bg)


def degrade_input(image: np.ndarray, rng: np.random.Generator, config: AugmentConfig
                  ) -> np.ndarray:
    """Random Gaussian blur, then JPEG re-encoding, of the (H, W, 3) float32 network input.

    These break ``image == a*F + (1-a)*B`` on purpose (a real photo is blurred and compressed
    after it was "composited" by the scene); fg, bg and alpha are not touched. Always draws
    the same number of values from ``rng``.
    """
    blur = rng.random() < config.blur_prob
    sigma = rng.uniform(*config.blur_sigma)
    jpeg = rng.random() < config.jpeg_prob
    quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1], endpoint=True))
    if blur:
        image = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
    if jpeg:
        # OpenCV encodes BGR; reversing the channels keeps the chroma planes where JPEG
        # expects them (the subsampled Cb/Cr would otherwise come from the wrong channels).
        pixels = np.rint(image[..., ::-1] * 255.0).astype(np.uint8)
        ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
            raise RuntimeError("cv2.imencode failed on a training composite")
        decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1]
        image = decoded.astype(np.float32) * np.float32(1.0 / 255.0)
    return image
