"""Procedural foregrounds (alphagan.synth) and the example scene built from them."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alphagan.data import CompositionDataset
from alphagan.data.layouts import folder_items
from alphagan.errors import InputError, UsageError
from alphagan.examples import make_example
from alphagan.io import read_alpha, read_image, write_png
from alphagan.synth import (
    build_synth_parser,
    draw_strands,
    run_synth,
    strand_paths,
    synth_foreground,
    textured_foreground_from_alpha,
    write_synth_dataset,
)

SIZE = (160, 192)  # (H, W): small and not square, to catch x/y mix-ups


@pytest.fixture(scope="module")
def foregrounds() -> list[tuple[np.ndarray, np.ndarray]]:
    return [synth_foreground(np.random.default_rng([7, i]), SIZE) for i in range(16)]


# --------------------------------------------------------------------------------------------
# synth_foreground


def test_shapes_dtypes_and_ranges(foregrounds):
    for fg, alpha in foregrounds:
        assert fg.shape == (*SIZE, 3) and fg.dtype == np.float32
        assert alpha.shape == SIZE and alpha.dtype == np.float32
        assert np.isfinite(fg).all() and np.isfinite(alpha).all()
        assert fg.min() >= 0.0 and fg.max() <= 1.0
        assert alpha.min() >= 0.0 and alpha.max() <= 1.0


def test_alpha_is_quantisation_safe(foregrounds):
    for _, alpha in foregrounds:
        soft = alpha[(alpha > 0) & (alpha < 1)]
        assert soft.size == 0 or (soft.min() >= 1 / 255 and soft.max() <= 254 / 255)


def test_every_foreground_has_background_core_and_soft_pixels(foregrounds):
    for _, alpha in foregrounds:
        background = np.mean(alpha == 0)
        solid = np.mean(alpha == 1)
        soft = np.mean((alpha > 0) & (alpha < 1))
        assert background >= 0.10
        assert solid > 0.0
        assert 0.01 <= soft <= 0.85
        # Thin strands and soft edges: some pixels are less than half covered.
        assert np.mean((alpha > 0) & (alpha < 0.5)) > 0.002


def test_foregrounds_differ_from_each_other(foregrounds):
    alphas = [alpha for _, alpha in foregrounds]
    for a, b in zip(alphas, alphas[1:]):
        assert not np.array_equal(a, b)


def test_same_seed_same_arrays_different_seed_different():
    fg1, a1 = synth_foreground(np.random.default_rng(3), SIZE)
    fg2, a2 = synth_foreground(np.random.default_rng(3), SIZE)
    fg3, a3 = synth_foreground(np.random.default_rng(4), SIZE)
    np.testing.assert_array_equal(fg1, fg2)
    np.testing.assert_array_equal(a1, a2)
    assert not np.array_equal(a1, a3)


def test_rejects_tiny_size():
    with pytest.raises(ValueError, match="at least 16"):
        synth_foreground(np.random.default_rng(0), (8, 64))


# --------------------------------------------------------------------------------------------
# Strands


def test_thin_strand_is_sub_pixel():
    """A straight thickness-1 strand covers about a third of a pixel across its path."""
    paths = strand_paths(np.array([[20.3, 4.0]]), np.array([np.pi / 2 - 0.05]),
                         np.array([50.0]), points=8)
    p, alpha = draw_strands((64, 40), paths, np.array([[0.9, 0.5, 0.1]]), np.array([1]),
                            np.array([1.0]), taper=False)
    rows = alpha[10:50]
    assert rows.max() < 0.5
    assert np.all(rows.max(axis=1) > 0.1)  # no gaps along the strand
    np.testing.assert_allclose(rows.sum(axis=1), 0.34, atol=0.06)  # width in pixels
    # Premultiplied colour: P / A is the strand's colour wherever it is visible.
    visible = alpha > 0.05
    colour = p[visible] / alpha[visible, None]
    np.testing.assert_allclose(colour, np.broadcast_to([0.9, 0.5, 0.1], colour.shape), atol=0.05)


def test_hairy_foregrounds_have_sub_pixel_strands():
    """Along a fur rim most strand pixels are partly covered: 0 < alpha < 0.5."""
    paths = strand_paths(np.full((200, 2), 32.0), np.linspace(0, 2 * np.pi, 200), 25.0,
                         points=12, curl=0.8)
    _, alpha = draw_strands((64, 64), paths, np.full((200, 3), 0.5),
                            np.ones(200, np.int64), np.full(200, 0.7))
    ring = alpha[(np.hypot(*np.mgrid[0:64, 0:64] - 32.0) > 20) & (alpha > 0)]
    assert ring.size > 50 and np.mean(ring < 0.5) > 0.8


def test_strand_paths_geometry():
    roots = np.array([[10.0, 20.0], [0.0, 0.0]])
    paths = strand_paths(roots, np.array([0.0, np.pi / 2]), np.array([30.0, 12.0]), points=6)
    assert paths.shape == (2, 7, 2)
    np.testing.assert_allclose(paths[:, 0], roots)
    np.testing.assert_allclose(paths[0, -1], [40.0, 20.0], atol=1e-9)  # straight along +x
    np.testing.assert_allclose(paths[1, -1], [0.0, 12.0], atol=1e-9)  # pi/2 points down
    curled = strand_paths(roots, np.zeros(2), np.full(2, 30.0), points=32, curl=np.pi)
    steps = np.linalg.norm(np.diff(curled, axis=1), axis=-1).sum(axis=1)
    np.testing.assert_allclose(steps, 30.0)  # arc length is kept when the strand curls


# --------------------------------------------------------------------------------------------
# Real alpha shapes


def test_textured_foreground_from_alpha():
    alpha = np.zeros((90, 120), np.float32)
    alpha[20:70, 30:90] = 1.0
    alpha[10:20, 30:90] = 0.4
    fg = textured_foreground_from_alpha(np.random.default_rng(0), alpha)
    assert fg.shape == (90, 120, 3) and fg.dtype == np.float32
    assert fg.min() >= 0.0 and fg.max() <= 1.0
    again = textured_foreground_from_alpha(np.random.default_rng(0), alpha)
    np.testing.assert_array_equal(fg, again)


# --------------------------------------------------------------------------------------------
# write_synth_dataset


def _alpha_shapes(folder: Path) -> Path:
    """Three fake real alphas: grey PNG, a big palette PNG (like GTxx.png), one to exclude."""
    yy, xx = np.mgrid[0:60, 0:80]
    disc = np.clip(20.0 - np.hypot(yy - 30, xx - 40), 0.0, 1.0).astype(np.float32)
    write_png(folder / "GT01.png", disc)
    big = np.clip((60.0 - np.hypot(*(np.mgrid[0:150, 0:200] - [[[75]], [[100]]]))) / 8, 0, 1)
    levels = np.rint(big * 255).astype(np.uint8)
    palette = Image.fromarray(levels, mode="L").convert("P")
    palette.save(folder / "GT02.png")
    write_png(folder / "GT03.png", disc)
    return folder


def test_write_synth_dataset_files_and_names(tmp_path):
    shapes = _alpha_shapes(tmp_path / "shapes")
    out = tmp_path / "synth"
    names = write_synth_dataset(out, count=3, seed=1, size=64, alpha_shapes=shapes,
                                exclude=["GT03"], max_side=100, progress=False)
    assert names == ["synth_00000", "synth_00001", "synth_00002", "shape_GT01", "shape_GT02"]
    for name in names:
        fg = read_image(out / "fg" / f"{name}.png")
        assert fg.shape[:2] == read_alpha(out / "alpha" / f"{name}.png").shape
    assert read_alpha(out / "alpha" / "synth_00001.png").shape == (64, 64)
    assert read_alpha(out / "alpha" / "shape_GT01.png").shape == (60, 80)  # small: kept
    big = read_alpha(out / "alpha" / "shape_GT02.png")
    assert big.shape == (75, 100)  # long side downscaled to max_side
    assert 0.0 < big.mean() < 1.0
    assert not (out / "fg" / "shape_GT03.png").exists()
    assert sorted(p.name for p in (out / "fg").iterdir()) == sorted(f"{n}.png" for n in names)


def test_write_synth_dataset_is_idempotent_and_reproducible(tmp_path):
    shapes = _alpha_shapes(tmp_path / "shapes")
    out = tmp_path / "synth"
    write_synth_dataset(out, count=2, seed=5, size=48, alpha_shapes=shapes, progress=False)
    files = sorted(out.rglob("*.png"))
    assert len(files) == 10
    stamps = {f: (f.stat().st_mtime_ns, f.stat().st_ino) for f in files}
    contents = {f: f.read_bytes() for f in files}

    write_synth_dataset(out, count=2, seed=5, size=48, alpha_shapes=shapes, progress=False)
    # Nothing rewritten (an atomic rewrite would also give the file a new inode).
    assert {f: (f.stat().st_mtime_ns, f.stat().st_ino) for f in files} == stamps

    # An interrupted run (one file of a pair missing) is completed with identical files.
    (out / "alpha" / "synth_00001.png").unlink()
    (out / "fg" / "shape_GT02.png").unlink()
    write_synth_dataset(out, count=2, seed=5, size=48, alpha_shapes=shapes, progress=False)
    assert {f: f.read_bytes() for f in files} == contents
    untouched = out / "fg" / "synth_00000.png"
    assert (untouched.stat().st_mtime_ns, untouched.stat().st_ino) == stamps[untouched]

    # Item i depends only on (seed, i): a larger count elsewhere repeats the first items.
    other = tmp_path / "other"
    write_synth_dataset(other, count=3, seed=5, size=48, progress=False)
    for name in ("synth_00000", "synth_00001"):
        for kind in ("fg", "alpha"):
            assert (other / kind / f"{name}.png").read_bytes() == \
                (out / kind / f"{name}.png").read_bytes()
    different = tmp_path / "different"
    write_synth_dataset(different, count=1, seed=6, size=48, progress=False)
    assert (different / "alpha" / "synth_00000.png").read_bytes() != \
        (out / "alpha" / "synth_00000.png").read_bytes()


def test_written_set_feeds_the_composition_dataset(tmp_path):
    out = tmp_path / "synth"
    write_synth_dataset(out, count=2, seed=0, size=96, progress=False)
    items = folder_items(out / "alpha", fg_dir=out / "fg")
    assert [item.name for item in items] == ["synth_00000", "synth_00001"]
    background = tmp_path / "bg.png"
    write_png(background, np.random.default_rng(0).random((80, 100, 3)).astype(np.float32))
    dataset = CompositionDataset(items, backgrounds=[background], crop_size=64,
                                 crop_choices=(64,))
    sample = dataset[1]
    assert sample["image"].shape == (3, 64, 64)
    assert sample["alpha"].shape == (1, 64, 64)
    assert set(np.unique(sample["trimap"].numpy())) <= {0.0, 0.5, 1.0}
    assert 0.0 < float(sample["alpha"].max())  # crops centre on unknown pixels


def test_exclude_accepts_file_names_and_warns_about_unknown_stems(tmp_path):
    shapes = _alpha_shapes(tmp_path / "shapes")
    with pytest.warns(UserWarning, match="GT99"):
        names = write_synth_dataset(tmp_path / "out", count=0, alpha_shapes=shapes,
                                    exclude=["GT01.png", "GT99"], progress=False)
    assert names == ["shape_GT02", "shape_GT03"]


def test_write_synth_dataset_rejects_bad_arguments(tmp_path):
    with pytest.raises(InputError, match="no such folder"):
        write_synth_dataset(tmp_path / "out", count=1, alpha_shapes=tmp_path / "missing",
                            progress=False)
    with pytest.raises(InputError, match="count"):
        write_synth_dataset(tmp_path / "out", count=-1, progress=False)


# --------------------------------------------------------------------------------------------
# Command line pieces


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="alphagan")
    build_synth_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_run_synth(tmp_path, capsys):
    shapes = _alpha_shapes(tmp_path / "shapes")
    out = tmp_path / "out"
    args = _parse(["synth", "--out", str(out), "--count", "2", "--size", "48", "--seed", "3",
                   "--alpha-shapes", str(shapes), "--exclude", "GT02, GT03", "--quiet"])
    assert run_synth(args) == 0
    assert sorted(p.stem for p in (out / "alpha").iterdir()) == [
        "shape_GT01", "synth_00000", "synth_00001"]
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and "3 foregrounds" in message


@pytest.mark.parametrize("argv, match, error", [
    (["--count", "0"], "--count", UsageError),  # exit status 2 through alphagan.cli.main
    (["--count", "1", "--alpha-shapes", "nowhere"], "nowhere", InputError),
])
def test_run_synth_bad_arguments(tmp_path, argv, match, error):
    args = _parse(["synth", "--out", str(tmp_path / "out"), "--quiet", *argv])
    with pytest.raises(error, match=match) as raised:
        run_synth(args)
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------
# The example scene (its strands come from synth)


def test_make_example_shapes_and_determinism():
    scene = make_example(72, 96, seed=3)
    for name in ("image", "foreground", "background"):
        array = getattr(scene, name)
        assert array.shape == (72, 96, 3) and array.dtype == np.float32
        assert array.min() >= 0.0 and array.max() <= 1.0
    assert scene.alpha.shape == (72, 96) and scene.alpha.dtype == np.float32
    assert scene.trimap.shape == (72, 96)
    assert set(np.unique(scene.trimap)) <= {0.0, 0.5, 1.0}
    assert np.any((scene.alpha > 0) & (scene.alpha < 0.5))  # hair strands
    assert np.any(scene.alpha == 1) and np.any(scene.alpha == 0)
    again = make_example(72, 96, seed=3)
    for name in ("image", "alpha", "trimap", "foreground", "background"):
        np.testing.assert_array_equal(getattr(scene, name), getattr(again, name))
    assert not np.array_equal(scene.alpha, make_example(72, 96, seed=4).alpha)
    composite = scene.alpha[..., None] * scene.foreground \
        + (1 - scene.alpha[..., None]) * scene.background
    np.testing.assert_allclose(scene.image, composite, atol=1e-5)
