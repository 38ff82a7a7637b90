"""alphagan.convert: every natural form means the same thing, ambiguous forms are refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from alphagan.convert import to_alpha, to_background, to_color, to_image, to_mask, to_trimap
from alphagan.errors import InputError
from alphagan.examples import make_example
from alphagan.io import write_png
from alphagan.trimap import trimap_to_uint8


@pytest.fixture(scope="module")
def scene():
    return make_example(40, 56, seed=5)


def as_uint8(image: np.ndarray) -> np.ndarray:
    return np.rint(image * 255).astype(np.uint8)


# --- images ------------------------------------------------------------------------------


def test_every_image_form_gives_the_same_float_image(tmp_path, scene) -> None:
    rgb8 = as_uint8(scene.image)
    expected = rgb8.astype(np.float32) / 255  # the 8-bit picture, exactly
    write_png(tmp_path / "a.png", rgb8)
    rgba8 = np.concatenate([rgb8, np.full(rgb8.shape[:2] + (1,), 7, np.uint8)], axis=2)
    forms = {
        "path": tmp_path / "a.png",
        "str path": str(tmp_path / "a.png"),
        "uint8": rgb8,
        "uint16": rgb8.astype(np.uint16) * 257,
        "float32": expected,
        "float64 (pymatting)": rgb8 / 255.0,
        "PIL RGB": Image.fromarray(rgb8),
        "PIL RGBA": Image.fromarray(rgba8),  # alpha dropped, not composited
        "RGBA array": rgba8,
        "PIL P": Image.fromarray(rgb8).quantize(colors=256, method=Image.Quantize.MAXCOVERAGE),
    }
    for name, form in forms.items():
        got = to_image(form)
        assert got.dtype == np.float32 and got.shape == rgb8.shape, name
        tolerance = 0.2 if name == "PIL P" else 1e-6  # a palette of 256 colours is lossy
        assert np.abs(got - expected).max() <= tolerance, name


def test_grey_images_become_three_equal_channels() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    for form in (grey, grey[..., None], Image.fromarray(grey)):
        got = to_image(form)
        assert got.shape == (3, 4, 3)
        assert np.array_equal(got[..., 0], grey / np.float32(255)) and np.array_equal(
            got[..., 0], got[..., 2]
        )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.full((4, 5, 3), 200.0), r"float values must be in \[0, 1\], got 200..200 \(divide"),
        (np.full((4, 5, 3), -0.5), r"got -0.5..-0.5"),
        (np.where(np.eye(4, 5)[..., None] > 0, np.nan, 0.5) * np.ones(3), r"holds 12 NaN or infinite value\(s\)"),
        (np.zeros((4, 5, 3), np.int64), r"int64 array .* expected uint8"),
        (np.zeros((4, 5, 3), bool), r"bool array .* expected uint8"),
        (np.zeros((4, 5, 2), np.uint8), r"shape \(4, 5, 2\).*expected an image HxWx3"),
        (np.zeros((3, 4, 5), np.uint8), r"shape \(3, 4, 5\)"),
        (np.zeros((0, 5, 3), np.uint8), r"empty|shape \(0, 5, 3\)"),
    ],
)
def test_ambiguous_images_are_refused(value, message) -> None:
    with pytest.raises(ValueError, match=message):
        to_image(value)


def test_float_overshoot_by_rounding_is_clipped_not_refused() -> None:
    image = np.full((2, 2, 3), 1.0 + 1e-7, np.float32)
    assert to_image(image).max() == 1.0
    # what cubic / Lanczos resampling of a photo gives (down to -0.02, up to 1.13 measured)
    image = np.array([[[-0.05, 0.5, 1.13]]], np.float32)
    np.testing.assert_array_equal(to_image(image), [[[0.0, 0.5, 1.0]]])
    with pytest.raises(ValueError, match=r"float values must be in \[0, 1\], got 0..1.2"):
        to_image(np.array([[[0.0, 0.5, 1.2]]], np.float32))


def test_8bit_values_in_a_16bit_array_are_refused(tmp_path) -> None:
    """uint16 (or PIL mode I) holding 0..255 would be read as nearly black: refused, for
    images, alphas, masks and trimaps alike; true 16-bit data and an all-zero array are not."""
    from alphagan.io import write_png

    photo = (np.arange(48, dtype=np.uint8).reshape(4, 4, 3) * 5)
    for form in (photo.astype(np.uint16), Image.fromarray(photo[..., 0]).convert("I")):
        with pytest.raises(ValueError, match="8-bit values stored as 16 bits"):
            to_image(form)
    from alphagan.convert import alpha_255

    for convert in (to_alpha, alpha_255):
        with pytest.raises(ValueError, match="8-bit values stored as 16 bits"):
            convert(photo[..., 0].astype(np.uint16))
    with pytest.raises(ValueError, match="8-bit values stored as 16 bits"):
        to_mask(np.array([[0, 255], [128, 0]], np.uint16))
    trimap = np.array([[0, 128], [255, 128]], np.uint8)
    with pytest.raises(ValueError, match="8-bit values stored as 16 bits"):
        to_trimap(trimap.astype(np.uint16))
    np.testing.assert_array_equal(to_trimap(trimap.astype(np.uint16) * 257), [[0, .5], [1, .5]])
    np.testing.assert_allclose(to_image(photo.astype(np.uint16) * 257), photo / 255.0, atol=1e-7)
    assert to_image(np.zeros((2, 2, 3), np.uint16)).max() == 0.0
    # a 16-bit file holding 8-bit values too (an 8-bit array saved at 16 bits), whatever it is
    from alphagan.trimap import read_trimap

    write_png(tmp_path / "dark.png", photo.astype(np.uint16), bit_depth=16)
    write_png(tmp_path / "tri16.png", trimap.astype(np.uint16), bit_depth=16)
    for read, path in ((to_image, "dark.png"), (read_trimap, "tri16.png"),
                       (to_mask, "tri16.png")):
        with pytest.raises(ValueError, match=f"{path}: a 16-bit file whose values are all "
                                             "within 0..2[0-9][0-9]: 8-bit values.*re-save"):
            read(tmp_path / path)
    write_png(tmp_path / "full.png", photo.astype(np.uint16) * 257, bit_depth=16)
    np.testing.assert_allclose(to_image(tmp_path / "full.png"), photo / 255.0, atol=1e-7)


# --- trimaps -----------------------------------------------------------------------------


def test_every_trimap_form_gives_the_same_levels(tmp_path, scene) -> None:
    t8 = trimap_to_uint8(scene.trimap)
    write_png(tmp_path / "t.png", t8)
    palette = Image.fromarray(t8).convert("P")  # palette indices are not grey levels
    palette.putpalette([0, 0, 0, 128, 128, 128, 255, 255, 255] + [0] * 759)
    indices = np.select([t8 == 0, t8 == 128, t8 == 255], [0, 1, 2]).astype(np.uint8)
    palette = Image.fromarray(indices, mode="P")
    palette.putpalette([0, 0, 0, 128, 128, 128, 255, 255, 255] + [0] * 759)
    forms = {
        "path": tmp_path / "t.png",
        "uint8 0/128/255": t8,
        "cv2.imread colour (HxWx3 grey)": np.repeat(t8[..., None], 3, axis=2),
        "uint16": t8.astype(np.uint16) * 257,
        "float {0, 0.5, 1}": scene.trimap,
        "float 128/255 (pymatting's loader)": t8 / 255.0,
        "PIL L": Image.fromarray(t8),
        "PIL P (indices 0/1/2)": palette,
        "int64 list-made": t8.astype(np.int64),
    }
    for name, form in forms.items():
        got = to_trimap(form)
        assert got.dtype == np.float32, name
        assert np.array_equal(got, scene.trimap), name


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.array([[0, 1, 2], [2, 1, 0]], np.uint8), r"labels 0/1/2 are ambiguous"),
        (np.array([[0, 1, 1], [1, 1, 0]], np.uint8), r"labels 0/1/2 are ambiguous"),
        (np.array([[0.0, 128.0, 255.0]]), r"float values must be in \[0, 1\]"),
        (np.array([[0.0, np.nan, 1.0]]), r"NaN"),
        (np.array([[False, True]]), r"bool array; a trimap has three levels"),
        (np.dstack([np.full((2, 3), 128, np.uint8), np.zeros((2, 3), np.uint8),
                    np.zeros((2, 3), np.uint8)]), r"got a colour"),
        (np.array([[0, 255, 255]], np.uint8), r"no unknown"),
        (np.linspace(0, 1, 100).reshape(10, 10), r"not a trimap"),
    ],
)
def test_ambiguous_trimaps_are_refused(value, message) -> None:
    with pytest.raises(ValueError, match=message):
        to_trimap(value)


# --- alphas and masks --------------------------------------------------------------------


def test_alpha_forms_and_refusals(scene) -> None:
    a8 = as_uint8(scene.alpha)
    expected = a8 / np.float32(255)
    for form in (a8, a8[..., None], a8.astype(np.uint16) * 257, expected.astype(np.float64),
                 Image.fromarray(a8)):
        assert np.abs(to_alpha(form) - expected).max() < 1e-6
    with pytest.raises(ValueError, match=r"expected an alpha matte HxW .* rgba\[\.\.\., 3\]"):
        to_alpha(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"mode RGBA; .*getchannel"):
        to_alpha(Image.new("RGBA", (4, 4)))
    with pytest.raises(ValueError, match=r"got 0..255"):
        to_alpha(a8.astype(np.float32))


def test_alpha_saved_as_grey_rgb_is_read_like_the_file(tmp_path, scene) -> None:
    """Equal R, G, B is a grey picture (files of it are read as grey); colour is refused."""
    a8 = as_uint8(scene.alpha)
    grey_rgb = np.repeat(a8[..., None], 3, axis=2)
    write_png(tmp_path / "grey_rgb.png", grey_rgb)
    expected = to_alpha(tmp_path / "grey_rgb.png")
    assert np.abs(expected - a8 / np.float32(255)).max() < 1e-6
    for form in (grey_rgb, Image.fromarray(grey_rgb)):
        np.testing.assert_array_equal(to_alpha(form), expected)
    coloured = grey_rgb.copy()
    coloured[..., 0] = 255 - coloured[..., 0]
    with pytest.raises(ValueError, match=r"alpha: got a colour .*expected an alpha matte"):
        to_alpha(coloured)


def test_mask_reads_the_alpha_channel_of_rgba(tmp_path, scene) -> None:
    a8 = as_uint8(scene.alpha)
    rgba = np.dstack([as_uint8(scene.image), a8])  # what rembg writes: colours + mask
    write_png(tmp_path / "cut.png", rgba)
    for form in (tmp_path / "cut.png", rgba, Image.fromarray(rgba), a8, a8 > 127):
        got = to_mask(form)
        reference = (a8 > 127) if form is not None and getattr(form, "dtype", None) == bool else a8 / 255
        assert np.abs(got - reference).max() < 1e-6
    # an RGBA file whose alpha is opaque everywhere: the grey levels are the mask
    opaque = np.dstack([np.repeat(a8[..., None], 3, axis=2), np.full_like(a8, 255)])
    write_png(tmp_path / "opaque.png", opaque)
    assert np.abs(to_mask(tmp_path / "opaque.png") - a8 / 255).max() < 1e-6


def test_colour_photo_is_not_a_mask(tmp_path, scene) -> None:
    """Its brightness would silently become foreground: files, PIL images and arrays refuse."""
    rgb = as_uint8(scene.image)
    write_png(tmp_path / "photo.png", rgb)
    with pytest.raises(ValueError, match=r"photo.png: is a colour image without transparency"):
        to_mask(tmp_path / "photo.png")
    with pytest.raises(ValueError, match=r"is a colour image without transparency"):
        to_mask(Image.fromarray(rgb))
    with pytest.raises(ValueError, match=r"mask: got a colour"):
        to_mask(rgb)


def test_zero_one_integer_mask_is_refused() -> None:
    with pytest.raises(ValueError, match=r"0/1 uint8 mask is ambiguous"):
        to_mask(np.eye(4, dtype=np.uint8))
    assert np.array_equal(to_mask(np.eye(4, dtype=bool)), np.eye(4, dtype=np.float32))


# --- colours -----------------------------------------------------------------------------


def test_colours_by_name_hex_and_tuple() -> None:
    white = (1.0, 1.0, 1.0)
    for form in ("white", "WHITE", "#fff", "#ffffff", "255,255,255", "rgb(255,255,255)",
                 (255, 255, 255), (1.0, 1.0, 1.0), np.array([255, 255, 255], np.uint8)):
        assert to_color(form) == white, form
    assert to_color("skyblue") == (135 / 255, 206 / 255, 235 / 255)
    assert to_color((0, 128, 255)) == (0.0, 128 / 255, 1.0)
    assert to_color((0, 0, 0)) == (0.0, 0.0, 0.0) == to_color("0,0,0")  # black on either scale
    assert to_color((2, 1, 1)) == (2 / 255, 1 / 255, 1 / 255)  # not 0/1 only: 0..255
    for bad, message in (((1.5, 0.0, 0.0), r"float colour values must be in \[0, 1\]"),
                         ((0, 0, 0, 255), r"expected 3 numbers"),
                         ((300, 0, 0), r"0..255"),
                         ((1, 1, 1), r"ambiguous"), ("1,0,0", r"ambiguous"),
                         (np.array([0, 1, 0], np.uint8), r"ambiguous"),
                         ("not-a-colour", r"not a colour")):
        with pytest.raises(ValueError, match=message):
            to_color(bad)


def test_background_is_a_colour_or_a_picture(tmp_path) -> None:
    write_png(tmp_path / "bg.png", np.zeros((3, 3, 3), np.uint8))
    assert to_background("red") == (1.0, 0.0, 0.0)
    assert to_background(str(tmp_path / "bg.png")).shape == (3, 3, 3)
    assert to_background(np.zeros((3, 3, 3), np.uint8)).shape == (3, 3, 3)
