"""Evaluation items: full-resolution image, ground-truth alpha and a fixed trimap.

Evaluation runs on whole images with the dataset's own trimaps (no cropping, no resizing:
SPEC, "What earlier reimplementations got wrong"). The layout readers in
:mod:`alphagan.data.layouts` build :class:`EvalItem` lists for the public test sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from alphagan.errors import InputError
from alphagan.io import read_alpha, read_image
from alphagan.trimap import read_trimap

__all__ = ["EvalItem", "EvalDataset"]


@dataclass(frozen=True)
class EvalItem:
    """One evaluation image: the photo (or composite), its ground-truth alpha and trimap."""

    name: str
    image: Path
    alpha: Path
    trimap: Path


class EvalDataset(Dataset):
    """Full-resolution NumPy samples for evaluation.

    ``dataset[i]`` is a dict: ``image`` float32 HxWx3 in [0, 1], ``alpha`` float32 HxW in
    [0, 1], ``trimap`` float32 HxW in {0, 0.5, 1}, ``name`` str. Sizes differ between images,
    so use it directly or with ``DataLoader(batch_size=None)``. Raises ``InputError`` naming
    the files when a trimap or alpha has another size than its image.
    """

    def __init__(self, items: Sequence[EvalItem]) -> None:
        self.items: tuple[EvalItem, ...] = tuple(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, np.ndarray | str]:
        item = self.items[index]
        image = read_image(item.image)
        alpha = read_alpha(item.alpha)
        trimap = read_trimap(item.trimap)
        for what, path, array in (("alpha", item.alpha, alpha), ("trimap", item.trimap, trimap)):
            if array.shape != image.shape[:2]:
                raise InputError(
                    f"{path}: {what} is {array.shape[1]}x{array.shape[0]} but its image "
                    f"{item.image} is {image.shape[1]}x{image.shape[0]}"
                )
        return {"image": image, "alpha": alpha, "trimap": trimap, "name": item.name}
