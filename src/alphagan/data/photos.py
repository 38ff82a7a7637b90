"""Training samples cut from real photos with their user trimaps and full-photo priors.

A composite made on the fly (:mod:`alphagan.data.composition`) has a pasted background and a
random trimap, and a prior model's classical alphas are solved on the training crop. At
inference the photo is real, the trimap a user's, and the priors are solved on the whole photo
(:func:`alphagan.prior.compute_prior`), so near a crop's edge they see context a crop's solve
never has. A :class:`PhotoSet` gives training crops of the inference kind: from photos with a
ground-truth alpha and user trimaps (e.g. the alphamatting.com training scenes), with the
priors solved once on the whole photo and cropped with it. The composition loss and the
discriminator need the photo's foreground and background colours: they are estimated once
(pymatting's multi-level estimator, Germer et al. 2020, ``return_background=True``), so
``alpha * fg + (1 - alpha) * bg`` is the estimators' reconstruction of the photo.

What is solved once is cached on disk (``cache_dir``; keyed by the files' bytes and the prior
name): a second run over the same photos starts in a second.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from alphagan.atomic import atomic_path
from alphagan.data.validation import EvalDataset, EvalItem
from alphagan.errors import InputError

__all__ = ["Photo", "PhotoSet", "load_photo", "photo_cache_key"]

# bump when what is cached changes meaning
_CACHE_VERSION = "1"


@dataclass(frozen=True)
class Photo:
    """One photo with everything a training crop needs, all (H, W[, C]) float32 in [0, 1]:
    ``image`` RGB, ``alpha``, ``trimap`` {0, 0.5, 1}, estimated ``fg`` / ``bg`` RGB, ``prior``
    (H, W, K) and the flat indices of the trimap's unknown pixels (``unknown``)."""

    name: str
    image: np.ndarray
    alpha: np.ndarray
    trimap: np.ndarray
    fg: np.ndarray
    bg: np.ndarray
    prior: np.ndarray
    unknown: np.ndarray


