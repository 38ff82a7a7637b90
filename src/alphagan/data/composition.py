"""On-the-fly training composites: the Deep Image Matting (DIM) recipe.

Every sample pastes one foreground (colour F + alpha) onto a background photo B::

    image = alpha * F + (1 - alpha) * B

computed in float32 from exactly the ``fg``, ``bg`` and ``alpha`` tensors the sample returns,
so the discriminator's real composite (ground-truth alpha) and fake composite (predicted alpha)
can be rebuilt from the same tensors at the same resolution (SPEC, "Discriminator").

Per sample (all randomness from one generator seeded by ``(seed, epoch, index)``):

1. foreground ``index % len(items)``; images whose short side is below ``crop_size`` are first
   upscaled so that it equals ``crop_size``;
2. a square of side ``choice(crop_choices)`` (clamped to the image) centred on a random unknown
   pixel (0 < alpha < 1), shifted to stay inside the image; a random square if there is none;
3. resized to ``crop_size`` (``INTER_AREA`` when shrinking, ``INTER_LINEAR`` otherwise);
4. a random horizontal flip (foreground and alpha together; the background is not flipped);
5. a background: a random square of the photo's short side (the photo resized to cover the
   crop, keeping its aspect, at a random position), resized to ``crop_size``;
6. a trimap from the final alpha: known foreground = ``alpha >= 1`` eroded, known background =
   outside ``alpha > 0`` dilated, each by an elliptical kernel whose side (pixels, at
   ``crop_size`` resolution) is a random integer in ``trimap_kernel`` (inclusive), so every
   pixel with 0 < alpha < 1 is unknown.

With ``augment="strong"`` the sample follows the recipe of modern matting repositories
instead (:mod:`alphagan.data.augment`; ranges in :class:`~alphagan.data.AugmentConfig`):

1. foreground ``index % len(items)``, crop window chosen as in step 2 above, then cut with a
   random rotation / scale / shear / horizontal flip (one warp for colours and alpha; alpha 0
   outside the picture) straight to (S, S), and its colours jittered (hue, saturation, value,
   gamma);
2. with probability ``merge_prob`` a second foreground (drawn from ``partners``) made the same
   way is laid behind the first: ``a = 1 - (1 - a1)(1 - a2)``, F blended accordingly;
3. a background: a random square of a random fraction (``bg_scale``) of the picture's short
   side at a random position, resized to (S, S), flipped half the time;
4. a trimap as in step 6 above, with separate erosion and dilation ranges;
5. sometimes light Gaussian noise (the same field on F and B, so the equation stays exact),
   then the composite, then sometimes a blur and a JPEG re-encoding of ``image`` alone (the
   network's input; ``fg``, ``bg`` and ``alpha`` stay exact).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from alphagan.data.augment import (
    AugmentConfig,
    add_noise,
    affine_matrix,
    degrade_input,
    jitter_colour,
    merge_foregrounds,
    warp_foreground,
)
from alphagan.errors import InputError
from alphagan.io import read_alpha, read_image

__all__ = ["ForegroundItem", "CompositionDataset", "DEFAULT_DECODE_CACHE_BYTES"]

# Budget of decoded foregrounds and backgrounds kept per process: each DataLoader worker holds
# its own cache, so the total is up to (workers + 1) times this. 8-bit sources are kept as
# uint8 (an 800x600 foreground + alpha is about 1.9 MB): 1 GiB holds every alphamatting.com
# scene, or about 80 Composition-1k foregrounds of 2000x1500 (the other ones are re-decoded).
DEFAULT_DECODE_CACHE_BYTES = 1 << 30

# Float alphas (16-bit sources) that come within this of 0 or 1 after resampling are snapped,
# so resampling noise (1.0 -> 0.99999994) does not turn a solid region into "unknown".
_SNAP = 1e-5


@dataclass(frozen=True)
class ForegroundItem:
    """One training foreground: an alpha matte and where its colours come from.

    ``fg``: the foreground colour image (same size as ``alpha``). Datasets that ship only a
    photo and its alpha set ``image`` instead; :func:`alphagan.data.prepare_foregrounds`
    estimates ``fg`` from them once and caches it.
    """

    name: str
    alpha: Path
    fg: Path | None = None
    image: Path | None = None


class _Decoded(NamedTuple):
    """A foreground ready for cropping; arrays are uint8 (8-bit sources) or float32 in [0, 1]."""

    fg: np.ndarray  # (H, W, 3)
    alpha: np.ndarray  # (H, W)
    unknown: np.ndarray  # flat indices of the pixels with 0 < alpha < 1, int32 or int64


class _LRUCache:
    """Least-recently-used cache of decoded arrays, bounded by their total ``nbytes``.

    Lives inside the dataset object, so each DataLoader worker process has its own copy (forked
    workers start with whatever the parent had decoded). Entries larger than the whole budget
    are returned but not kept.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0

    def get(self, key: Hashable, load: Callable[[], Any], size: Callable[[Any], int]) -> Any:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry[0]
        value = load()
        nbytes = size(value)
        if nbytes <= self.max_bytes:
            self._entries[key] = (value, nbytes)
            self._bytes += nbytes
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
        return value

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)


