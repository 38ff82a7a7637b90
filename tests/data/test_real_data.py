"""The alphamatting.com layout on the real files in ../shared/data (skipped where absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alphagan.data import (
    CompositionDataset,
    EvalDataset,
    alphamatting_eval_items,
    alphamatting_train_items,
    list_backgrounds,
)

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ALPHAMATTING = SHARED_DATA / "alphamatting"
BACKGROUNDS = SHARED_DATA / "backgrounds"

pytestmark = pytest.mark.skipif(
    not ALPHAMATTING.is_dir(),
    reason=f"real data not found at {ALPHAMATTING} (the ../shared folder beside the checkout)",
)


def test_alphamatting_training_layout() -> None:
    items = alphamatting_train_items(ALPHAMATTING)
    assert len(items) == 18
    assert items[0].name == "GT01" and items[0].fg is None
    assert all(i.image is not None and i.image.is_file() and i.alpha.is_file() for i in items)


@pytest.mark.parametrize("trimap_set", ["Trimap1", "Trimap2"])
def test_alphamatting_eval_items(trimap_set: str) -> None:
    items = alphamatting_eval_items(ALPHAMATTING, trimap_set)
    assert len(items) == 18
    assert all(i.trimap.parent.name == trimap_set for i in items)
    sample = EvalDataset(alphamatting_eval_items(ALPHAMATTING, trimap_set, names=["GT04"]))[0]
    assert sample["name"] == "GT04"
    height, width = sample["alpha"].shape
    assert sample["image"].shape == (height, width, 3) and sample["trimap"].shape == (height, width)
    assert set(np.unique(sample["trimap"])) == {0.0, 0.5, 1.0}
    soft = (sample["alpha"] > 0) & (sample["alpha"] < 1)
    assert soft.any() and np.mean(sample["trimap"][soft] == 0.5) > 0.9


@pytest.mark.skipif(not BACKGROUNDS.is_dir(), reason=f"no backgrounds at {BACKGROUNDS}")
def test_real_composites(tmp_path: Path) -> None:
    # The foreground cache is exercised on two scenes only (pymatting takes ~0.1 s per scene).
    items = alphamatting_train_items(ALPHAMATTING)[:2]
    dataset = CompositionDataset(items, list_backgrounds(BACKGROUNDS), length=4,
                                 cache_dir=tmp_path)
    for index in range(len(dataset)):
        s = dataset[index]
        assert s["image"].shape == (3, 320, 320)
        assert bool((s["trimap"] == 0.5).any())
