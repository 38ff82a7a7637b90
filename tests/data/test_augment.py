"""Tests for alphagan.data.augment and the strong recipe of CompositionDataset."""

from __future__ import annotations

import colorsys
import dataclasses
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from alphagan.data import AugmentConfig, CompositionDataset, ForegroundItem
from alphagan.data.augment import (
    add_noise,
    affine_matrix,
    degrade_input,
    jitter_colour,
    merge_foregrounds,
    warp_foreground,
)
from alphagan.io import write_png

from .test_composition import _disc_alpha, _write_backgrounds

NO_DEGRADATION = dict(noise_prob=0.0, blur_prob=0.0, jpeg_prob=0.0)
IDENTITY = np.eye(2)


def _ramp(height: int, width: int, channels: int = 3) -> np.ndarray:
    """uint8 image whose every pixel differs from its neighbours (catches off-by-one shifts)."""
    rng = np.random.default_rng(5)
    return rng.integers(0, 256, (height, width, channels), dtype=np.uint8)


# ---------------------------------------------------------------------------------------------
# Geometry


def test_identity_warp_is_the_plain_crop() -> None:
    fg = _ramp(50, 60)
    alpha = _ramp(50, 60, 1)[..., 0]
    # A 20 x 20 window with top-left (10, 30) has its centre at (19.5, 39.5).
    out_fg, out_alpha = warp_foreground(fg, alpha, (19.5, 39.5), 20, IDENTITY, 20)
    np.testing.assert_array_equal(out_fg, fg[10:30, 30:50])
    np.testing.assert_array_equal(out_alpha, alpha[10:30, 30:50])


def test_quarter_turn_and_mirror_are_exact() -> None:
    fg = _ramp(40, 40)
    alpha = fg[..., 1].copy()
    crop = (slice(5, 29), slice(8, 32))  # 24 x 24, centre (16.5, 19.5)
    quarter = np.array([[0.0, -1.0], [1.0, 0.0]])  # x' = -y, y' = x (image axes: y down)
    out_fg, out_alpha = warp_foreground(fg, alpha, (16.5, 19.5), 24, quarter, 24)
    np.testing.assert_array_equal(out_fg, np.rot90(fg[crop], -1))
    np.testing.assert_array_equal(out_alpha, np.rot90(alpha[crop], -1))
    mirror = np.diag([-1.0, 1.0])
    out_fg, out_alpha = warp_foreground(fg, alpha, (16.5, 19.5), 24, mirror, 24)
    np.testing.assert_array_equal(out_fg, fg[crop][:, ::-1])
    np.testing.assert_array_equal(out_alpha, alpha[crop][:, ::-1])