class CompositionDataset(Dataset):
    """DIM-style composites made on the fly from foregrounds and background photos.

    Args:
        items: the foregrounds. Items without ``fg`` (photo + alpha only) are resolved at
            construction with :func:`~alphagan.data.prepare_foregrounds` (estimated once,
            cached as PNG under ``cache_dir``); do it yourself beforehand to control progress
            output and the cache location.
        backgrounds: background photo files; one is drawn at random for every sample.
        crop_size: side S of the returned square samples.
        crop_choices: sides of the square cut from the (possibly upscaled) foreground before
            it is resized to S; clamped to the image's short side.
        trimap_kernel: inclusive range of the elliptical kernel side (pixels at S resolution)
            for the random erosion of the known foreground and dilation of the unknown band.
        flip: random horizontal flip of foreground and alpha.
        length: samples per epoch; ``None`` means ``len(items)`` (one composite per
            foreground). DIM's epoch of 431 foregrounds x 100 backgrounds is
            ``length=100 * len(items)``. Index ``i`` uses foreground ``i % len(items)``.
        seed: base seed; sample ``i`` of epoch ``e`` depends only on ``(seed, e, i)``.
        cache_dir: foreground cache folder for items without ``fg`` (default
            ``~/.cache/alphagan/foregrounds``).
        decode_cache_bytes: per-process budget for decoded foregrounds and backgrounds.
        augment: ``"dim"`` (the recipe above, the default) or ``"strong"`` (the recipe of
            :mod:`alphagan.data.augment`; ``trimap_kernel`` is then unused).
        augmentation: the strong recipe's ranges (default ``AugmentConfig()``).
        partners: item indices the second foreground of a strong sample is drawn from,
            uniformly (list an item several times to weigh it); default every item once.

    Each sample is a dict of float32 tensors in [0, 1]: ``image``, ``fg``, ``bg`` (3, S, S),
    ``alpha`` (1, S, S) and ``trimap`` (1, S, S) with values {0, 0.5, 1}.

    Call :meth:`set_epoch` before each epoch. The epoch lives in shared memory, so the call
    reaches DataLoader workers that already exist (``persistent_workers=True``).
    """

    def __init__(
        self,
        items: Sequence[ForegroundItem],
        backgrounds: Sequence[Path],
        *,
        crop_size: int = 320,
        crop_choices: Sequence[int] = (320, 480, 640),
        trimap_kernel: tuple[int, int] = (1, 30),
        flip: bool = True,
        length: int | None = None,
        seed: int = 0,
        cache_dir: Path | None = None,
        decode_cache_bytes: int = DEFAULT_DECODE_CACHE_BYTES,
        augment: str = "dim",
        augmentation: AugmentConfig | None = None,
        partners: Sequence[int] | None = None,
    ) -> None:
        if not items:
            raise ValueError("CompositionDataset needs at least one foreground item")
        if not backgrounds:
            raise ValueError("CompositionDataset needs at least one background")
        if int(crop_size) < 1:
            raise ValueError(f"crop_size must be >= 1, got {crop_size}")
        if not crop_choices or any(int(c) < 1 for c in crop_choices):
            raise ValueError(f"crop_choices must be positive sides, got {tuple(crop_choices)}")
        low, high = (int(k) for k in trimap_kernel)
        if not 1 <= low <= high:
            raise ValueError(f"trimap_kernel must be (low, high) with 1 <= low <= high, "
                             f"got {tuple(trimap_kernel)}")
        if length is not None and int(length) < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        if int(seed) < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        if augment not in ("dim", "strong"):
            raise ValueError(f"augment must be 'dim' or 'strong', got {augment!r}")
        partners = tuple(range(len(items))) if partners is None else tuple(map(int, partners))
        if not partners or not all(0 <= p < len(items) for p in partners):
            raise ValueError(f"partners must be indices into the {len(items)} items, "
                             f"got {partners[:8]}")

        if any(item.fg is None for item in items):
            # Import here: foreground_cache imports this module (for ForegroundItem).
            from alphagan.data.foreground_cache import prepare_foregrounds

            items = prepare_foregrounds(items, cache_dir)
        self.items: tuple[ForegroundItem, ...] = tuple(items)
        self.backgrounds: tuple[Path, ...] = tuple(Path(b) for b in backgrounds)
        self.crop_size = int(crop_size)
        self.crop_choices: tuple[int, ...] = tuple(int(c) for c in crop_choices)
        self.trimap_kernel = (low, high)
        self.flip = bool(flip)
        self.length = len(self.items) if length is None else int(length)
        self.seed = int(seed)
        # A shared-memory scalar: set_epoch in the main process is seen by every worker.
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()
        self._cache = _LRUCache(int(decode_cache_bytes))
        self._kernels: dict[int, np.ndarray] = {}
        self.augment = augment
        self.augmentation = augmentation if augmentation is not None else AugmentConfig()
        self.partners: tuple[int, ...] = partners

    # ----------------------------------------------------------------------------------------
    # Epochs and indexing

    def set_epoch(self, epoch: int) -> None:
        """Select the random stream of ``epoch`` (>= 0; call before iterating a DataLoader)."""
        if int(epoch) < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self._epoch.fill_(int(epoch))

    @property
    def epoch(self) -> int:
        return int(self._epoch.item())

    def __len__(self) -> int:
        return self.length

    def __getstate__(self) -> dict[str, Any]:
        # Spawned workers (macOS, Windows) receive a pickled copy: send an empty decode cache
        # rather than every array this process has decoded. Forked workers share it for free.
        state = self.__dict__.copy()
        state["_cache"] = _LRUCache(self._cache.max_bytes)
        return state

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        index = int(index)
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} samples")
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, index]))
        return self.sample(index, rng)

    def sample(self, index: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """The composite for foreground ``index % len(items)`` drawn with ``rng``.

        ``dataset[i]`` is ``sample(i, Generator(SeedSequence([seed, epoch, i])))``; call this
        directly to index samples another way (``alphagan.training.data`` seeds by step).
        """
        if self.augment == "strong":
            return self._sample_strong(index, rng)
        size = self.crop_size
        fg, alpha = self._crop_foreground(self._foreground(index % len(self.items)), rng)
        # Drawn even when flipping is off, so flip=True/False share the rest of the stream.
        if rng.random() < 0.5 and self.flip:
            fg, alpha = fg[:, ::-1], alpha[:, ::-1]
        bg = self._crop_background(int(rng.integers(len(self.backgrounds))), rng)

        alpha_is_8bit = alpha.dtype == np.uint8  # then its values are exactly k/255
        # Channels-first from here on: the tensors are returned without another copy.
        fg = _to_float_chw(fg)  # (3, S, S)
        bg = _to_float_chw(bg)  # (3, S, S)
        alpha = _to_float(alpha)  # (S, S)
        if not alpha_is_8bit:
            np.clip(alpha, 0.0, 1.0, out=alpha)
            alpha[alpha < _SNAP] = 0.0
            alpha[alpha > 1.0 - _SNAP] = 1.0
        trimap = self._random_trimap(alpha, rng, self.trimap_kernel, self.trimap_kernel)
        alpha = alpha[None]  # (1, S, S)

        image = alpha * fg  # float32 throughout: alpha * fg + (1 - alpha) * bg
        image += (1.0 - alpha) * bg
        np.clip(image, 0.0, 1.0, out=image)  # only rounding (1 + 1 ulp) is ever clipped
        assert image.shape == (3, size, size)
        return {
            "image": torch.from_numpy(image),
            "fg": torch.from_numpy(fg),
            "bg": torch.from_numpy(bg),
            "alpha": torch.from_numpy(alpha),
            "trimap": torch.from_numpy(trimap[None]),
        }

    def _sample_strong(self, index: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """The strong recipe (module docstring); float32 (H, W, C) until the final transpose."""
        config = self.augmentation
        fg, alpha = self._strong_foreground(index % len(self.items), rng)
        merge = rng.random() < config.merge_prob
        partner = self.partners[int(rng.integers(len(self.partners)))]
        if merge:
            fg2, alpha2 = self._strong_foreground(partner, rng)
            fg, alpha = merge_foregrounds(fg, alpha, fg2, alpha2)
        np.clip(alpha, 0.0, 1.0, out=alpha)
        alpha[alpha < _SNAP] = 0.0
        alpha[alpha > 1.0 - _SNAP] = 1.0
        bg = self._strong_background(rng)
        trimap = self._random_trimap(alpha, rng, config.trimap_erode, config.trimap_dilate)

        noisy = rng.random() < config.noise_prob
        sigma = rng.uniform(*config.noise_sigma)
        if noisy and sigma > 0:
            add_noise(fg, bg, sigma, rng)
        a = alpha[..., None]
        image = a * fg  # float32 throughout: alpha * fg + (1 - alpha) * bg
        image += (1.0 - a) * bg
        np.clip(image, 0.0, 1.0, out=image)  # only rounding (1 + 1 ulp) is ever clipped
        image = degrade_input(image, rng, config)
        return {
            "image": torch.from_numpy(_chw(image)),
            "fg": torch.from_numpy(_chw(fg)),
            "bg": torch.from_numpy(_chw(bg)),
            "alpha": torch.from_numpy(np.ascontiguousarray(alpha[None])),
            "trimap": torch.from_numpy(trimap[None]),
        }

    def _strong_foreground(self, i: int, rng: np.random.Generator
                           ) -> tuple[np.ndarray, np.ndarray]:
        """Foreground ``i`` warped to (S, S, 3) / (S, S) float32, colours jittered."""
        config = self.augmentation
        decoded = self._foreground(i)
        top, left, side = self._crop_window(decoded, rng)
        centre = (top + (side - 1) / 2.0, left + (side - 1) / 2.0)
        linear = affine_matrix(rng, config, flip=self.flip)
        fg, alpha = warp_foreground(decoded.fg, decoded.alpha, centre, side, linear,
                                    self.crop_size)
        fg, alpha = _to_float(fg), _to_float(alpha)
        if rng.random() < config.jitter_prob:
            fg = jitter_colour(fg, rng, config)
        return fg, alpha

    def _strong_background(self, rng: np.random.Generator) -> np.ndarray:
        """A random square of a random fraction of a random picture, (S, S, 3) float32."""
        bg = self._background(int(rng.integers(len(self.backgrounds))))
        height, width = bg.shape[:2]
        side = max(1, round(min(height, width) * rng.uniform(*self.augmentation.bg_scale)))
        top = int(rng.integers(height - side + 1))
        left = int(rng.integers(width - side + 1))
        crop = _shrink_square(bg[top : top + side, left : left + side], self.crop_size)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        return _to_float(crop)

    # ----------------------------------------------------------------------------------------
    # Foregrounds

    def _foreground(self, i: int) -> _Decoded:
        return self._cache.get(("fg", i), lambda: self._decode_foreground(i), _decoded_nbytes)

    def _decode_foreground(self, i: int) -> _Decoded:
        item = self.items[i]
        assert item.fg is not None  # resolved in __init__
        fg = _compact(read_image(item.fg))
        alpha = _compact(read_alpha(item.alpha))
        if fg.shape[:2] != alpha.shape:
            raise InputError(
                f"{item.fg}: foreground is {fg.shape[1]}x{fg.shape[0]} but its alpha "
                f"{item.alpha} is {alpha.shape[1]}x{alpha.shape[0]}"
            )
        height, width = alpha.shape
        if min(height, width) < self.crop_size:
            # Upscale once (and cache the result): short side becomes exactly crop_size.
            scale = self.crop_size / min(height, width)
            new_w = max(self.crop_size, round(width * scale))
            new_h = max(self.crop_size, round(height * scale))
            fg = cv2.resize(fg, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
            alpha = cv2.resize(alpha, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        if alpha.dtype == np.uint8:
            soft = (alpha > 0) & (alpha < 255)
        else:
            soft = (alpha >= _SNAP) & (alpha <= 1.0 - _SNAP)
        unknown = np.flatnonzero(soft)
        if alpha.size < 2**31:
            unknown = unknown.astype(np.int32)  # halves the cache footprint of hairy mattes
        return _Decoded(fg, alpha, unknown)

    def _crop_foreground(
        self, decoded: _Decoded, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """A square around a random unknown pixel, resized to (S, S); arrays keep their dtype."""
        top, left, side = self._crop_window(decoded, rng)
        fg = decoded.fg[top : top + side, left : left + side]
        alpha = decoded.alpha[top : top + side, left : left + side]
        return _resize_square(fg, self.crop_size), _resize_square(alpha, self.crop_size)

    def _crop_window(self, decoded: _Decoded, rng: np.random.Generator) -> tuple[int, int, int]:
        """(top, left, side) of a square inside the image around a random unknown pixel."""
        height, width = decoded.alpha.shape
        side = min(int(rng.choice(self.crop_choices)), height, width)
        if decoded.unknown.size:
            y, x = divmod(int(decoded.unknown[rng.integers(decoded.unknown.size)]), width)
            top = min(max(y - side // 2, 0), height - side)
            left = min(max(x - side // 2, 0), width - side)
        else:  # a fully opaque / binary matte: nothing to centre on
            top = int(rng.integers(height - side + 1))
            left = int(rng.integers(width - side + 1))
        return top, left, side

    # ----------------------------------------------------------------------------------------
    # Backgrounds and trimaps

    def _background(self, j: int) -> np.ndarray:
        return self._cache.get(
            ("bg", j), lambda: _compact(read_image(self.backgrounds[j])), lambda a: a.nbytes
        )

    def _crop_background(self, j: int, rng: np.random.Generator) -> np.ndarray:
        """Random (S, S) view of background ``j`` resized to cover it, aspect kept."""
        bg = self._background(j)
        height, width = bg.shape[:2]
        # Scaling the photo so its short side is S and cutting an S x S square equals cutting
        # a short-side square from the original and resizing it: cheaper for big photos.
        side = min(height, width)
        top = int(rng.integers(height - side + 1))
        left = int(rng.integers(width - side + 1))
        return _resize_square(bg[top : top + side, left : left + side], self.crop_size)

    def _random_trimap(self, alpha: np.ndarray, rng: np.random.Generator,
                       erode: tuple[int, int], dilate: tuple[int, int]) -> np.ndarray:
        """float32 (S, S) {0, 0.5, 1}: eroded ``alpha >= 1``, outside dilated ``alpha > 0``.

        ``erode`` / ``dilate``: inclusive ranges of the elliptical kernels' sides (pixels).
        """
        erode_side = int(rng.integers(erode[0], erode[1], endpoint=True))
        dilate_side = int(rng.integers(dilate[0], dilate[1], endpoint=True))
        fg = (alpha >= 1.0).view(np.uint8)
        maybe_fg = (alpha > 0.0).view(np.uint8)
        if erode_side > 1:
            # OpenCV's default border leaves the outside neutral: the crop edge does not erode.
            fg = cv2.erode(fg, self._kernel(erode_side))
        if dilate_side > 1:
            maybe_fg = cv2.dilate(maybe_fg, self._kernel(dilate_side))
        # fg lies inside maybe_fg, so (maybe_fg + fg) / 2 is 0 (bg), 0.5 (unknown) or 1 (fg).
        trimap = maybe_fg.astype(np.float32)
        trimap += fg
        trimap *= np.float32(0.5)
        return trimap

    def _kernel(self, side: int) -> np.ndarray:
        kernel = self._kernels.get(side)
        if kernel is None:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
            self._kernels[side] = kernel
        return kernel


# --------------------------------------------------------------------------------------------
# Array helpers


def _compact(array: np.ndarray) -> np.ndarray:
    """float32 [0, 1] -> uint8 when it holds exactly k/255 values (8-bit files), else as is.

    uint8 takes a quarter of the memory in the decode cache and resizes several times faster.
    """
    scaled = array * np.float32(255.0)
    levels = np.rint(scaled)
    if float(np.max(np.abs(scaled - levels), initial=0.0)) < 1e-3:
        return levels.astype(np.uint8)
    return array


def _to_float(array: np.ndarray) -> np.ndarray:
    """uint8 -> float32 k/255 (exactly as ``read_image`` gives it); float32 -> a C copy."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255.0)
    return np.array(array, dtype=np.float32, order="C")


def _to_float_chw(array: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 or float32 -> contiguous float32 (3, H, W) in [0, 1], one pass."""
    out = np.empty((array.shape[2], *array.shape[:2]), dtype=np.float32)
    if array.dtype == np.uint8:
        np.divide(array.transpose(2, 0, 1), np.float32(255.0), out=out)
    else:
        np.copyto(out, array.transpose(2, 0, 1))
    return out


def _chw(array: np.ndarray) -> np.ndarray:
    """(H, W, C) -> contiguous (C, H, W) float32."""
    return np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32)


def _resize_square(array: np.ndarray, size: int) -> np.ndarray:
    side = array.shape[0]
    if side == size:
        return array
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(array, (size, size), interpolation=interpolation)


def _shrink_square(array: np.ndarray, size: int) -> np.ndarray:
    """Like :func:`_resize_square`, faster for big squares: an integer-factor area shrink
    (OpenCV's fast path), then bilinear for the remaining factor (below 2)."""
    step = array.shape[0] // size
    if step >= 2:
        side = array.shape[0] // step
        array = cv2.resize(array[: side * step, : side * step], (side, side),
                           interpolation=cv2.INTER_AREA)
    if array.shape[0] == size:
        return array
    return cv2.resize(array, (size, size), interpolation=cv2.INTER_LINEAR)


def _decoded_nbytes(decoded: _Decoded) -> int:
    return decoded.fg.nbytes + decoded.alpha.nbytes + decoded.unknown.nbytes
