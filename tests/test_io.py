"""Tests for alphagan.io: every fixture is written into tmp_path by the test itself."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from alphagan import io as aio
from alphagan.errors import InputError

ORIENTATION = 0x0112


def _rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def _exif_bytes(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return exif.tobytes()


def _add_png_exif(png: bytes, exif: bytes) -> bytes:
    """Insert an eXIf chunk right after IHDR (OpenCV cannot write one)."""
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    chunk = (
        struct.pack(">I", len(exif)) + b"eXIf" + exif
        + struct.pack(">I", zlib.crc32(b"eXIf" + exif) & 0xFFFFFFFF)
    )
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def _pil_pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def _write_16bit_png(path: Path, rgb_or_grey: np.ndarray) -> None:
    pixels = rgb_or_grey[:, :, ::-1] if rgb_or_grey.ndim == 3 else rgb_or_grey
    assert cv2.imwrite(str(path), np.ascontiguousarray(pixels))


# ------------------------------------------------------------------------------------ reading


def test_8bit_rgb_png_round_trip_is_exact(tmp_path: Path) -> None:
    rgb = _rng().integers(0, 256, size=(7, 9, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")

    image = aio.read_image(tmp_path / "a.png")

    assert image.dtype == np.float32 and image.shape == (7, 9, 3)
    np.testing.assert_array_equal(np.rint(image * 255).astype(np.uint8), rgb)
    aio.write_png(tmp_path / "b.png", image)
    np.testing.assert_array_equal(_pil_pixels(tmp_path / "b.png"), rgb)


def test_16bit_grey_png_keeps_full_precision(tmp_path: Path) -> None:
    # Neighbouring 16-bit levels differ by 1/65535, far below one 8-bit step.
    grey = (np.arange(30, dtype=np.uint16) + 30000).reshape(5, 6)
    _write_16bit_png(tmp_path / "g16.png", grey)

    raw = aio.read_grey(tmp_path / "g16.png")
    alpha = aio.read_alpha(tmp_path / "g16.png")
    image = aio.read_image(tmp_path / "g16.png")

    assert raw.dtype == np.uint16
    np.testing.assert_array_equal(raw, grey)
    assert alpha.dtype == np.float32 and len(np.unique(alpha)) == 30
    np.testing.assert_allclose(alpha, grey / 65535.0, atol=1e-7)
    assert image.shape == (5, 6, 3) and len(np.unique(image)) == 30


def test_16bit_rgb_png_keeps_full_precision_and_channel_order(tmp_path: Path) -> None:
    # Pillow would truncate this file to 8 bits; the IHDR check routes it to OpenCV.
    rgb = np.zeros((4, 5, 3), dtype=np.uint16)
    rgb[..., 0] = 40000 + np.arange(20).reshape(4, 5)  # R: 20 levels within one 8-bit step
    rgb[..., 1] = 1000
    rgb[..., 2] = 65535
    _write_16bit_png(tmp_path / "rgb16.png", rgb)

    image = aio.read_image(tmp_path / "rgb16.png")

    np.testing.assert_allclose(image, rgb / 65535.0, atol=1e-7)
    assert len(np.unique(image[..., 0])) == 20
    grey = aio.read_grey(tmp_path / "rgb16.png")
    assert grey.dtype == np.uint16
    expected = np.rint(rgb @ np.array([0.299, 0.587, 0.114]))
    np.testing.assert_allclose(grey, expected, atol=1)


def test_16bit_rgba_png_drops_alpha(tmp_path: Path) -> None:
    rgba = np.full((3, 4, 4), 20000, dtype=np.uint16)
    rgba[..., 0] = 50000
    rgba[..., 3] = 0  # fully transparent: colours must still come back unchanged
    assert cv2.imwrite(str(tmp_path / "rgba16.png"), rgba[..., [2, 1, 0, 3]])

    image = aio.read_image(tmp_path / "rgba16.png")

    np.testing.assert_allclose(image, rgba[..., :3] / 65535.0, atol=1e-7)


def test_jpeg_read_is_close(tmp_path: Path) -> None:
    yy, xx = np.mgrid[0:32, 0:40]
    rgb = np.stack([xx * 6, yy * 7, 255 - xx * 3], axis=-1).astype(np.uint8)  # smooth
    Image.fromarray(rgb).save(tmp_path / "a.jpg", quality=95)

    image = aio.read_image(tmp_path / "a.jpg")

    assert image.shape == (32, 40, 3) and image.dtype == np.float32
    assert np.abs(image - rgb / 255.0).mean() < 0.01
    assert np.abs(image - rgb / 255.0).max() < 0.06


def test_palette_png_decodes_to_colours(tmp_path: Path) -> None:
    index = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    palette_img = Image.fromarray(index, mode="P")
    palette_img.putpalette([255, 0, 0, 0, 255, 0, 10, 20, 30] + [0] * (3 * 253))
    palette_img.save(tmp_path / "p.png")
    with Image.open(tmp_path / "p.png") as stored:
        assert stored.mode == "P"

    image = aio.read_image(tmp_path / "p.png")

    colours = np.array([[255, 0, 0], [0, 255, 0], [10, 20, 30]], dtype=np.float32) / 255
    np.testing.assert_array_equal(image, colours[index])


def test_grey_palette_png_reads_as_grey_levels(tmp_path: Path) -> None:
    # Like the alphamatting.com trimaps: palette indices mapped to grey colours.
    index = np.array([[0, 1, 2, 1]], dtype=np.uint8)
    palette_img = Image.fromarray(index, mode="P")
    palette_img.putpalette([0, 0, 0, 128, 128, 128, 255, 255, 255] + [0] * (3 * 253))
    palette_img.save(tmp_path / "p.png")

    grey = aio.read_grey(tmp_path / "p.png")

    assert grey.dtype == np.uint8
    np.testing.assert_array_equal(grey, [[0, 128, 255, 128]])


def test_grey_png_is_replicated_to_three_channels(tmp_path: Path) -> None:
    grey = _rng().integers(0, 256, size=(6, 5), dtype=np.uint8)
    Image.fromarray(grey, mode="L").save(tmp_path / "g.png")

    image = aio.read_image(tmp_path / "g.png")

    assert image.shape == (6, 5, 3)
    for c in range(3):
        np.testing.assert_array_equal(image[..., c], grey / np.float32(255))
    np.testing.assert_array_equal(aio.read_grey(tmp_path / "g.png"), grey)


def test_rgba_png_drops_alpha_channel(tmp_path: Path) -> None:
    rgba = _rng().integers(0, 256, size=(5, 4, 4), dtype=np.uint8)
    rgba[0, :, 3] = 0  # transparent pixels keep their stored colour
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")

    image = aio.read_image(tmp_path / "a.png")

    assert image.shape == (5, 4, 3)
    np.testing.assert_array_equal(image, rgba[..., :3] / np.float32(255))


def test_read_grey_of_rgb_equal_channels_and_luma(tmp_path: Path) -> None:
    grey = _rng().integers(0, 256, size=(4, 6), dtype=np.uint8)
    Image.fromarray(np.dstack([grey] * 3)).save(tmp_path / "equal.png")
    colour = _rng().integers(0, 256, size=(4, 6, 3), dtype=np.uint8)
    Image.fromarray(colour).save(tmp_path / "colour.png")

    np.testing.assert_array_equal(aio.read_grey(tmp_path / "equal.png"), grey)
    # Same rounding as PIL's convert("L") (ITU-R 601).
    expected = np.asarray(Image.fromarray(colour).convert("L"))
    np.testing.assert_array_equal(aio.read_grey(tmp_path / "colour.png"), expected)


def test_jpeg_exif_orientation_6_is_applied(tmp_path: Path) -> None:
    # Stored 32 rows x 48 columns of 16x16 blocks in six distinct colours; orientation 6 means
    # "rotate 90 degrees clockwise to display", so the displayed picture is 48 x 32.
    colours = np.array(
        [[[255, 0, 0], [0, 255, 0], [0, 0, 255]], [[255, 255, 0], [0, 0, 0], [255, 255, 255]]],
        dtype=np.uint8,
    )
    stored = np.repeat(np.repeat(colours, 16, axis=0), 16, axis=1)  # (32, 48, 3)
    Image.fromarray(stored).save(
        tmp_path / "rot.jpg", quality=95, subsampling=0, exif=_exif_bytes(6)
    )

    image = aio.read_image(tmp_path / "rot.jpg")

    assert image.shape == (48, 32, 3)
    displayed = np.rot90(stored, k=-1) / 255.0  # clockwise
    # The stored top-left (red) block is now at the top-right.
    assert np.abs(image[:16, 16:] - [1, 0, 0]).max() < 0.1
    assert np.abs(image - displayed).mean() < 0.02


@pytest.mark.parametrize("orientation", range(1, 9))
def test_16bit_png_orientation_matches_pillow(tmp_path: Path, orientation: int) -> None:
    # 16-bit PNGs bypass Pillow, so their eXIf tag is applied by our own code: it must agree
    # with Pillow's exif_transpose (used for the same picture saved as 8-bit).
    grey8 = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(grey8, mode="L").save(tmp_path / "a8.png", exif=_exif_bytes(orientation))
    ok, png16 = cv2.imencode(".png", grey8.astype(np.uint16) * 257)
    assert ok
    (tmp_path / "a16.png").write_bytes(_add_png_exif(png16.tobytes(), _exif_bytes(orientation)))

    via_pillow = aio.read_grey(tmp_path / "a8.png")
    via_opencv = aio.read_grey(tmp_path / "a16.png")

    assert via_opencv.dtype == np.uint16
    np.testing.assert_array_equal(via_opencv // 257, via_pillow)
    if orientation >= 5:  # the 90-degree family swaps height and width
        assert via_pillow.shape == (4, 3)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nothere\.png: no such file"):
        aio.read_image(tmp_path / "nothere.png")
    with pytest.raises(InputError, match="no such file"):
        aio.read_alpha(tmp_path / "nothere.png")


@pytest.mark.parametrize(
    "content",
    [b"this is not an image", b"", b"\x89PNG\r\n\x1a\n" + b"\0" * 40],
    ids=["text", "empty", "png-signature-only"],
)
def test_garbage_bytes_give_input_error_naming_the_file(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "photo.png").write_bytes(content)

    with pytest.raises(InputError, match=r"photo\.png: cannot decode image") as info:
        aio.read_image(tmp_path / "photo.png")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("bits", [8, 16])
def test_truncated_png_gives_input_error(tmp_path: Path, bits: int) -> None:
    dtype = np.uint8 if bits == 8 else np.uint16
    noise = _rng().integers(0, 2**bits, size=(64, 64, 3)).astype(dtype)
    ok, png = cv2.imencode(".png", noise)
    assert ok
    (tmp_path / "cut.png").write_bytes(png.tobytes()[: len(png) // 2])

    with pytest.raises(InputError, match=r"cut\.png: cannot decode image"):
        aio.read_image(tmp_path / "cut.png")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder"):
        aio.read_image(tmp_path)


# ------------------------------------------------------------------------------------ writing


def test_write_png_leaves_no_temp_file(tmp_path: Path) -> None:
    dest = tmp_path / "new" / "sub" / "alpha.png"  # parent folders are created

    aio.write_png(dest, np.zeros((3, 3), dtype=np.float32))

    assert sorted(p.name for p in dest.parent.iterdir()) == ["alpha.png"]


def test_write_png_bad_array_creates_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "out.png"

    with pytest.raises(ValueError, match="shape"):
        aio.write_png(dest, np.zeros((3, 3, 5), dtype=np.float32))

    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_write_png_failure_after_temp_removes_it_and_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "out.png"
    aio.write_png(dest, np.ones((2, 2), dtype=np.float32))
    before = dest.read_bytes()

    def failing_replace(src: object, dst: object) -> None:
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(aio.os, "replace", failing_replace)
    with pytest.raises(OSError, match="simulated"):
        aio.write_png(dest, np.zeros((2, 2), dtype=np.float32))

    assert dest.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_write_png_float_rounds_to_nearest_8bit_level(tmp_path: Path) -> None:
    # float rounding just outside [0, 1] (within 0.001) is clipped
    values = np.array([[0.0, 0.4 / 255, 0.6 / 255, 0.5, 254.6 / 255, 1.0009, -0.0009]],
                      np.float32)

    aio.write_png(tmp_path / "a.png", values)

    stored = _pil_pixels(tmp_path / "a.png")
    np.testing.assert_array_equal(stored, [[0, 0, 1, 128, 255, 255, 0]])


def test_write_png_rgb_and_rgba_channel_order(tmp_path: Path) -> None:
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    rgb[..., 0] = 200  # red
    rgba = np.dstack([rgb, np.full((2, 2), 77, np.uint8)])

    aio.write_png(tmp_path / "rgb.png", rgb)
    aio.write_png(tmp_path / "rgba.png", rgba)

    np.testing.assert_array_equal(_pil_pixels(tmp_path / "rgb.png"), rgb)
    np.testing.assert_array_equal(_pil_pixels(tmp_path / "rgba.png"), rgba)


def test_write_png_16bit_round_trip(tmp_path: Path) -> None:
    alpha = _rng().random((9, 11)).astype(np.float32)
    raw = _rng().integers(0, 65536, size=(5, 4, 3), dtype=np.uint16)

    aio.write_png(tmp_path / "alpha16.png", alpha, bit_depth=16)
    aio.write_png(tmp_path / "raw16.png", raw, bit_depth=16)

    back = aio.read_alpha(tmp_path / "alpha16.png")
    assert np.abs(back - alpha).max() <= 0.5 / 65535 + 1e-7
    assert aio.read_grey(tmp_path / "alpha16.png").dtype == np.uint16
    np.testing.assert_array_equal(np.rint(aio.read_image(tmp_path / "raw16.png") * 65535), raw)


def test_write_png_converts_integer_depths(tmp_path: Path) -> None:
    aio.write_png(tmp_path / "up.png", np.array([[0, 1, 255]], np.uint8), bit_depth=16)
    aio.write_png(tmp_path / "down.png", np.array([[0, 257, 65535]], np.uint16), bit_depth=8)

    np.testing.assert_array_equal(aio.read_grey(tmp_path / "up.png"), [[0, 257, 65535]])
    np.testing.assert_array_equal(aio.read_grey(tmp_path / "down.png"), [[0, 1, 255]])


@pytest.mark.parametrize(
    ("array", "kwargs"),
    [
        (np.zeros((2, 2), np.int32), {}),
        (np.array([[np.nan, 0.0]]), {}),
        (np.zeros((2, 2)), {"bit_depth": 12}),
        (np.zeros((2, 2, 2)), {}),
        (np.array([[0.5, 1.2]]), {}),
        (np.array([[-0.3, 0.5]]), {}),
        (np.full((2, 2, 3), 200.0), {"bit_depth": 16}),
    ],
    ids=["int32", "nan", "bit-depth-12", "two-channels", "above-1", "below-0", "0..255-floats"],
)
def test_write_png_refuses_bad_arrays(tmp_path: Path, array: np.ndarray, kwargs: dict) -> None:
    # a float image of 0..255 levels would otherwise be written all white without a word
    with pytest.raises(ValueError, match="float values must be in|NaN|bit_depth|expected"):
        aio.write_png(tmp_path / "x.png", array, **kwargs)
    assert not (tmp_path / "x.png").exists()


def test_write_png_refuses_non_png_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.png"):
        aio.write_png(tmp_path / "x.jpg", np.zeros((2, 2)))


# ------------------------------------------------------------------------------------ folders


def test_list_images_finds_stems(tmp_path: Path) -> None:
    for name in ["b.JPG", "a.png", "c.tiff", "notes.txt", ".hidden.png", "._a2.jpg"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()

    found = aio.list_images(tmp_path)

    assert list(found) == ["a", "b", "c"]
    assert found["b"] == tmp_path / "b.JPG"


def test_list_images_refuses_duplicated_stems(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_bytes(b"x")
    (tmp_path / "x.jpg").write_bytes(b"x")

    with pytest.raises(InputError, match=r"x\.jpg: shares the stem .x. with x\.png"):
        aio.list_images(tmp_path)


def test_list_images_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope: no such folder"):
        aio.list_images(tmp_path / "nope")
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(InputError, match="not a folder"):
        aio.list_images(tmp_path / "file.png")


def test_a_header_beyond_the_pixel_limit_is_one_error_without_pil_s_warning(
        tmp_path: Path) -> None:
    """A BMP header declaring 9500x9500 (PIL warns above 89.5 M pixels): one InputError,
    no DecompressionBombWarning (the CLI would print it as an extra line)."""
    import struct
    import warnings

    width = height = 9500
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    header = b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + info
    path = tmp_path / "huge.bmp"
    path.write_bytes(header)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        with pytest.raises(aio.InputError, match="pixels, more than"):
            aio.read_image(path)
