"""Tests for alphagan.data.composition: the DIM on-the-fly composites."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from alphagan.data import CompositionDataset, ForegroundItem
from alphagan.errors import InputError
from alphagan.io import write_png

KEYS = ("image", "fg", "bg", "alpha", "trimap")


def _disc_alpha(height: int, width: int, cy: float, cx: float, radius: float,
                soft: float) -> np.ndarray:
    """Opaque disc with a linear soft edge ``soft`` pixels wide; 0 outside."""
    yy, xx = np.mgrid[0:height, 0:width]
    dist = np.hypot(yy - cy, xx - cx)
    return np.clip((radius - dist) / soft + 0.5, 0.0, 1.0).astype(np.float32)


def _write_foreground(root: Path, name: str, alpha: np.ndarray, seed: int = 0,
                      bit_depth: int = 8) -> ForegroundItem:
    rng = np.random.default_rng(seed)
    fg = rng.random((*alpha.shape, 3), dtype=np.float32)
    write_png(root / "fg" / f"{name}.png", fg)
    write_png(root / "alpha" / f"{name}.png", alpha, bit_depth=bit_depth)
    return ForegroundItem(name=name, alpha=root / "alpha" / f"{name}.png",
                          fg=root / "fg" / f"{name}.png")


def _write_backgrounds(root: Path, sizes: list[tuple[int, int]]) -> list[Path]:
    rng = np.random.default_rng(99)
    paths = []
    for i, (h, w) in enumerate(sizes):
        path = root / "bg" / f"bg{i}.png"
        write_png(path, rng.random((h, w, 3), dtype=np.float32))
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[ForegroundItem], list[Path]]:
    root = tmp_path_factory.mktemp("composition")
    items = [
        _write_foreground(root, "disc", _disc_alpha(200, 260, 100, 130, 60, 12), seed=1),
        _write_foreground(root, "corner", _disc_alpha(180, 150, 20, 20, 50, 20), seed=2),
    ]
    backgrounds = _write_backgrounds(root, [(90, 120), (300, 200)])
    return items, backgrounds


def _dataset(data, **kwargs) -> CompositionDataset:
    items, backgrounds = data
    options = dict(crop_size=64, crop_choices=(64, 96, 128), trimap_kernel=(1, 9), length=24)
    options.update(kwargs)
    return CompositionDataset(items, backgrounds, **options)


def test_shapes_dtypes_and_ranges(data) -> None:
    dataset = _dataset(data)
    assert len(dataset) == 24
    for index in range(6):
        sample = dataset[index]
        assert set(sample) == set(KEYS)
        for key in ("image", "fg", "bg"):
            assert sample[key].shape == (3, 64, 64)
        for key in ("alpha", "trimap"):
            assert sample[key].shape == (1, 64, 64)
        for key, value in sample.items():
            assert value.dtype == torch.float32, key
            assert value.is_contiguous(), key
            assert float(value.min()) >= 0.0 and float(value.max()) <= 1.0, key
        assert set(torch.unique(sample["trimap"]).tolist()) <= {0.0, 0.5, 1.0}


def test_default_length_is_one_sample_per_foreground(data) -> None:
    items, backgrounds = data
    assert len(CompositionDataset(items, backgrounds)) == len(items)
    with pytest.raises(IndexError):
        CompositionDataset(items, backgrounds)[len(items)]


def test_image_is_the_composite_of_the_returned_tensors(data) -> None:
    dataset = _dataset(data)
    for index in range(8):
        s = dataset[index]
        expected = s["alpha"] * s["fg"] + (1 - s["alpha"]) * s["bg"]
        torch.testing.assert_close(s["image"], expected, atol=1e-6, rtol=0)


def test_crop_is_centred_on_an_unknown_pixel(tmp_path: Path) -> None:
    # A small soft blob near a corner of a big, otherwise empty matte: a random crop would
    # almost never contain it.
    alpha = _disc_alpha(900, 1000, 820, 90, 6, 6)
    assert ((alpha > 0) & (alpha < 1)).sum() < 300
    item = _write_foreground(tmp_path, "blob", alpha)
    backgrounds = _write_backgrounds(tmp_path, [(64, 64)])
    dataset = CompositionDataset([item], backgrounds, crop_size=64, crop_choices=(64, 128, 256),
                                 length=40)
    for index in range(len(dataset)):
        a = dataset[index]["alpha"]
        assert bool(((a > 0) & (a < 1)).any()), f"sample {index} missed the unknown blob"


def test_opaque_matte_falls_back_to_a_random_crop(tmp_path: Path) -> None:
    item = _write_foreground(tmp_path, "solid", np.ones((80, 90), np.float32))
    dataset = CompositionDataset([item], _write_backgrounds(tmp_path, [(70, 70)]),
                                 crop_size=64, crop_choices=(64,), length=3)
    sample = dataset[0]
    assert torch.all(sample["alpha"] == 1) and torch.all(sample["trimap"] == 1)
    torch.testing.assert_close(sample["image"], sample["fg"], atol=0, rtol=0)


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_trimap_unknown_covers_every_soft_pixel(tmp_path: Path, bit_depth: int) -> None:
    # 16-bit mattes take the float path (resampling noise near 0 and 1 is snapped).
    item = _write_foreground(tmp_path, "disc", _disc_alpha(150, 170, 75, 85, 50, 15),
                             bit_depth=bit_depth)
    dataset = CompositionDataset([item], _write_backgrounds(tmp_path, [(80, 100)]),
                                 crop_size=64, crop_choices=(64, 96, 150), length=16)
    saw_known = saw_unknown = False
    for index in range(len(dataset)):
        s = dataset[index]
        alpha, trimap = s["alpha"], s["trimap"]
        soft = (alpha > 0) & (alpha < 1)
        assert torch.all(trimap[soft] == 0.5)
        assert torch.all(alpha[trimap == 1] == 1)
        assert torch.all(alpha[trimap == 0] == 0)
        saw_known |= bool((trimap == 1).any() or (trimap == 0).any())
        saw_unknown |= bool(soft.any())
    assert saw_known and saw_unknown


def test_trimap_kernel_controls_the_band(data) -> None:
    narrow = _dataset(data, trimap_kernel=(1, 1))
    wide = _dataset(data, trimap_kernel=(15, 15))
    for index in range(4):
        a, t_narrow, t_wide = narrow[index]["alpha"], narrow[index]["trimap"], wide[index]["trimap"]
        # kernel side 1 = no morphology: unknown is exactly 0 < alpha < 1
        assert torch.equal(t_narrow == 0.5, (a > 0) & (a < 1))
        assert int((t_wide == 0.5).sum()) >= int((t_narrow == 0.5).sum())


def test_flip_mirrors_foreground_and_alpha_and_changes_nothing_else(data) -> None:
    flipped = _dataset(data, flip=True)
    plain = _dataset(data, flip=False)
    n_flipped = 0
    for index in range(len(plain)):
        f, p = flipped[index], plain[index]
        torch.testing.assert_close(f["bg"], p["bg"], atol=0, rtol=0)
        mirrored = torch.equal(f["fg"], p["fg"].flip(-1))
        if not mirrored:
            assert torch.equal(f["fg"], p["fg"])
        same = (lambda a, b: torch.equal(a, b.flip(-1))) if mirrored else torch.equal
        assert same(f["alpha"], p["alpha"])
        n_flipped += mirrored and not torch.equal(p["fg"], p["fg"].flip(-1))
    assert 0 < n_flipped < len(plain)


def test_randomness_depends_on_seed_epoch_and_index(data) -> None:
    dataset = _dataset(data)
    first = [dataset[i] for i in range(4)]
    again = _dataset(data)  # a fresh object (a resumed run) gives the same stream
    for i in range(4):
        for key in KEYS:
            assert torch.equal(first[i][key], again[i][key])
    dataset.set_epoch(1)
    assert dataset.epoch == 1
    assert not any(torch.equal(first[i]["image"], dataset[i]["image"]) for i in range(4))
    dataset.set_epoch(0)
    assert torch.equal(first[2]["image"], dataset[2]["image"])
    other_seed = _dataset(data, seed=1)
    assert not torch.equal(first[0]["image"], other_seed[0]["image"])
    # indices i and i + len(items) share a foreground but not the crop
    assert not torch.equal(first[0]["image"], first[2]["image"])


def test_dataloader_workers_follow_set_epoch(data) -> None:
    dataset = _dataset(data, length=8)
    loader = DataLoader(dataset, batch_size=4, num_workers=2, persistent_workers=True)
    for epoch in (0, 1):
        dataset.set_epoch(epoch)
        batches = list(loader)
        expected = [dataset[i] for i in range(8)]
        got = torch.cat([b["image"] for b in batches])
        assert got.shape == (8, 3, 64, 64)
        assert torch.equal(got, torch.stack([e["image"] for e in expected]))
        assert torch.equal(torch.cat([b["trimap"] for b in batches]),
                           torch.stack([e["trimap"] for e in expected]))


def test_spawned_workers_get_an_empty_cache_and_the_shared_epoch(data) -> None:
    # macOS and Windows start workers by spawning: the dataset is pickled to them.
    dataset = _dataset(data, length=4)
    expected = torch.stack([dataset[i]["image"] for i in range(4)])  # fills the decode cache
    assert len(dataset._cache) > 0
    loader = DataLoader(dataset, batch_size=4, num_workers=1, persistent_workers=True,
                        multiprocessing_context="spawn")
    assert torch.equal(next(iter(loader))["image"], expected)
    dataset.set_epoch(3)
    dataset_epoch3 = torch.stack([dataset[i]["image"] for i in range(4)])
    assert torch.equal(next(iter(loader))["image"], dataset_epoch3)
    assert len(pickle.loads(pickle.dumps(dataset))._cache) == 0


def test_small_images_are_upscaled_to_crop_size(tmp_path: Path) -> None:
    # 30x45 foreground, crop 64: upscaled to 64x96 first, so every crop is a real 64 square.
    alpha = np.zeros((30, 45), np.float32)
    alpha[:, 20:] = 1.0
    alpha[:, 20] = 0.5
    item = _write_foreground(tmp_path, "tiny", alpha)
    dataset = CompositionDataset([item], _write_backgrounds(tmp_path, [(20, 30)]),
                                 crop_size=64, crop_choices=(64, 128), trimap_kernel=(1, 3),
                                 length=6)
    for index in range(len(dataset)):
        s = dataset[index]
        assert s["image"].shape == (3, 64, 64)
        a = s["alpha"][0]
        # the soft column is inside the crop, and its sides are 0 and 1 (no padding)
        assert bool(((a > 0) & (a < 1)).any())
        assert float(a.min()) == 0.0 and float(a.max()) == 1.0


def test_decode_cache_is_bounded(data) -> None:
    dataset = _dataset(data, decode_cache_bytes=200_000)
    for index in range(6):
        dataset[index]
    assert dataset._cache.nbytes <= 200_000
    unbounded = _dataset(data)
    for index in range(6):
        unbounded[index]
    assert len(unbounded._cache) == 4  # 2 foregrounds + 2 backgrounds, decoded once each


def test_bad_arguments_and_mismatched_files(tmp_path: Path, data) -> None:
    items, backgrounds = data
    with pytest.raises(ValueError, match="foreground"):
        CompositionDataset([], backgrounds)
    with pytest.raises(ValueError, match="background"):
        CompositionDataset(items, [])
    with pytest.raises(ValueError, match="trimap_kernel"):
        CompositionDataset(items, backgrounds, trimap_kernel=(5, 2))
    write_png(tmp_path / "fg.png", np.zeros((10, 12, 3), np.float32))
    write_png(tmp_path / "alpha.png", np.zeros((10, 13), np.float32))
    bad = ForegroundItem("bad", alpha=tmp_path / "alpha.png", fg=tmp_path / "fg.png")
    with pytest.raises(InputError, match="fg.png"):
        CompositionDataset([bad], backgrounds)[0]