def test_large_windows_are_area_averaged() -> None:
    fg = _ramp(64, 64).astype(np.float32) / 255
    alpha = fg[..., 0].copy()
    # A 32 x 32 window at (8, 16) shrunk to 16 x 16 is the 2 x 2 block mean.
    out_fg, out_alpha = warp_foreground(fg, alpha, (23.5, 31.5), 32, IDENTITY, 16)
    window = fg[8:40, 16:48]
    expected = window.reshape(16, 2, 16, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(out_fg, expected, atol=1e-6)
    np.testing.assert_allclose(out_alpha, expected[..., 0], atol=1e-6)


def test_random_warps_move_colour_and_alpha_together() -> None:
    # The colour's red channel is the alpha: any misalignment would separate them.
    alpha = (_disc_alpha(120, 140, 60, 70, 40, 10) * 255).round().astype(np.uint8)
    fg = np.stack([alpha, _ramp(120, 140, 1)[..., 0], np.full_like(alpha, 7)], axis=-1)
    config = AugmentConfig(rotation=45, scale=(0.5, 2.0), shear=20)
    rng = np.random.default_rng(0)
    for _ in range(10):
        linear = affine_matrix(rng, config, flip=True)
        out_fg, out_alpha = warp_foreground(fg, alpha, (60.0, 70.0), 90, linear, 48)
        inside = out_alpha > 0  # outside the picture alpha is 0 and fg repeats its edge
        np.testing.assert_array_equal(out_fg[..., 0][inside], out_alpha[inside])


def test_outside_the_picture_alpha_is_zero() -> None:
    alpha = np.full((30, 30), 255, dtype=np.uint8)
    fg = np.full((30, 30, 3), 200, dtype=np.uint8)
    # Zoomed out 2x around the centre: the picture covers the middle half of the output.
    _, out_alpha = warp_foreground(fg, alpha, (14.5, 14.5), 30, 0.5 * IDENTITY, 30)
    assert out_alpha[0, 0] == 0 and out_alpha[-1, -1] == 0
    assert out_alpha[15, 15] == 255


def test_affine_matrix_ranges() -> None:
    rng = np.random.default_rng(1)
    none = AugmentConfig(rotation=0, shear=0, scale=(1.0, 1.0))
    np.testing.assert_array_equal(affine_matrix(rng, none, flip=False), IDENTITY)
    scaled = AugmentConfig(rotation=0, shear=0, scale=(2.0, 2.0))
    dets = {round(float(np.linalg.det(affine_matrix(rng, scaled, flip=True))), 6)
            for _ in range(40)}
    assert dets == {4.0, -4.0}  # scale 2 in both axes, mirrored about half the time


# ---------------------------------------------------------------------------------------------
# Colour, merging, noise


def test_jitter_colour_matches_colorsys() -> None:
    config = AugmentConfig(hue=90.0, saturation=0.5, value=0.4, gamma=(0.6, 1.6))
    colours = np.random.default_rng(3).random((6, 7, 3), dtype=np.float32)
    for seed in range(5):
        # The four draws, in the order the docstring gives: hue, saturation, value, gamma.
        draws = np.random.default_rng(seed)
        shift = draws.uniform(-90.0, 90.0)
        sat, val = draws.uniform(0.5, 1.5), draws.uniform(0.6, 1.4)
        gamma = math.exp(draws.uniform(math.log(0.6), math.log(1.6)))
        out = jitter_colour(colours, np.random.default_rng(seed), config)
        for (y, x), colour in zip(np.ndindex(6, 7), colours.reshape(-1, 3)):
            h, s, v = colorsys.rgb_to_hsv(*map(float, colour))
            rgb = colorsys.hsv_to_rgb((h + shift / 360.0) % 1.0, min(s * sat, 1.0),
                                      min(v * val, 1.0))
            expected = np.clip(rgb, 0.0, 1.0) ** gamma
            np.testing.assert_allclose(out[y, x], expected, atol=1e-4)


def test_jitter_colour_identity_and_gamma() -> None:
    rng = np.random.default_rng(0)
    grey = np.full((3, 3, 3), 0.5, np.float32)
    square = AugmentConfig(hue=0, saturation=0, value=0, gamma=(2.0, 2.0))
    np.testing.assert_allclose(jitter_colour(grey, rng, square), 0.25, atol=1e-5)
    colours = np.random.default_rng(3).random((8, 8, 3), dtype=np.float32)
    identity = AugmentConfig(hue=0, saturation=0, value=0, gamma=(1.0, 1.0))
    np.testing.assert_allclose(jitter_colour(colours, rng, identity), colours, atol=1e-5)


def test_merge_foregrounds_formula_and_composite() -> None:
    fg1 = np.array([[[1.0, 0.0, 0.0]]], np.float32)
    fg2 = np.array([[[0.0, 0.0, 1.0]]], np.float32)
    half = np.array([[0.5]], np.float32)
    fg, alpha = merge_foregrounds(fg1, half, fg2, half)
    assert alpha[0, 0] == pytest.approx(0.75)  # 1 - 0.5 * 0.5
    # (0.5 * F1 + 0.5 * 0.5 * F2) / 0.75
    np.testing.assert_allclose(fg[0, 0], [2 / 3, 0.0, 1 / 3], atol=1e-6)

    rng = np.random.default_rng(0)
    shape = (16, 16)
    f1, f2, bg = (rng.random((*shape, 3), dtype=np.float32) for _ in range(3))
    a1, a2 = (rng.random(shape, dtype=np.float32) for _ in range(2))
    a1[:4] = 0.0
    a2[:2] = 0.0  # rows 0-1: both zero -> a = 0 there
    a1[-3:] = 1.0
    fg, alpha = merge_foregrounds(f1, a1, f2, a2)
    over = a1[..., None] * f1 + (1 - a1[..., None]) * (a2[..., None] * f2
                                                       + (1 - a2[..., None]) * bg)
    np.testing.assert_allclose(alpha[..., None] * fg + (1 - alpha[..., None]) * bg, over,
                               atol=1e-5)
    np.testing.assert_array_equal(alpha[:2], 0.0)
    np.testing.assert_array_equal(fg[:2], f1[:2])  # uncovered: the front colours
    np.testing.assert_array_equal(alpha[-3:], 1.0)
    np.testing.assert_allclose(fg[-3:], f1[-3:], atol=1e-6)  # opaque front: F1
    assert fg.dtype == alpha.dtype == np.float32 and 0 <= fg.min() and fg.max() <= 1


def test_noise_is_one_field_on_fg_and_bg() -> None:
    rng = np.random.default_rng(0)
    fg = rng.uniform(0.2, 0.8, (10, 10, 3)).astype(np.float32)
    bg = rng.uniform(0.2, 0.8, (10, 10, 3)).astype(np.float32)
    before_fg, before_bg = fg.copy(), bg.copy()
    add_noise(fg, bg, 0.02, rng)  # 10 sigma from the clip bounds: nothing is clipped
    np.testing.assert_allclose(fg - before_fg, bg - before_bg, atol=1e-6)
    assert 0.005 < float(np.std(fg - before_fg)) < 0.05


def test_degrade_input_blur_and_jpeg() -> None:
    rng = np.random.default_rng(0)
    image = np.zeros((32, 32, 3), np.float32)
    image[..., 0] = 0.9  # red
    image[8:24, 8:24] = [0.1, 0.2, 0.9]  # a blue square
    none = AugmentConfig(blur_prob=0.0, jpeg_prob=0.0)
    np.testing.assert_array_equal(degrade_input(image, rng, none), image)
    jpeg = AugmentConfig(blur_prob=0.0, jpeg_prob=1.0, jpeg_quality=(90, 90))
    out = degrade_input(image, rng, jpeg)
    # Channel order kept through OpenCV's BGR encoder: red stays red, blue stays blue.
    np.testing.assert_allclose(out[2, 2], image[2, 2], atol=0.03)
    np.testing.assert_allclose(out[16, 16], image[16, 16], atol=0.03)
    assert out.dtype == np.float32 and not np.array_equal(out, image)
    blur = AugmentConfig(blur_prob=1.0, blur_sigma=(1.0, 1.0), jpeg_prob=0.0)
    expected = cv2.GaussianBlur(image, (0, 0), 1.0, borderType=cv2.BORDER_REFLECT)
    np.testing.assert_allclose(degrade_input(image, rng, blur), expected, atol=1e-6)


@pytest.mark.parametrize("field, value", [
    ("merge_prob", 1.5), ("rotation", -1.0), ("scale", (1.2, 0.8)), ("bg_scale", (0.5, 1.5)),
    ("trimap_erode", (0, 5)), ("jpeg_quality", (10, 101)), ("saturation", 2.0),
])
def test_bad_ranges_are_rejected(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        AugmentConfig(**{field: value})


# ---------------------------------------------------------------------------------------------
# The strong recipe in CompositionDataset


@pytest.fixture(scope="module")
def red_is_alpha(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[ForegroundItem],
                                                                  list[Path]]:
    """Foregrounds whose red channel equals their (8-bit) alpha; two backgrounds."""
    root = tmp_path_factory.mktemp("strong")
    items = []
    for i, (h, w, cy, cx, r, soft) in enumerate([(200, 260, 100, 130, 60, 12),
                                                 (180, 150, 20, 20, 50, 20)]):
        alpha = np.rint(_disc_alpha(h, w, cy, cx, r, soft) * 255) / 255
        rng = np.random.default_rng(i)
        fg = np.stack([alpha, rng.random((h, w)), rng.random((h, w))], -1).astype(np.float32)
        write_png(root / "fg" / f"f{i}.png", fg)
        write_png(root / "alpha" / f"f{i}.png", alpha.astype(np.float32))
        items.append(ForegroundItem(name=f"f{i}", alpha=root / "alpha" / f"f{i}.png",
                                    fg=root / "fg" / f"f{i}.png"))
    return items, _write_backgrounds(root, [(90, 120), (300, 200)])


def _strong(data, **augmentation) -> CompositionDataset:
    items, backgrounds = data
    return CompositionDataset(items, backgrounds, crop_size=48, crop_choices=(48, 96, 120),
                              length=16, augment="strong",
                              augmentation=AugmentConfig(**augmentation))


def _numpy(sample: dict) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in sample.items()}


def test_strong_samples_shapes_and_exact_composite(red_is_alpha) -> None:
    # merging always, noise always; no blur / JPEG: the image must be the exact composite
    dataset = _strong(red_is_alpha, merge_prob=1.0, noise_prob=1.0, blur_prob=0.0, jpeg_prob=0.0)
    for index in range(len(dataset)):
        s = _numpy(dataset[index])
        assert s["image"].shape == s["fg"].shape == s["bg"].shape == (3, 48, 48)
        assert s["alpha"].shape == s["trimap"].shape == (1, 48, 48)
        for key, value in s.items():
            assert value.dtype == np.float32 and 0 <= value.min() and value.max() <= 1, key
        composite = s["alpha"] * s["fg"] + (1 - s["alpha"]) * s["bg"]
        np.testing.assert_allclose(s["image"], composite, atol=1e-6)
        assert set(np.unique(s["trimap"])) <= {0.0, 0.5, 1.0}
        soft = (s["alpha"] > 0) & (s["alpha"] < 1)
        assert np.all(s["trimap"][soft] == 0.5)  # every soft pixel is unknown
        assert np.all(s["alpha"][s["trimap"] == 1.0] == 1.0)
        assert np.all(s["alpha"][s["trimap"] == 0.0] == 0.0)


def test_strong_samples_keep_colour_and_alpha_aligned(red_is_alpha) -> None:
    # Foreground 0 (even indices) lies inside its picture: no picture edge reaches the crop.
    # (Where a matte touches its picture's edge, a warp that uncovers the outside cuts it
    # there: alpha falls to 0 while the colour repeats the edge; that is still consistent.)
    dataset = _strong(red_is_alpha, merge_prob=0.0, jitter_prob=0.0, **NO_DEGRADATION)
    for index in range(0, len(dataset), 2):
        s = _numpy(dataset[index])
        inside = s["alpha"][0] > 0
        np.testing.assert_allclose(s["fg"][0][inside], s["alpha"][0][inside], atol=1e-6)


def test_degradations_touch_only_the_input_image(red_is_alpha) -> None:
    clean = _strong(red_is_alpha, blur_prob=0.0, jpeg_prob=0.0)
    degraded = _strong(red_is_alpha, blur_prob=1.0, jpeg_prob=1.0)
    for index in range(4):
        a, b = _numpy(clean[index]), _numpy(degraded[index])
        for key in ("fg", "bg", "alpha", "trimap"):
            np.testing.assert_array_equal(a[key], b[key])
        assert not np.array_equal(a["image"], b["image"])
        assert float(np.abs(a["image"] - b["image"]).mean()) < 0.1  # light, not a new picture


def test_strong_samples_are_deterministic_and_vary(red_is_alpha) -> None:
    first, second = _strong(red_is_alpha), _strong(red_is_alpha)
    for index in (0, 5):
        a, b = _numpy(first[index]), _numpy(second[index])
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    first.set_epoch(1)
    assert not np.array_equal(first[0]["alpha"].numpy(), second[0]["alpha"].numpy())


def test_partners_choose_the_second_foreground(red_is_alpha) -> None:
    items, backgrounds = red_is_alpha
    with pytest.raises(ValueError, match="partners"):
        CompositionDataset(items, backgrounds, augment="strong", partners=[2])
    with pytest.raises(ValueError, match="augment"):
        CompositionDataset(items, backgrounds, augment="heavy")
    # Merging foreground 0 with itself only vs with foreground 1 only: different alphas.
    options = dict(crop_size=48, crop_choices=(96,), length=4, augment="strong",
                   augmentation=AugmentConfig(merge_prob=1.0, **NO_DEGRADATION))
    self_only = CompositionDataset(items, backgrounds, partners=[0], **options)
    other_only = CompositionDataset(items, backgrounds, partners=[1], **options)
    assert not np.array_equal(self_only[0]["alpha"].numpy(), other_only[0]["alpha"].numpy())


def test_strong_backgrounds_zoom(red_is_alpha, tmp_path: Path) -> None:
    # A horizontal ramp 0..1 over 400 px (short side 100): a square of side f * 100 spans
    # f * 100 / 399 of it, so bg_scale (0.25, 0.25) spans a quarter of what (1, 1) spans.
    ramp = np.repeat(np.linspace(0.0, 1.0, 400, dtype=np.float32)[None, :, None], 100, 0)
    write_png(tmp_path / "ramp.png", np.repeat(ramp, 3, axis=2), bit_depth=16)
    items, _ = red_is_alpha

    def spans(fraction: float) -> list[float]:
        dataset = CompositionDataset(
            items, [tmp_path / "ramp.png"], crop_size=48, length=6, augment="strong",
            augmentation=AugmentConfig(bg_scale=(fraction, fraction), **NO_DEGRADATION))
        return [float(np.ptp(dataset[i]["bg"].numpy()[0, 0])) for i in range(6)]

    np.testing.assert_allclose(spans(1.0), 99 / 399, atol=0.01)
    np.testing.assert_allclose(spans(0.25), 24 / 399, atol=0.01)


def test_strong_trimap_ranges(red_is_alpha) -> None:
    narrow = _strong(red_is_alpha, trimap_erode=(1, 1), trimap_dilate=(1, 1), merge_prob=0.0)
    wide = _strong(red_is_alpha, trimap_erode=(15, 15), trimap_dilate=(15, 15), merge_prob=0.0)
    for index in range(4):
        a, b = _numpy(narrow[index]), _numpy(wide[index])
        soft = (a["alpha"] > 0) & (a["alpha"] < 1)
        np.testing.assert_array_equal(a["trimap"] == 0.5, soft)  # kernel 1: the soft band
        assert (b["trimap"] == 0.5).sum() > (a["trimap"] == 0.5).sum()


def test_dim_is_the_default(red_is_alpha) -> None:
    items, backgrounds = red_is_alpha
    default = CompositionDataset(items, backgrounds, crop_size=48, length=4)
    explicit = CompositionDataset(items, backgrounds, crop_size=48, length=4, augment="dim",
                                  augmentation=dataclasses.replace(AugmentConfig(), hue=90))
    for key, value in default[1].items():
        np.testing.assert_array_equal(value.numpy(), explicit[1][key].numpy())


def test_training_config_switches_the_recipe_on(red_is_alpha) -> None:
    from alphagan.training.config import DataConfig, SourceConfig
    from alphagan.training.data import build_train_set

    items, backgrounds = red_is_alpha
    source = SourceConfig(layout="folder", alpha_dir=str(items[0].alpha.parent),
                          fg_dir=str(items[0].fg.parent), repeat=3)
    data = DataConfig(train=(source,), backgrounds=(str(backgrounds[0].parent),),
                      crop_size=32, crop_choices=(32,), augment="strong",
                      augmentation=AugmentConfig(rotation=7.0))
    dataset = build_train_set(data, seed=0, verbose=False)
    assert dataset.base.augment == "strong"
    assert dataset.base.augmentation.rotation == 7.0
    # the second foreground is drawn with the first one's repeat weights
    assert dataset.base.partners == (0, 1, 0, 1, 0, 1)
    sample = dataset[3]
    np.testing.assert_array_equal(sample["alpha"].numpy(), dataset[3]["alpha"].numpy())
    assert build_train_set(DataConfig(train=(source,), backgrounds=data.backgrounds),
                           seed=0, verbose=False).base.augment == "dim"
