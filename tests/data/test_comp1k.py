"""Tests for the official Composition-1k test composition rule."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alphagan.data import comp1k_composite, comp1k_test_composites, write_composite_test_set
from alphagan.errors import InputError
from alphagan.io import read_image, write_png


def _adobe_script(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """A line-by-line transliteration of Adobe's composition script (PIL, per pixel)."""
    im, bg_img, a = Image.fromarray(fg), Image.fromarray(bg), Image.fromarray(alpha)
    w, h = im.size
    bw, bh = bg_img.size
    wratio = w / bw
    hratio = h / bh
    ratio = wratio if wratio > hratio else hratio
    if ratio > 1:
        bg_img = bg_img.resize((math.ceil(bw * ratio), math.ceil(bh * ratio)), Image.BICUBIC)
    bg_img = bg_img.crop((0, 0, w, h))
    fg_list, bg_list, a_list = im.load(), bg_img.load(), a.load()
    out = np.zeros((h, w, 3), np.uint8)
    for y in range(h):
        for x in range(w):
            alpha_v = a_list[x, y] / 255
            if alpha_v >= 1:
                out[y, x] = fg_list[x, y]
            elif alpha_v > 0:
                out[y, x] = [int(alpha_v * fg_list[x, y][c] + bg_list[x, y][c] * (1 - alpha_v))
                             for c in range(3)]
            else:
                out[y, x] = bg_list[x, y]
    return out


def _arrays(seed: int, fg_hw: tuple[int, int], bg_hw: tuple[int, int]):
    rng = np.random.default_rng(seed)
    fg = rng.integers(0, 256, (*fg_hw, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (*bg_hw, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, fg_hw, dtype=np.uint8)
    alpha[0, :2] = (0, 255)
    return fg, bg, alpha


def test_larger_background_is_not_resized_and_cropped_top_left() -> None:
    fg = np.full((2, 3, 3), 200, np.uint8)
    bg = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    alpha = np.array([[0, 255, 128], [0, 0, 0]], np.uint8)
    out = comp1k_composite(fg, alpha, bg)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out[1], bg[1, :3])  # alpha 0: background, top-left corner
    np.testing.assert_array_equal(out[0, 0], bg[0, 0])
    np.testing.assert_array_equal(out[0, 1], [200, 200, 200])  # alpha 255: foreground
    # alpha 128: int(128/255 * 200 + B * 127/255), truncated
    expected = [int(128 / 255 * 200 + v * (1 - 128 / 255)) for v in bg[0, 2]]
    np.testing.assert_array_equal(out[0, 2], expected)
    assert expected == [103, 103, 104]  # 103.38, 103.88, 104.37: truncated, not rounded


def test_smaller_background_is_upscaled_to_cover() -> None:
    # fg 4x6 (HxW), bg 3x2: ratio = max(6/2, 4/3) = 3 -> bg becomes 9x6, then top-left 4x6.
    fg = np.zeros((4, 6, 3), np.uint8)
    alpha = np.zeros((4, 6), np.uint8)
    bg = np.array([[[10] * 3, [250] * 3], [[90] * 3, [40] * 3], [[0] * 3, [128] * 3]], np.uint8)
    out = comp1k_composite(fg, alpha, bg)
    resized = np.asarray(Image.fromarray(bg).resize((6, 9), Image.BICUBIC))
    np.testing.assert_array_equal(out, resized[:4, :6])
    # a constant background stays exactly constant through the bicubic upscale
    flat = comp1k_composite(fg, alpha, np.full((1, 1, 3), 77, np.uint8))
    assert np.all(flat == 77)


@pytest.mark.parametrize("fg_hw,bg_hw", [((7, 9), (12, 15)), ((7, 9), (3, 4)),
                                         ((7, 9), (20, 5)), ((8, 5), (8, 5))])
def test_matches_the_adobe_script_exactly(fg_hw, bg_hw) -> None:
    fg, bg, alpha = _arrays(sum(fg_hw) * 31 + sum(bg_hw), fg_hw, bg_hw)
    np.testing.assert_array_equal(comp1k_composite(fg, alpha, bg), _adobe_script(fg, bg, alpha))


def _test_tree(root: Path, n_fg: int = 2, n_bg: int = 3) -> None:
    for k in range(n_fg):
        fg, _, alpha = _arrays(k, (5, 6), (1, 1))
        write_png(root / "fg" / f"obj{k}.png", fg)
        write_png(root / "alpha" / f"obj{k}.png", alpha)
        trimap = np.full((5, 6), 128, np.uint8)
        trimap[0] = 0
        write_png(root / "trimaps" / f"obj{k}.png", trimap)
    for j in range(n_fg * n_bg):
        write_png(root / "bg" / f"voc{j:02d}.png", np.full((7, 8, 3), 10 * j, np.uint8))


def test_each_foreground_takes_its_backgrounds_in_order(tmp_path: Path) -> None:
    _test_tree(tmp_path)
    composites = list(comp1k_test_composites(tmp_path / "fg", tmp_path / "alpha",
                                             tmp_path / "bg", n_bg=3))
    assert [c.name for c in composites] == [f"obj{k}_{j}" for k in range(2) for j in range(3)]
    assert [c.background.name for c in composites] == [f"voc{j:02d}.png" for j in range(6)]
    assert composites[4].fg_name == "obj1" and composites[4].image.dtype == np.uint8

    # a names file sets the order (e.g. test_bg_names.txt, test_fg_names.txt)
    (tmp_path / "bg_names.txt").write_text("\n".join(f"voc{j:02d}.png" for j in reversed(range(6))))
    (tmp_path / "fg_names.txt").write_text("obj1.png\nobj0.png\n")
    ordered = list(comp1k_test_composites(tmp_path / "fg", tmp_path / "alpha", tmp_path / "bg",
                                          tmp_path / "bg_names.txt", 3,
                                          fg_names_file=tmp_path / "fg_names.txt"))
    assert [c.name for c in ordered][:2] == ["obj1_0", "obj1_1"]
    assert ordered[0].background.name == "voc05.png"
    with pytest.raises(InputError, match="need 8"):
        list(comp1k_test_composites(tmp_path / "fg", tmp_path / "alpha", tmp_path / "bg", n_bg=4))


def test_write_composite_test_set(tmp_path: Path) -> None:
    _test_tree(tmp_path)
    out = tmp_path / "merged"
    items = write_composite_test_set(out, tmp_path / "fg", tmp_path / "alpha",
                                     tmp_path / "trimaps", tmp_path / "bg", n_bg=3)
    assert len(items) == 6 and sorted(p.name for p in out.iterdir()) == sorted(
        f"{i.name}.png" for i in items)
    first = items[0]
    assert first.alpha == tmp_path / "alpha" / "obj0.png"
    assert first.trimap == tmp_path / "trimaps" / "obj0.png"
    expected = next(iter(comp1k_test_composites(tmp_path / "fg", tmp_path / "alpha",
                                                tmp_path / "bg", n_bg=3))).image
    np.testing.assert_array_equal(np.rint(read_image(first.image) * 255), expected)
    # existing composites are kept unless overwrite=True
    stamp = first.image.stat().st_mtime_ns
    write_composite_test_set(out, tmp_path / "fg", tmp_path / "alpha", tmp_path / "trimaps",
                             tmp_path / "bg", n_bg=3)
    assert first.image.stat().st_mtime_ns == stamp
