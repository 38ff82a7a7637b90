"""Wire the dataset layouts and the composition recipe to the training loop."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from alphagan.data import layouts
from alphagan.data.composition import CompositionDataset, ForegroundItem
from alphagan.data.foreground_cache import default_cache_dir, prepare_foregrounds
from alphagan.data.photos import PhotoSet
from alphagan.data.validation import EvalDataset, EvalItem
from alphagan.errors import InputError
from alphagan.prior import compute_prior
from alphagan.training.config import DataConfig, SourceConfig
from alphagan.training.sampler import sample_source

# DataLoader workers are forked from a process that already runs GNU OpenMP (torch); numba's
# default "omp" layer then refuses to start (the classical priors are numba code). Its
# "workqueue" layer is fork-safe; set before numba is first imported.
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

_PHOTO_STREAM = 1  # third word of a sample's photo-or-composite seed

__all__ = ["StepIndexedDataset", "train_items", "build_train_set", "build_val_items",
           "load_val_sample"]


def _select(items: list, src: SourceConfig) -> list:
    """Apply the source's ``names`` / ``exclude`` filters (by item name)."""
    known = {item.name for item in items}
    unknown = sorted(set(src.names) - known) + sorted(set(src.exclude) - known)
    if unknown:
        raise InputError(f"{src.root or src.alpha_dir}: no item named {', '.join(unknown)}")
    if src.names:
        items = [item for item in items if item.name in src.names]
    return [item for item in items if item.name not in src.exclude]


def train_items(src: SourceConfig) -> list[ForegroundItem]:
    """The foregrounds (fg or photo, + alpha) of one configured dataset."""
    readers = {
        "comp1k": lambda: layouts.comp1k_train_items(src.root),
        "distinctions646": lambda: layouts.d646_items(src.root),
        "am2k": lambda: layouts.am2k_train_items(src.root),
        "p3m10k": lambda: layouts.p3m_train_items(src.root),
        "ppm100": lambda: layouts.ppm100_train_items(src.root),
        "alphamatting": lambda: layouts.alphamatting_train_items(src.root),
        "folder": lambda: layouts.folder_items(
            src.alpha_dir, fg_dir=src.fg_dir or None, image_dir=src.image_dir or None),
    }
    if src.layout == "folder":
        _check_synth_folders(src)
    return _select(readers[src.layout](), src)


def _check_synth_folders(src: SourceConfig) -> None:
    """A missing ``.../synth/fg`` or ``.../synth/alpha`` is the output of ``alphagan synth``
    that was never run (configs/alphagan_prior.yaml trains on one): say so, not just
    "no such folder"."""
    for folder, what in ((src.alpha_dir, "alpha mattes"), (src.fg_dir, "foreground colours")):
        path = Path(folder) if folder else None
        if path is None or path.is_dir() or path.parent.name != "synth" \
                or path.name not in ("fg", "alpha"):
            continue
        with contextlib.suppress(ValueError):  # paths are absolute; show them as configured
            path = path.relative_to(Path.cwd())
        raise InputError(f"{path}: no such folder ({what}); these procedural foregrounds are "
                         f"made by `alphagan synth --out {path.parent} --count N`: run it "
                         f"first (the config's comments give the recipe's full command)")


def val_items(src: SourceConfig) -> list[EvalItem]:
    """Full images + alphas + fixed trimaps of one configured validation set."""
    readers = {
        "comp1k": lambda: layouts.comp1k_test_items(src.root),
        "am2k": lambda: layouts.am2k_eval_items(src.root),
        "p3m10k": lambda: layouts.p3m_eval_items(src.root),
        "ppm100": lambda: layouts.ppm100_eval_items(src.root),
        "alphamatting": lambda: layouts.alphamatting_eval_items(src.root, src.trimap_set),
        "folder": lambda: layouts.folder_eval_items(src.image_dir, src.alpha_dir,
                                                    src.trimap_dir),
    }
    if src.layout not in readers:
        raise InputError(f"validation on layout {src.layout!r} is not supported; composite "
                         f"its test set to a folder (see alphagan.data.layouts) and use "
                         f"layout: folder")
    return _select(readers[src.layout](), src)


