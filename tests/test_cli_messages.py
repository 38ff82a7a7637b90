"""One-line CLI messages found by a new-user test: they name what the user gave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alphagan.cli import main


@pytest.fixture()
def pair(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    image, trimap = tmp_path / "img.png", tmp_path / "tri.png"
    Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(image)
    t = np.zeros((24, 32), np.uint8)
    t[:, 16:] = 255
    t[:, 12:20] = 128
    Image.fromarray(t).save(trimap)
    return image, trimap


def test_unwritable_output_names_the_output_not_a_temporary_file(pair, capsys) -> None:
    image, trimap = pair
    # /proc refuses new files: the failure happens when the temporary file is created.
    assert main(["predict", str(image), str(trimap), "-o", "/proc/out.png"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "/proc/out.png" in err and ".tmp" not in err


def test_bad_background_is_refused(pair, tmp_path, capsys) -> None:
    image, trimap = pair
    out = tmp_path / "out"
    code = main(["predict", str(image), str(trimap), "-o", str(out), "--outputs", "composite",
                 "--background", "notacolour"])
    assert code == 1 and not out.exists()
    assert "--background notacolour" in capsys.readouterr().err
    # plainly a colour: the colour's own message, without "not a file"
    code = main(["predict", str(image), str(trimap), "-o", str(out), "--outputs", "composite",
                 "--background", "1,1,1"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("alphagan: error: --background: got '1,1,1'; integers")
    assert "not a file" not in err


def test_background_without_a_composite_is_a_usage_error(pair, tmp_path, capsys) -> None:
    """It would be ignored: the default single-file output is the cut-out."""
    image, trimap = pair
    out = tmp_path / "out.png"
    assert main(["predict", str(image), str(trimap), "-o", str(out), "--background", "red"]) == 2
    err = capsys.readouterr().err.strip()
    assert not out.exists() and len(err.splitlines()) == 1
    assert "add composite to --outputs" in err


def test_empty_outputs_is_a_usage_error_not_the_default(pair, tmp_path, capsys) -> None:
    image, trimap = pair
    out = tmp_path / "folder"
    assert main(["predict", str(image), str(trimap), "-o", str(out), "--outputs", ""]) == 2
    err = capsys.readouterr().err.strip()
    assert not out.exists() and len(err.splitlines()) == 1
    assert "--outputs: unknown output kind(s) (none given)" in err


@pytest.mark.parametrize("command", [["predict"], ["baseline", "--method", "cf"]])
def test_trimap_without_known_background_names_the_trimap(pair, tmp_path, capsys,
                                                          command) -> None:
    image, _ = pair
    trimap = tmp_path / "no_background.png"
    levels = np.full((24, 32), 128, np.uint8)
    levels[:, :8] = 255
    Image.fromarray(levels).save(trimap)
    out = tmp_path / "out.png"
    assert main([*command, str(image), str(trimap), "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and not out.exists()
    assert err.startswith(f"alphagan: error: {trimap}:")
    assert "no known background" in err


@pytest.mark.parametrize("command", [["trimap"], ["predict"]])
def test_colour_photo_as_mask_is_refused(pair, tmp_path, capsys, command) -> None:
    """A photo's brightness is not a mask (it used to become one, or 'an empty mask')."""
    image, _ = pair
    out = tmp_path / "out.png"
    args = ([*command, "--mask", str(image), "-o", str(out)] if command == ["trimap"]
            else [*command, str(image), "--mask", str(image), "-o", str(out)])
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and not out.exists()
    assert f"{image}: is a colour image without transparency" in err


