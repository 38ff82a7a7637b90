"""Training and evaluation data: DIM-style on-the-fly composites and dataset layouts.

- :class:`CompositionDataset`: random crops of foregrounds pasted on backgrounds, with
  trimaps, as (C, S, S) float32 tensors; ``set_epoch`` per epoch. ``augment="strong"`` adds
  the augmentations of :mod:`alphagan.data.augment` (ranges in :class:`AugmentConfig`).
- :func:`prepare_foregrounds`: foreground colours for photo + alpha datasets, cached on disk.
- :class:`EvalDataset`: full-resolution NumPy samples with fixed trimaps.
- ``*_items`` readers: the public datasets' folder layouts; :func:`list_backgrounds`.

Importing this package imports torch and OpenCV, but not pymatting.
"""

from __future__ import annotations

from alphagan.data.augment import AugmentConfig
from alphagan.data.composition import (
    DEFAULT_DECODE_CACHE_BYTES,
    CompositionDataset,
    ForegroundItem,
)
from alphagan.data.foreground_cache import (
    cached_foreground,
    default_cache_dir,
    foreground_cache_key,
    prepare_foregrounds,
)
from alphagan.data.layouts import (
    BenchmarkComposite,
    alphamatting_eval_items,
    alphamatting_train_items,
    am2k_eval_items,
    am2k_train_items,
    comp1k_composite,
    comp1k_test_composites,
    comp1k_test_items,
    comp1k_train_items,
    d646_items,
    folder_eval_items,
    folder_items,
    list_backgrounds,
    p3m_eval_items,
    p3m_train_items,
    ppm100_eval_items,
    ppm100_train_items,
    write_composite_test_set,
)
from alphagan.data.validation import EvalDataset, EvalItem

__all__ = [
    "ForegroundItem",
    "CompositionDataset",
    "AugmentConfig",
    "DEFAULT_DECODE_CACHE_BYTES",
    "EvalItem",
    "EvalDataset",
    "default_cache_dir",
    "foreground_cache_key",
    "cached_foreground",
    "prepare_foregrounds",
    "list_backgrounds",
    "folder_items",
    "folder_eval_items",
    "comp1k_train_items",
    "comp1k_test_items",
    "comp1k_composite",
    "comp1k_test_composites",
    "write_composite_test_set",
    "BenchmarkComposite",
    "d646_items",
    "am2k_train_items",
    "am2k_eval_items",
    "p3m_train_items",
    "p3m_eval_items",
    "ppm100_train_items",
    "ppm100_eval_items",
    "alphamatting_train_items",
    "alphamatting_eval_items",
]
