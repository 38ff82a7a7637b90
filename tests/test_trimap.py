"""Tests for alphagan.trimap: file tolerance rule, trimap generation, real alphamatting files."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from alphagan import io as aio
from alphagan.errors import InputError
from alphagan.trimap import (
    UNKNOWN,
    known_bg,
    known_fg,
    read_trimap,
    trimap_from_alpha,
    trimap_from_array,
    trimap_from_mask,
    trimap_to_uint8,
    unknown_mask,
)

ALPHAMATTING = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "alphamatting"
REAL_TRIMAP = ALPHAMATTING / "trimap_training_lowres" / "Trimap1" / "GT01.png"
REAL_ALPHA = ALPHAMATTING / "gt_training_lowres" / "GT01.png"

# cv2.getStructuringElement(MORPH_ELLIPSE, (3, 3)) is the 3x3 cross, not the full square:
# one step of erosion removes the 4-connected boundary, one step of dilation adds 4-neighbours.
CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=np.uint8)


def _disk_trimap_uint8(size: int = 64) -> np.ndarray:
    """Background 0, a grey ring (128), a white disk (255): a typical hand-drawn trimap."""
    yy, xx = np.mgrid[0:size, 0:size]
    r = np.hypot(yy - size / 2, xx - size / 2)
    t = np.zeros((size, size), np.uint8)
    t[r < size * 0.4] = 128
    t[r < size * 0.25] = 255
    return t


def _soft_disk_alpha(size: int = 41, radius: float = 12.0, ramp: float = 4.0) -> np.ndarray:
    """Alpha 1 inside a disk, falling linearly to 0 over ``ramp`` pixels, 8-bit quantised."""
    yy, xx = np.mgrid[0:size, 0:size]
    r = np.hypot(yy - size // 2, xx - size // 2)
    alpha = np.clip((radius + ramp - r) / ramp, 0.0, 1.0)
    return (np.rint(alpha * 255) / 255).astype(np.float32)


def _random_alpha(seed: int, size: int = 48) -> np.ndarray:
    """A blobby 8-bit-quantised alpha with large 0 and 1 regions and soft edges."""
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), 4.0)
    field = (field - field.mean()) / field.std()
    alpha = np.clip(field * rng.uniform(0.5, 3.0) + 0.5, 0.0, 1.0)
    return (np.rint(alpha * 255) / 255).astype(np.float32)


# ------------------------------------------------------------------------- masks of a trimap


def test_region_masks_partition_a_trimap() -> None:
    trimap = np.array([[0.0, 0.5, 1.0]], np.float32)

    np.testing.assert_array_equal(known_bg(trimap), [[True, False, False]])
    np.testing.assert_array_equal(unknown_mask(trimap), [[False, True, False]])
    np.testing.assert_array_equal(known_fg(trimap), [[False, False, True]])
    assert UNKNOWN == 0.5


# ------------------------------------------------------------------ reading: tolerance rule


def test_exact_levels_map_to_0_half_1() -> None:
    values = np.array([[0, 128, 255], [255, 128, 0]], np.uint8)

    trimap = trimap_from_array(values)

    assert trimap.dtype == np.float32
    np.testing.assert_array_equal(trimap, [[0, 0.5, 1], [1, 0.5, 0]])


def test_uint16_levels_are_scaled_to_0_255_first() -> None:
    values = np.array([[0, 128 * 257, 65535, 127 * 257, 254 * 257]], np.uint16)

    np.testing.assert_array_equal(trimap_from_array(values), [[0, 0.5, 1, 0.5, 1]])


def test_near_values_snap_to_nearest_level() -> None:
    # Mostly clean grey so the few tested values stay within the tolerance budgets.
    values = np.full((10, 100), 128, np.uint8)
    probe = [1, 30, 63, 64, 96, 127, 129, 160, 191, 192, 223, 250, 254]
    expected = [0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1]
    values[0, : len(probe)] = probe

    trimap = trimap_from_array(values)

    # 64 and 191 (191.5 on the 0..255 scale would be the exact midpoint) go to unknown.
    np.testing.assert_array_equal(trimap[0, : len(probe)], expected)


def test_jpeg_compressed_trimap_round_trips(tmp_path: Path) -> None:
    clean = _disk_trimap_uint8(96)
    Image.fromarray(clean).save(tmp_path / "trimap.jpg", quality=75)
    noisy = aio.read_grey(tmp_path / "trimap.jpg")
    assert not np.array_equal(noisy, clean)  # the file really is noisy

    trimap = read_trimap(tmp_path / "trimap.jpg")

    mismatch = np.mean(trimap_to_uint8(trimap) != clean)
    assert mismatch <= 0.001


def test_far_pixel_budget_is_one_percent() -> None:
    values = np.full((100, 100), 128, np.uint8)
    values[50:] = 0
    values.flat[:100] = 80  # 100 pixels 48 levels from any level: exactly 1%, accepted
    trimap_from_array(values)

    values.flat[100] = 80  # one more: refused
    with pytest.raises(InputError, match=r"^scribble\.png: not a trimap: 1\.01% of pixels"):
        trimap_from_array(values, name="scribble.png")


@pytest.mark.parametrize("kind", ["gradient", "noise"])
def test_photo_like_arrays_are_refused(kind: str) -> None:
    if kind == "gradient":
        values = np.tile(np.linspace(0, 255, 200).astype(np.uint8), (50, 1))
    else:
        values = np.random.default_rng(0).integers(0, 256, (50, 200), dtype=np.uint8)

    with pytest.raises(InputError, match=r"^holiday\.jpg: not a trimap") as info:
        trimap_from_array(values, name="holiday.jpg")
    assert "\n" not in str(info.value)


def test_alpha_matte_with_thin_soft_edge_is_refused() -> None:
    # Soft edge under 1% of the image: the 1% rule alone would accept this matte as a trimap;
    # its soft values spread over 1..254, so "far" pixels outnumber near-grey ones.
    alpha = _soft_disk_alpha(size=201, radius=60.0, ramp=1.5)
    values = np.rint(alpha * 255).astype(np.uint8)
    far = np.minimum.reduce([np.abs(values.astype(int) - v) for v in (0, 128, 255)]) > 32
    assert 0 < far.mean() <= 0.01

    with pytest.raises(InputError, match=r"^matte\.png: not a trimap: .*alpha matte"):
        trimap_from_array(values, name="matte.png")


def test_no_unknown_pixels_is_refused() -> None:
    mask = np.zeros((20, 20), np.uint8)
    mask[5:15, 5:15] = 255

    with pytest.raises(
        InputError, match=r"^mask\.png: has no unknown \(grey\) pixels, nothing to matte$"
    ):
        trimap_from_array(mask, name="mask.png")


def test_jpeg_compressed_binary_mask_is_refused_as_no_unknown() -> None:
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, format="JPEG", quality=50)
    noisy = np.asarray(Image.open(buffer))

    with pytest.raises(InputError, match="has no unknown"):
        trimap_from_array(noisy, name="mask.jpg")


@pytest.mark.parametrize(
    "values",
    [np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.float32), np.zeros((0, 4), np.uint8)],
    ids=["rgb", "float", "empty"],
)
def test_malformed_arrays_are_refused(values: np.ndarray) -> None:
    with pytest.raises(InputError, match="^t1: "):
        trimap_from_array(values, name="t1")


def test_written_trimap_reads_back(tmp_path: Path) -> None:
    trimap = trimap_from_array(_disk_trimap_uint8())

    aio.write_png(tmp_path / "t.png", trimap_to_uint8(trimap))

    np.testing.assert_array_equal(read_trimap(tmp_path / "t.png"), trimap)
    np.testing.assert_array_equal(np.unique(trimap_to_uint8(trimap)), [0, 128, 255])


def test_read_trimap_errors_name_the_file(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "black.png")

    with pytest.raises(InputError, match=r"black\.png: has no unknown"):
        read_trimap(tmp_path / "black.png")
    with pytest.raises(InputError, match=r"absent\.png: no such file"):
        read_trimap(tmp_path / "absent.png")


# ------------------------------------------------------------------ making trimaps: alpha


def test_opencv_3x3_ellipse_is_the_cross() -> None:
    np.testing.assert_array_equal(cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)), CROSS)


def test_trimap_from_alpha_dilate_1_adds_the_4_neighbours() -> None:
    alpha = np.zeros((7, 7), np.float32)
    alpha[3, 3] = 1.0

    trimap = trimap_from_alpha(alpha, erode=0, dilate=1)

    expected = np.zeros((7, 7), np.float32)
    expected[2:5, 2:5] = CROSS * UNKNOWN
    expected[3, 3] = 1.0
    np.testing.assert_array_equal(trimap, expected)


def test_trimap_from_alpha_erode_1_removes_the_4_connected_boundary() -> None:
    # An L-shaped foreground: erosion by the cross keeps a pixel only if its 4 neighbours are
    # foreground too. The pixel (4, 3) at the L's inner corner survives (its diagonal
    # neighbour (3, 4) is background); a 3x3 square element would remove it.
    alpha = np.zeros((9, 9), np.float32)
    alpha[1:8, 1:4] = 1.0
    alpha[4:8, 1:8] = 1.0

    trimap = trimap_from_alpha(alpha, erode=1, dilate=0)

    expected_fg = np.zeros((9, 9), bool)
    expected_fg[2:7, 2] = True  # middle column of the vertical bar
    expected_fg[5:7, 2:7] = True  # middle rows of the horizontal bar
    expected_fg[4, 3] = True  # inner corner: its 4 neighbours are foreground, (3, 4) is not
    np.testing.assert_array_equal(known_fg(trimap), expected_fg)
    np.testing.assert_array_equal(known_bg(trimap), alpha == 0)  # dilate=0: plain threshold
    square = cv2.erode(alpha.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert not np.array_equal(square, expected_fg)


def test_trimap_from_alpha_widths_0_are_the_plain_thresholds() -> None:
    alpha = _soft_disk_alpha()
    alpha[0, 0] = 0.5 / 255  # below half an 8-bit step: background
    alpha[0, 1] = 1 - 0.4 / 255  # within half an 8-bit step of 1: foreground

    trimap = trimap_from_alpha(alpha, erode=0, dilate=0)

    np.testing.assert_array_equal(known_fg(trimap), alpha >= 1 - 1 / 510)
    np.testing.assert_array_equal(known_bg(trimap), alpha <= 1 / 510)
    np.testing.assert_array_equal(unknown_mask(trimap), (alpha > 1 / 510) & (alpha < 1 - 1 / 510))
    assert trimap[0, 0] == 0.0 and trimap[0, 1] == 1.0


def test_trimap_from_alpha_widths_grow_the_band_by_whole_discs() -> None:
    alpha = _soft_disk_alpha(size=61, radius=12.0, ramp=4.0)
    r = 3
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))

    trimap = trimap_from_alpha(alpha, erode=r, dilate=r)

    expected_fg = cv2.erode((alpha == 1).astype(np.uint8), disc) > 0
    expected_bg = cv2.dilate((alpha > 0).astype(np.uint8), disc) == 0
    np.testing.assert_array_equal(known_fg(trimap), expected_fg)
    np.testing.assert_array_equal(known_bg(trimap), expected_bg)
    # The disk is centred, so the band is a ring: check its inner and outer radius roughly.
    assert known_fg(trimap)[30, 30] and not known_fg(trimap)[30, 30 + 12 - r + 1]
    assert not known_bg(trimap)[30, 30 + 16 + r - 1] and known_bg(trimap)[30, 30 + 16 + r + 1]


@pytest.mark.parametrize("seed", range(4))
def test_unknown_band_contains_every_soft_pixel(seed: int) -> None:
    # Invariant for 8-bit alphas (k/255): every pixel with 0 < a < 1 is unknown, known
    # foreground has a == 1 and known background a == 0, whatever the widths.
    alpha = _random_alpha(seed)
    soft = (alpha > 0) & (alpha < 1)
    assert soft.any() and (alpha == 0).any() and (alpha == 1).any()
    rng = np.random.default_rng(seed)
    for erode, dilate in [(0, 0), (1, 0), (0, 1), *rng.integers(0, 8, size=(3, 2)).tolist()]:
        trimap = trimap_from_alpha(alpha, erode=erode, dilate=dilate)

        assert set(np.unique(trimap)) <= {0.0, 0.5, 1.0}
        assert unknown_mask(trimap)[soft].all()
        assert (alpha[known_fg(trimap)] == 1).all()
        assert (alpha[known_bg(trimap)] == 0).all()


def test_foreground_touching_the_border_is_not_eroded_there() -> None:
    alpha = np.zeros((10, 10), np.float32)
    alpha[:, :5] = 1.0  # foreground reaches the left, top and bottom edges

    trimap = trimap_from_alpha(alpha, erode=2, dilate=2)

    assert known_fg(trimap)[:, :3].all() and not known_fg(trimap)[:, 3:].any()
    assert known_bg(trimap)[:, 7:].all() and not known_bg(trimap)[:, :7].any()


def test_trimap_from_alpha_refuses_bad_arguments() -> None:
    alpha = np.zeros((4, 4), np.float32)
    with pytest.raises(ValueError, match="erode"):
        trimap_from_alpha(alpha, erode=-1)
    with pytest.raises(ValueError, match="dilate"):
        trimap_from_alpha(alpha, dilate=-3)
    with pytest.raises(TypeError):
        trimap_from_alpha(alpha, erode=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="float"):
        trimap_from_alpha(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="HxW"):
        trimap_from_alpha(np.zeros((4, 4, 1), np.float32))


# ------------------------------------------------------------------- making trimaps: mask


@pytest.mark.parametrize("encoding", ["bool", "01", "0-255"])
def test_trimap_from_mask_erode_and_dilate_by_one(encoding: str) -> None:
    inside = np.zeros((9, 9), bool)
    inside[2:7, 2:7] = True
    mask = {"bool": inside, "01": inside.astype(np.int64), "0-255": inside * np.uint8(255)}

    trimap = trimap_from_mask(mask[encoding], erode=1, dilate=1)

    expected = np.zeros((9, 9), np.float32)
    grown = cv2.dilate(inside.astype(np.uint8), CROSS) > 0  # the square plus its 4-neighbours
    expected[grown] = UNKNOWN
    expected[3:6, 3:6] = 1.0  # the 5x5 square loses its 1-pixel rim
    np.testing.assert_array_equal(trimap, expected)
    assert expected[1, 1] == 0.0 and expected[1, 2] == UNKNOWN  # cross, not square, dilation


def test_trimap_from_mask_widths_0_reproduce_the_mask() -> None:
    mask = np.random.default_rng(3).random((12, 12)) > 0.5

    trimap = trimap_from_mask(mask, erode=0, dilate=0)

    np.testing.assert_array_equal(trimap, mask.astype(np.float32))


def test_trimap_from_mask_refuses_negative_width() -> None:
    with pytest.raises(ValueError, match="erode"):
        trimap_from_mask(np.ones((3, 3), bool), erode=-1)


# ---------------------------------------------------------------- real alphamatting files


def _require(path: Path) -> None:
    if not path.is_file():
        pytest.skip(f"alphamatting.com data not present ({path} is absent)")


def test_real_palette_trimap_reads_as_three_levels() -> None:
    _require(REAL_TRIMAP)
    with Image.open(REAL_TRIMAP) as stored:
        assert stored.mode == "P"

    grey = aio.read_grey(REAL_TRIMAP)
    trimap = read_trimap(REAL_TRIMAP)

    assert grey.dtype == np.uint8
    np.testing.assert_array_equal(np.unique(grey), [0, 128, 255])
    assert trimap.dtype == np.float32 and trimap.shape == grey.shape
    np.testing.assert_array_equal(np.unique(trimap), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(trimap_to_uint8(trimap), grey)


def test_real_alpha_reads_in_unit_range_and_is_not_a_trimap() -> None:
    _require(REAL_ALPHA)

    alpha = aio.read_alpha(REAL_ALPHA)

    assert alpha.dtype == np.float32 and alpha.ndim == 2
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    assert np.count_nonzero((alpha > 0) & (alpha < 1)) > 1000
    # Its soft edge is under 1% of the image; the alpha-matte rule still refuses it.
    with pytest.raises(InputError, match=r"GT01\.png: not a trimap"):
        read_trimap(REAL_ALPHA)
    trimap = trimap_from_alpha(alpha, erode=5, dilate=5)
    assert unknown_mask(trimap)[(alpha > 0) & (alpha < 1)].all()


def test_a_trimap_file_of_labels_0_1_2_is_refused_as_such(tmp_path) -> None:
    """A file holding labels 0/1/2 (or 0/1) gets the message the arrays get, naming the file,
    not "no unknown pixels" from rounding every label to background."""
    from alphagan.errors import InputError
    from alphagan.io import write_png
    from alphagan.trimap import read_trimap

    for labels in ([[0, 1, 2], [2, 1, 0]], [[0, 1], [1, 0]]):
        path = tmp_path / "labels.png"
        write_png(path, np.array(labels, np.uint8))
        with pytest.raises(InputError, match=r"labels\.png: got a uint8 trimap with values "
                                             r"0\.\.[12]: labels 0/1/2 are ambiguous"):
            read_trimap(path)
    write_png(path, np.zeros((2, 3), np.uint8))  # all background is not a label guess
    assert (read_trimap(path, require_unknown=False) == 0).all()