def test_trimap_output_alone_runs_no_matting(pair, tmp_path) -> None:
    """--outputs trimap writes the trimap a mask gives without loading a model (or torch)."""
    import subprocess
    import sys

    from alphagan.convert import to_mask
    from alphagan.trimap import trimap_from_soft_mask, trimap_to_uint8

    image, _ = pair
    mask = tmp_path / "mask.png"
    levels = np.zeros((24, 32), np.uint8)
    levels[4:20, 6:26] = 255
    Image.fromarray(levels).save(mask)
    out = tmp_path / "used.png"
    script = ("import sys; from alphagan.cli import main; "
              f"code = main(['predict', {str(image)!r}, '--mask', {str(mask)!r}, '-o', "
              f"{str(out)!r}, '--outputs', 'trimap']); "
              "print(code, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["0", "False"]
    expected = trimap_to_uint8(trimap_from_soft_mask(to_mask(mask)))
    np.testing.assert_array_equal(np.asarray(Image.open(out)), expected)
    assert set(np.unique(expected)) == {0, 128, 255}


def test_a_symbolic_link_loop_is_one_line_and_a_folder_run_goes_on(pair, tmp_path,
                                                                    capsys) -> None:
    image, trimap = pair
    loop = tmp_path / "loop.png"
    loop.symlink_to(tmp_path / "loop2.png")
    (tmp_path / "loop2.png").symlink_to(loop)
    assert main(["predict", str(loop), str(trimap), "-o", str(tmp_path / "o.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "loop.png" in err and "unexpected" not in err
    # as the output name: refused before anything runs, naming it
    assert main(["trimap", "--alpha", str(trimap), "-o", str(loop)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "loop.png" in err and "unexpected" not in err
    # in a folder: the other image is matted, the loop is listed
    images, trimaps = tmp_path / "imgs", tmp_path / "tris"
    images.mkdir(), trimaps.mkdir()
    (images / "a.png").write_bytes(image.read_bytes())
    (images / "b.png").symlink_to(loop)
    for stem in "ab":
        (trimaps / f"{stem}.png").write_bytes(trimap.read_bytes())
    out = tmp_path / "out"
    assert main(["predict", "--image-dir", str(images), "--trimap-dir", str(trimaps), "-o",
                 str(out), "--outputs", "alpha", "--checkpoint", "alphagan-light",
                 "--quiet"]) == 1
    assert (out / "alpha" / "a.png").is_file() and not (out / "alpha" / "b.png").exists()
    assert "b.png" in capsys.readouterr().err


def test_evaluate_json_and_export_never_write_over_their_inputs(pair, tmp_path,
                                                                 capsys) -> None:
    """Found by a new-user trial: --json onto a prediction file, and export --out onto the
    model being exported, replaced the input without a word."""
    from alphagan.checkpoint import SHIPPED_MODELS

    image, trimap = pair
    preds, gts, tris = (tmp_path / d for d in ("p", "g", "t"))
    for folder in (preds, gts, tris):
        folder.mkdir()
        (folder / "a.png").write_bytes(trimap.read_bytes())
    before = (preds / "a.png").read_bytes()
    assert main(["evaluate", "--pred-dir", str(preds), "--gt-dir", str(gts), "--trimap-dir",
                 str(tris), "--json", str(preds / "a.png")]) == 2
    assert (preds / "a.png").read_bytes() == before
    assert "would overwrite an input" in capsys.readouterr().err
    # a JSON name in an input folder is fine (evaluate reads images only)
    assert main(["evaluate", "--pred-dir", str(preds), "--gt-dir", str(gts), "--trimap-dir",
                 str(tris), "--json", str(preds / "scores.json")]) == 0

    model = tmp_path / "m.safetensors"
    model.write_bytes(SHIPPED_MODELS["alphagan-light"].read_bytes())
    assert main(["export", "--format", "torchscript", "--out", str(model), "--checkpoint",
                 str(model)]) == 2
    assert model.read_bytes() == SHIPPED_MODELS["alphagan-light"].read_bytes()
    assert "is the model being exported" in capsys.readouterr().err


def test_trimaps_without_an_image_are_a_note_not_a_failure(pair, tmp_path, capsys) -> None:
    """A benchmark's trimap folder holds more than the images being matted (new-user
    trial): the extra trimaps are listed, the run succeeds; an image without a trimap still
    fails."""
    image, trimap = pair
    images, trimaps = tmp_path / "imgs", tmp_path / "tris"
    images.mkdir(), trimaps.mkdir()
    (images / "a.png").write_bytes(image.read_bytes())
    for stem in ("a", "b"):
        (trimaps / f"{stem}.png").write_bytes(trimap.read_bytes())
    args = ["predict", "--image-dir", str(images), "--trimap-dir", str(trimaps), "-o",
            str(tmp_path / "out"), "--outputs", "alpha", "--checkpoint", "alphagan-light",
            "--quiet"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "1 file(s) not used" in err and "b.png: no image named b" in err
    assert "failed" not in err and (tmp_path / "out" / "alpha" / "a.png").is_file()
    (images / "c.png").write_bytes(image.read_bytes())  # an image without a trimap
    assert main(args) == 1
    assert "c.png: no trimap named c" in capsys.readouterr().err


def test_a_folder_given_as_image_points_to_image_dir(pair, tmp_path, capsys) -> None:
    """`predict imgs/ trimaps/ -o out` (folders in the one-photo form) names the folder run's
    flags with the user's own paths, before any model is loaded."""
    images, trimaps = tmp_path / "imgs", tmp_path / "tris"
    images.mkdir()
    trimaps.mkdir()
    out = tmp_path / "out"
    assert main(["predict", str(images), str(trimaps), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert not out.exists() and len(err.splitlines()) == 1
    assert f"--image-dir {images} --trimap-dir {trimaps}" in err


def test_mask_options_without_a_mask_are_refused_not_ignored(pair, tmp_path, capsys) -> None:
    """--erode-size and the thresholds shape a trimap made from a mask; with a trimap (or
    `trimap --alpha`) they used to be ignored silently. Now a usage error; with a mask they
    still apply (a larger --erode-size gives a wider unknown band)."""
    import alphagan
    from alphagan.io import read_grey

    image, trimap = pair
    out = tmp_path / "a.png"
    assert main(["predict", str(image), str(trimap), "-o", str(out), "--erode-size", "20",
                 "--checkpoint", "alphagan-light"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--erode-size: only with --mask / --mask-dir" in err and not out.exists()
    assert main(["trimap", "--alpha", str(trimap), "-o", str(out),
                 "--foreground-threshold", "200"]) == 2
    assert "for --alpha use --erode and --dilate" in capsys.readouterr().err
    with pytest.raises(ValueError, match="erode_size: only with a mask; a trimap is used"):
        alphagan.matte(image, trimap, method="cf", erode_size=5)
    with pytest.raises(ValueError, match="erode_size: expected a whole number, got 2.5"):
        alphagan.matte(image, mask=trimap, method="cf", erode_size=2.5)
    mask = tmp_path / "mask.png"
    Image.fromarray(np.where(np.arange(32) < 16, 0, 255).astype(np.uint8)[None].repeat(24, 0)
                    ).save(mask)
    widths = {}
    for size in ("2", "8"):
        target = tmp_path / f"t{size}.png"
        assert main(["trimap", "--mask", str(mask), "-o", str(target), "--erode-size",
                     size]) == 0
        widths[size] = int((read_grey(target)[0] == 128).sum())
    assert widths["8"] > widths["2"] > 0


def test_ctrl_c_exits_130_with_one_line(monkeypatch, capsys) -> None:
    """Ctrl+C during a command: one line and status 130 (128 + SIGINT, as shells report it),
    so scripts can tell an interruption from a failure (status 1)."""
    import alphagan.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli._COMMANDS, "evaluate", interrupted)
    assert main(["evaluate", "--pred-dir", "p", "--gt-dir", "g", "--trimap-dir", "t"]) == 130
    assert capsys.readouterr().err.strip() == "alphagan: error: interrupted"
