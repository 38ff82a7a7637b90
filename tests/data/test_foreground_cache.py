"""Tests for alphagan.data.foreground_cache: estimate once, cache atomically, reuse."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from alphagan import atomic
from alphagan.data import CompositionDataset, ForegroundItem, foreground_cache
from alphagan.data.foreground_cache import (
    cached_foreground,
    default_cache_dir,
    foreground_cache_key,
    prepare_foregrounds,
)
from alphagan.errors import InputError
from alphagan.io import read_image, write_png


def _synthetic(height: int = 48, width: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(F, B, alpha): smooth colour ramps and a disc with a wide soft edge."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    fg = np.stack([0.2 + 0.6 * xx / width, 0.7 - 0.4 * yy / height,
                   np.full_like(xx, 0.5)], axis=2)
    bg = np.stack([np.full_like(xx, 0.1), 0.2 + 0.5 * xx / width, 0.9 - 0.5 * yy / height],
                  axis=2)
    dist = np.hypot(yy - height / 2, xx - width / 2)
    alpha = np.clip((18 - dist) / 10 + 0.5, 0, 1).astype(np.float32)
    return fg.astype(np.float32), bg.astype(np.float32), alpha


@pytest.fixture()
def photo_item(tmp_path: Path) -> ForegroundItem:
    fg, bg, alpha = _synthetic()
    a = alpha[:, :, None]
    write_png(tmp_path / "data" / "image.png", a * fg + (1 - a) * bg)
    write_png(tmp_path / "data" / "alpha.png", alpha)
    return ForegroundItem("photo", alpha=tmp_path / "data" / "alpha.png",
                          image=tmp_path / "data" / "image.png")


@pytest.fixture()
def counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Replace the estimator by a cheap one that counts its calls."""
    calls: list[int] = []

    def fake(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        calls.append(1)
        return image

    monkeypatch.setattr(foreground_cache, "estimate_foreground", fake)
    return calls


def test_estimated_once_then_read_from_the_cache(tmp_path, photo_item, counting) -> None:
    cache = tmp_path / "cache"
    first = prepare_foregrounds([photo_item], cache, progress=False)
    assert len(counting) == 1
    assert first[0].fg is not None and first[0].fg.parent == cache and first[0].fg.is_file()
    assert first[0].image == photo_item.image and first[0].alpha == photo_item.alpha
    second = prepare_foregrounds([photo_item], cache, progress=False)
    assert len(counting) == 1  # not recomputed
    assert second == first
    assert [p.name for p in cache.iterdir()] == [first[0].fg.name]  # no stray temp files


def test_items_with_a_foreground_pass_through(tmp_path, counting) -> None:
    item = ForegroundItem("x", alpha=tmp_path / "a.png", fg=tmp_path / "f.png")
    assert prepare_foregrounds([item], tmp_path / "cache", progress=False) == [item]
    assert counting == [] and not (tmp_path / "cache").exists()


def test_key_follows_contents_not_paths(tmp_path, photo_item) -> None:
    key = foreground_cache_key(photo_item.image, photo_item.alpha)
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.copy(photo_item.image, moved / "renamed.png")
    shutil.copy(photo_item.alpha, moved / "matte.png")
    assert foreground_cache_key(moved / "renamed.png", moved / "matte.png") == key
    write_png(moved / "matte.png", np.zeros((48, 64), np.float32))
    assert foreground_cache_key(moved / "renamed.png", moved / "matte.png") != key
    # swapping the two files is a different key too
    assert foreground_cache_key(photo_item.alpha, photo_item.image) != key


def test_a_failed_write_leaves_no_file(tmp_path, photo_item, counting, monkeypatch) -> None:
    cache = tmp_path / "cache"

    def crash(src, dst):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        cached_foreground(photo_item.image, photo_item.alpha, cache)
    assert list(cache.iterdir()) == []  # neither a partial PNG nor the temporary file
    monkeypatch.undo()
    monkeypatch.setattr(foreground_cache, "estimate_foreground", lambda image, alpha: image)
    path = cached_foreground(photo_item.image, photo_item.alpha, cache)
    assert path.is_file() and read_image(path).shape == (48, 64, 3)


def test_real_estimate_is_close_to_the_true_foreground(tmp_path, photo_item) -> None:
    fg_true, _, alpha = _synthetic()
    path = cached_foreground(photo_item.image, photo_item.alpha, tmp_path / "cache")
    estimate = read_image(path)
    visible = alpha > 0.2  # where the photo says something about F
    error = np.abs(estimate - fg_true)[visible]
    assert error.mean() < 0.02, error.mean()
    assert np.quantile(error, 0.99) < 0.08


def test_errors_name_the_file(tmp_path) -> None:
    with pytest.raises(InputError, match="neither"):
        prepare_foregrounds([ForegroundItem("x", alpha=tmp_path / "a.png")], tmp_path,
                            progress=False)
    item = ForegroundItem("x", alpha=tmp_path / "missing.png", image=tmp_path / "image.png")
    write_png(item.image, np.zeros((4, 4, 3), np.float32))
    with pytest.raises(InputError, match="missing.png"):
        prepare_foregrounds([item], tmp_path / "cache", progress=False)
    write_png(item.alpha, np.zeros((4, 5), np.float32))
    with pytest.raises(InputError, match="image.png"):
        prepare_foregrounds([item], tmp_path / "cache", progress=False)


def test_dataset_resolves_photo_items_through_the_cache(tmp_path, photo_item, counting) -> None:
    write_png(tmp_path / "bg.png", np.full((40, 40, 3), 0.3, np.float32))
    dataset = CompositionDataset([photo_item], [tmp_path / "bg.png"], crop_size=32,
                                 crop_choices=(32,), cache_dir=tmp_path / "cache")
    assert len(counting) == 1
    assert dataset.items[0].fg is not None and dataset.items[0].fg.parent == tmp_path / "cache"
    assert dataset[0]["fg"].shape == (3, 32, 32)


def test_default_cache_dir_honours_xdg(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "alphagan" / "foregrounds"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "alphagan" / "foregrounds"
