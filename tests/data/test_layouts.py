"""Tests for alphagan.data.layouts: each dataset's folder layout on a tiny fake tree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from alphagan.data import (
    EvalDataset,
    EvalItem,
    ForegroundItem,
    alphamatting_eval_items,
    alphamatting_train_items,
    am2k_eval_items,
    am2k_train_items,
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
)
from alphagan.errors import InputError
from alphagan.io import write_png

STEMS = ("a1", "b2", "c3")


def _trimap() -> np.ndarray:
    t = np.zeros((6, 8), np.uint8)
    t[:, 3:5] = 128
    t[:, 5:] = 255
    return t


def _fill(folder: Path, kind: str, stems=STEMS, ext: str = ".png") -> None:
    """Write tiny 6x8 files: an RGB image, a grey alpha or a trimap."""
    for stem in stems:
        if kind == "trimap":
            write_png(folder / f"{stem}.png", _trimap())
        elif kind == "alpha":
            write_png(folder / f"{stem}.png", np.linspace(0, 1, 48, dtype=np.float32).reshape(6, 8))
        else:
            path = folder / f"{stem}{ext}"
            write_png(path.with_suffix(".png"), np.full((6, 8, 3), 0.5, np.float32))
            if ext != ".png":  # the same picture under another extension
                path.with_suffix(".png").rename(path)


def _tree(root: Path, spec: dict[str, str]) -> Path:
    for folder, kind in spec.items():
        _fill(root / folder, kind)
    return root


# (reader, {sub-folder: kind}, role of each item's fields)
TRAIN_LAYOUTS: list[tuple[str, Callable[[Path], list[ForegroundItem]], dict[str, str], int]] = [
    ("comp1k", comp1k_train_items, {
        "Training_set/Adobe-licensed images/fg": "image",
        "Training_set/Adobe-licensed images/alpha": "alpha",
        "Training_set/Other/fg": "image", "Training_set/Other/alpha": "alpha"}, 6),
    ("comp1k-flat", comp1k_train_items, {"train/fg": "image", "train/alpha": "alpha"}, 3),
    ("d646", d646_items, {"Train/FG": "image", "Train/GT": "alpha"}, 3),
    ("am2k", am2k_train_items, {"train/original": "image", "train/mask": "alpha"}, 3),
    ("p3m", p3m_train_items, {"train/blurred_image": "image", "train/mask": "alpha"}, 3),
    ("ppm100", ppm100_train_items, {"image": "image", "matte": "alpha"}, 3),
    ("alphamatting", alphamatting_train_items,
     {"input_training_lowres": "image", "gt_training_lowres": "alpha"}, 3),
]
HAS_FG = {"comp1k", "comp1k-flat", "d646"}


@pytest.mark.parametrize("name,reader,spec,count", TRAIN_LAYOUTS, ids=[t[0] for t in TRAIN_LAYOUTS])
def test_train_layouts(tmp_path: Path, name, reader, spec, count) -> None:
    items = reader(_tree(tmp_path, spec))
    assert len(items) == count
    for item in items:
        assert item.name in STEMS and item.alpha.is_file()
        source = item.fg if name in HAS_FG else item.image
        other = item.image if name in HAS_FG else item.fg
        assert source is not None and source.is_file() and source.stem == item.name
        assert other is None


@pytest.mark.parametrize("name,reader,spec,count", TRAIN_LAYOUTS, ids=[t[0] for t in TRAIN_LAYOUTS])
def test_missing_subfolder_is_named(tmp_path: Path, name, reader, spec, count) -> None:
    dropped = sorted(spec)[-1]
    _tree(tmp_path, {k: v for k, v in spec.items() if k != dropped})
    with pytest.raises(InputError) as caught:
        reader(tmp_path)
    assert str(tmp_path / dropped) in str(caught.value)


def test_comp1k_train_not_a_comp1k_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Training_set"):
        comp1k_train_items(tmp_path)


EVAL_LAYOUTS = [
    ("am2k", am2k_eval_items, "validation", ("original", "mask", "trimap")),
    ("p3m-p", p3m_eval_items, "validation/P3M-500-P", ("blurred_image", "mask", "trimap")),
    ("p3m-np", lambda r: p3m_eval_items(r, "P3M-500-NP"), "validation/P3M-500-NP",
     ("original_image", "mask", "trimap")),
    ("ppm100", ppm100_eval_items, ".", ("image", "matte", "trimap")),
    ("alphamatting", alphamatting_eval_items, ".",
     ("input_training_lowres", "gt_training_lowres", "trimap_training_lowres/Trimap1")),
    ("folders", lambda r: folder_eval_items(r / "i", r / "a", r / "t"), ".", ("i", "a", "t")),
]


@pytest.mark.parametrize("name,reader,base,folders", EVAL_LAYOUTS, ids=[t[0] for t in EVAL_LAYOUTS])
def test_eval_layouts(tmp_path: Path, name, reader, base, folders) -> None:
    image, alpha, trimap = folders
    _fill(tmp_path / base / image, "image", ext=".jpg")  # pairing is by stem, not extension
    _fill(tmp_path / base / alpha, "alpha")
    _fill(tmp_path / base / trimap, "trimap")
    items = reader(tmp_path)
    assert [i.name for i in items] == list(STEMS)
    assert all(i.image.suffix == ".jpg" and i.trimap.is_file() for i in items)
    sample = EvalDataset(items)[0]
    assert sample["image"].shape == (6, 8, 3) and sample["alpha"].shape == (6, 8)
    assert set(np.unique(sample["trimap"])) == {0.0, 0.5, 1.0}


def test_unmatched_stems_raise_or_warn(tmp_path: Path) -> None:
    _fill(tmp_path / "train" / "original", "image", stems=("a1", "b2", "c3", "d4"))
    _fill(tmp_path / "train" / "mask", "alpha", stems=("a1", "b2", "c3", "e5"))
    with pytest.raises(InputError) as caught:
        am2k_train_items(tmp_path)
    message = str(caught.value)
    assert str(tmp_path / "train" / "mask") in message and "d4" in message
    with pytest.warns(UserWarning, match="d4"):
        items = am2k_train_items(tmp_path, skip_unmatched=True)
    assert [i.name for i in items] == ["a1", "b2", "c3"]


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "image").mkdir()
    _fill(tmp_path / "matte", "alpha")
    with pytest.raises(InputError, match="no image files"):
        ppm100_train_items(tmp_path)


def test_subfolder_names_can_be_overridden(tmp_path: Path) -> None:
    _tree(tmp_path, {"Training/merged_fg": "image", "Training/mattes": "alpha"})
    items = d646_items(tmp_path, split="Training", fg_dir="merged_fg", alpha_dir="mattes")
    assert len(items) == 3 and all(i.fg is not None for i in items)


def test_alphamatting_names_filter(tmp_path: Path) -> None:
    _fill(tmp_path / "input_training_lowres", "image")
    _fill(tmp_path / "gt_training_lowres", "alpha")
    _fill(tmp_path / "trimap_training_lowres" / "Trimap2", "trimap")
    items = alphamatting_eval_items(tmp_path, "Trimap2", names=["c3", "a1"])
    assert [i.name for i in items] == ["c3", "a1"]
    with pytest.raises(InputError, match="zz"):
        alphamatting_eval_items(tmp_path, "Trimap2", names=["zz"])
    with pytest.raises(InputError, match="Trimap1"):
        alphamatting_eval_items(tmp_path, "Trimap1")


def test_folder_items(tmp_path: Path) -> None:
    _fill(tmp_path / "alpha", "alpha")
    _fill(tmp_path / "image", "image")
    _fill(tmp_path / "fg", "image")
    photos = folder_items(tmp_path / "alpha", image_dir=tmp_path / "image")
    assert all(i.image is not None and i.fg is None for i in photos)
    both = folder_items(tmp_path / "alpha", fg_dir=tmp_path / "fg", image_dir=tmp_path / "image")
    assert all(i.image is not None and i.fg is not None for i in both)
    with pytest.raises(ValueError):
        folder_items(tmp_path / "alpha")


def test_comp1k_test_items_per_composite_and_per_foreground(tmp_path: Path) -> None:
    names = ("dog_0", "dog_1", "net_0")
    _fill(tmp_path / "merged", "image", stems=names)
    _fill(tmp_path / "mask", "alpha", stems=("dog", "net"))  # one alpha per foreground
    _fill(tmp_path / "trimaps", "trimap", stems=names)  # one trimap per composite
    items = comp1k_test_items(tmp_path)
    assert [i.name for i in items] == list(names)
    assert [i.alpha.stem for i in items] == ["dog", "dog", "net"]
    assert [i.trimap.stem for i in items] == list(names)
    _fill(tmp_path / "alpha_copy", "alpha", stems=names)  # preferred when present
    assert [i.alpha.parent.name for i in comp1k_test_items(tmp_path)] == ["alpha_copy"] * 3
    (tmp_path / "trimaps" / "net_0.png").unlink()
    with pytest.raises(InputError, match="net_0"):
        comp1k_test_items(tmp_path)


def test_list_backgrounds(tmp_path: Path) -> None:
    _fill(tmp_path / "coco" / "sub", "image", stems=("z", "y"))
    _fill(tmp_path / "coco", "image", stems=("x",))
    (tmp_path / "coco" / "notes.txt").write_text("not an image")
    found = list_backgrounds(tmp_path / "coco")  # recursive, images only, sorted by path
    assert found == [tmp_path / "coco" / "sub" / "y.png", tmp_path / "coco" / "sub" / "z.png",
                     tmp_path / "coco" / "x.png"]

    # a DIM-style names file: order kept, names relative to root (default: its own folder)
    names = tmp_path / "training_bg_names.txt"
    names.write_text("# DIM style\nz.png\n\ny.png\n")
    assert list_backgrounds(names, root=tmp_path / "coco" / "sub") == [
        tmp_path / "coco" / "sub" / "z.png", tmp_path / "coco" / "sub" / "y.png"
    ]
    with pytest.raises(InputError, match="z.png"):  # not in coco/
        list_backgrounds(names, root=tmp_path / "coco")
    (tmp_path / "list.txt").write_text("coco/x.png\ncoco/sub/y.png\n")
    assert list_backgrounds(tmp_path / "list.txt") == [
        tmp_path / "coco" / "x.png", tmp_path / "coco" / "sub" / "y.png"
    ]
    assert list_backgrounds([tmp_path / "coco" / "x.png"]) == [tmp_path / "coco" / "x.png"]
    with pytest.raises(InputError, match="nowhere"):
        list_backgrounds(tmp_path / "nowhere")
    with pytest.raises(InputError, match="do not exist"):
        list_backgrounds([tmp_path / "gone.png"])


def test_eval_dataset_rejects_mismatched_sizes(tmp_path: Path) -> None:
    write_png(tmp_path / "image.png", np.zeros((6, 8, 3), np.float32))
    write_png(tmp_path / "alpha.png", np.zeros((6, 8), np.float32))
    write_png(tmp_path / "trimap.png", _trimap()[:, :7])
    item = EvalItem("x", tmp_path / "image.png", tmp_path / "alpha.png", tmp_path / "trimap.png")
    with pytest.raises(InputError, match="trimap.png"):
        EvalDataset([item])[0]