class StepIndexedDataset(Dataset):
    """Composites addressed by global sample id (see :class:`StepSampler`).

    Id ``v`` uses foreground ``table[sample_source(v, len(table), seed)]`` and augmentation
    seeded by ``(seed, v)``: a sample depends on nothing but its id, whatever the worker or
    restart. ``table`` lists item indices, an item appearing ``repeat`` times (its weight).
    """

    def __init__(self, base: CompositionDataset, seed: int,
                 table: list[int] | None = None, *, prior: str = "none",
                 prior_scale: float = 1.0,
                 prior_knn_span: tuple[float, float] | None = None,
                 photos: PhotoSet | None = None, photo_fraction: float = 0.0) -> None:
        self.base, self.seed = base, seed
        self.table = table if table is not None else list(range(len(base.items)))
        self.prior, self.prior_scale = prior, prior_scale
        if prior_knn_span is not None:
            low, high = prior_knn_span
            if not 0 < low <= high:
                raise InputError(f"config: data.prior_knn_span must be [low, high] with "
                                 f"0 < low <= high (crop pixels), got {list(prior_knn_span)}")
        self.prior_knn_span = prior_knn_span
        if not 0 <= photo_fraction <= 1 or (photo_fraction > 0 and photos is None):
            raise InputError(f"config: data.photo_fraction must be in [0, 1] and needs "
                             f"data.photos; got {photo_fraction}")
        self.photos, self.photo_fraction = photos, photo_fraction

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, virtual_id: int) -> dict[str, torch.Tensor]:
        if self.photos is not None and self.photo_fraction > 0:
            # Its own stream: with photo_fraction 0 the composites are those of a run
            # without photos, sample for sample.
            photo_rng = np.random.default_rng(
                np.random.SeedSequence([self.seed, int(virtual_id), _PHOTO_STREAM]))
            if photo_rng.random() < self.photo_fraction:
                return self.photos.sample(photo_rng)
        index = self.table[sample_source(int(virtual_id), len(self.table), self.seed)]
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, int(virtual_id)]))
        sample = self.base.sample(index, rng)
        if self.prior != "none":
            # Solved on the network's own input (after blur/JPEG), as at inference.
            image = sample["image"].numpy().transpose(1, 2, 0)
            trimap = sample["trimap"][0].numpy()
            sample["prior"] = torch.from_numpy(compute_prior(
                image, trimap, self.prior, self.prior_scale,
                knn_pixel_pitch=self._knn_pitch(rng)))  # (K,S,S)
        return sample

    def _knn_pitch(self, rng: np.random.Generator) -> float | None:
        """1 / a log-uniform photo span (``DataConfig.prior_knn_span``), or None (pymatting's
        normalisation over the crop). Drawn after the sample, so samples are unchanged."""
        if self.prior_knn_span is None:
            return None
        low, high = np.log(self.prior_knn_span[0]), np.log(self.prior_knn_span[1])
        return float(np.exp(-rng.uniform(low, high)))


def build_train_set(data: DataConfig, *, seed: int, verbose: bool = True,
                    prior: str = "none", prior_scale: float = 1.0) -> StepIndexedDataset:
    """The composition dataset over every configured source and background folder.

    ``prior`` (:mod:`alphagan.prior`): each sample also carries ``"prior"`` (K,S,S), the
    classical alphas of its composite, for a generator built with that prior.

    Under ``augment: strong`` the second foreground of a sample is drawn with the same
    ``repeat`` weights as the first.
    """
    if not data.train:
        raise InputError("config: data.train lists no dataset")
    if not data.backgrounds:
        raise InputError("config: data.backgrounds lists no background folder or file")
    items: list[ForegroundItem] = []
    table: list[int] = []
    for src in data.train:
        if src.repeat < 1:
            raise InputError(f"config: data.train repeat must be >= 1, got {src.repeat}")
        new = train_items(src)
        table += [len(items) + i for _ in range(src.repeat) for i in range(len(new))]
        items += new
    backgrounds = [p for source in data.backgrounds for p in layouts.list_backgrounds(source)]
    cache = Path(data.fg_cache_dir) if data.fg_cache_dir else None
    items = prepare_foregrounds(items, cache, progress=verbose)
    base = CompositionDataset(items, backgrounds, crop_size=data.crop_size,
                              crop_choices=data.crop_choices, trimap_kernel=data.trimap_kernel,
                              flip=data.flip, seed=seed, cache_dir=cache,
                              augment=data.augment, augmentation=data.augmentation,
                              partners=table)
    photos = None
    if data.photos and data.photo_fraction == 0 and verbose:
        print("note: data.photos is set but data.photo_fraction is 0: no photo crops",
              file=sys.stderr)
    if data.photo_fraction > 0:
        if prior == "none":
            raise InputError("config: data.photo_fraction > 0 needs a generator with a prior "
                             "(model.generator.prior: cf or cf+knn)")
        photo_items = [item for src in data.photos for item in val_items(src)]
        photos = PhotoSet(photo_items, prior, crop_size=data.crop_size,
                          crop_choices=data.crop_choices, flip=data.flip,
                          cache_dir=Path(data.photo_cache_dir) if data.photo_cache_dir
                          else default_cache_dir().parent / "photos", progress=verbose)
    return StepIndexedDataset(base, seed, table, prior=prior, prior_scale=prior_scale,
                              prior_knn_span=data.prior_knn_span, photos=photos,
                              photo_fraction=data.photo_fraction)


def build_val_items(data: DataConfig) -> list[EvalItem]:
    return val_items(data.val) if data.val is not None else []


def load_val_sample(item: EvalItem, max_side: int | None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image HxWx3, alpha HxW, trimap HxW), downscaled so the long side is <= ``max_side``."""
    sample = EvalDataset([item])[0]
    image, alpha, trimap = sample["image"], sample["alpha"], sample["trimap"]
    h, w = alpha.shape
    if max_side is not None and max(h, w) > max_side:
        scale = max_side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
        trimap = cv2.resize(trimap, size, interpolation=cv2.INTER_NEAREST)
    return image, alpha, trimap