def photo_cache_key(item: EvalItem, prior: str) -> str:
    """sha256 over the image, alpha and trimap files' bytes, the prior name and the cache
    version: the name of a photo's cached solve."""
    digest = hashlib.sha256(f"{_CACHE_VERSION}\0{prior}\0".encode())
    for path in (item.image, item.alpha, item.trimap):
        digest.update(Path(path).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _solve(image: np.ndarray, alpha: np.ndarray, trimap: np.ndarray, prior: str
           ) -> dict[str, np.ndarray]:
    from pymatting import estimate_foreground_ml

    from alphagan.prior import compute_prior

    fg, bg = estimate_foreground_ml(image.astype(np.float64), alpha.astype(np.float64),
                                    return_background=True)
    priors = compute_prior(image, trimap, prior)  # (K, H, W), as predict solves it
    return {"fg": np.clip(fg, 0, 1).astype(np.float32), "bg": np.clip(bg, 0, 1).astype(
        np.float32), "prior": np.ascontiguousarray(priors.transpose(1, 2, 0))}


def load_photo(item: EvalItem, prior: str, cache_dir: Path) -> Photo:
    """One photo with its priors and colours, solved or read from ``cache_dir``; raises
    ``InputError`` for a trimap without unknown, foreground or background pixels."""
    sample = EvalDataset([item])[0]
    image, alpha, trimap = sample["image"], sample["alpha"], sample["trimap"]
    unknown = np.flatnonzero((trimap > 0) & (trimap < 1))
    if not unknown.size or not (trimap == 1).any() or not (trimap == 0).any():
        raise InputError(f"{item.trimap}: a training photo's trimap needs unknown, "
                         f"foreground and background pixels")
    target = cache_dir / f"{photo_cache_key(item, prior)}.npz"
    solved: dict[str, np.ndarray] | None = None
    if target.is_file():
        with np.load(target) as cached:
            solved = {key: cached[key] for key in ("fg", "bg", "prior")}
    if solved is None:
        solved = _solve(image, alpha, trimap, prior)
        # the package's atomic write: concurrent writers are safe, a failed one leaves nothing
        with atomic_path(target) as temporary, open(temporary, "wb") as file:
            np.savez(file, **solved)
    return Photo(item.name, image, alpha, trimap, solved["fg"], solved["bg"], solved["prior"],
                 unknown)


class PhotoSet:
    """Square training crops of real photos (module docstring).

    Args:
        items: photo + ground-truth alpha + user trimap triples (several trimaps of one
            photo are several items).
        prior: the generator's prior (``"cf"`` or ``"cf+knn"``; :mod:`alphagan.prior`).
        crop_size: side S of the returned samples.
        crop_choices: sides of the square cut around a random unknown pixel before it is
            resized to S; clamped to the photo's short side.
        flip: random horizontal flip.
        cache_dir: where the solved priors and colours are kept.
        progress: a tqdm bar on stderr while solving.

    Raises ``InputError`` for an empty item list, a photo whose trimap has no unknown pixel or
    lacks a foreground or background label (its priors would be constants), and what
    :class:`~alphagan.data.validation.EvalDataset` raises for unreadable or mismatched files.
    """

    def __init__(self, items: Sequence[EvalItem], prior: str, *, crop_size: int,
                 crop_choices: Sequence[int], flip: bool, cache_dir: Path,
                 progress: bool = True) -> None:
        if not items:
            raise InputError("config: data.photos selects no photo")
        if prior == "none":
            raise InputError("config: data.photos needs a generator with a prior "
                             "(model.generator.prior: cf or cf+knn)")
        from tqdm import tqdm  # only here: importing the package stays light

        photos = []
        for item in tqdm(items, desc="photo priors", unit="photo", disable=not progress,
                         file=sys.stderr):
            photos.append(load_photo(item, prior, Path(cache_dir)))
        self.photos: tuple[Photo, ...] = tuple(photos)
        self.crop_size = int(crop_size)
        self.crop_choices = tuple(int(c) for c in crop_choices)
        self.flip = bool(flip)

    def __len__(self) -> int:
        return len(self.photos)

    def sample(self, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """A crop of a uniformly drawn photo: the keys and (C, S, S) float32 tensors of a
        composition sample (``image``, ``fg``, ``bg``, ``alpha``, ``trimap``) and ``prior``
        (K, S, S), all cut from the same window and flipped together."""
        photo = self.photos[int(rng.integers(len(self.photos)))]
        height, width = photo.alpha.shape
        side = min(int(rng.choice(self.crop_choices)), height, width)
        y, x = divmod(int(photo.unknown[rng.integers(photo.unknown.size)]), width)
        top = min(max(y - side // 2, 0), height - side)
        left = min(max(x - side // 2, 0), width - side)
        flip = self.flip and rng.random() < 0.5
        window = (slice(top, top + side), slice(left, left + side))

        def cut(array: np.ndarray, interpolation: int | None = None) -> np.ndarray:
            out = array[window]
            if flip:
                out = out[:, ::-1]
            if side != self.crop_size:
                if interpolation is None:
                    interpolation = cv2.INTER_AREA if side > self.crop_size else \
                        cv2.INTER_LINEAR
                out = cv2.resize(np.ascontiguousarray(out), (self.crop_size, self.crop_size),
                                 interpolation=interpolation)
            out = np.asarray(out, np.float32)
            chw = out[None] if out.ndim == 2 else out.transpose(2, 0, 1)
            return np.ascontiguousarray(chw)

        prior = cut(photo.prior)
        trimap = cut(photo.trimap, cv2.INTER_NEAREST)  # stays {0, 0.5, 1}
        # the priors are exactly 0/1 on known pixels at full size; keep that after resizing
        prior[:, trimap[0] == 0] = 0.0
        prior[:, trimap[0] == 1] = 1.0
        return {
            "image": torch.from_numpy(cut(photo.image)),
            "fg": torch.from_numpy(cut(photo.fg)),
            "bg": torch.from_numpy(cut(photo.bg)),
            "alpha": torch.from_numpy(np.clip(cut(photo.alpha), 0.0, 1.0)),
            "trimap": torch.from_numpy(trimap),
            "prior": torch.from_numpy(prior),
        }
