"""Every CLI path, in-process through ``main(argv)``, including the bad-input ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alphagan.checkpoint import save_model
from alphagan.cli import main
from alphagan.examples import make_example
from alphagan.io import read_alpha, read_grey, read_image, write_png
from alphagan.models import AlphaGANGenerator
from alphagan.trimap import trimap_to_uint8
from tests.helpers import TINY_CONFIG


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_model(AlphaGANGenerator(TINY_CONFIG).eval(), path)
    return path


@pytest.fixture(scope="module")
def scene():
    return make_example(72, 96, seed=3)


def write_pair(folder: Path, stem: str, scene, *, image_dir: str = "images",
               trimap_dir: str = "trimaps") -> tuple[Path, Path]:
    image = folder / image_dir / f"{stem}.png"
    trimap = folder / trimap_dir / f"{stem}.png"
    write_png(image, scene.image)
    write_png(trimap, trimap_to_uint8(scene.trimap))
    return image, trimap


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_predict_single_image_writes_every_output(tmp_path, checkpoint, scene, capsys) -> None:
    image, trimap = write_pair(tmp_path, "cat", scene)
    out = tmp_path / "out"
    code = main(["predict", "--checkpoint", str(checkpoint), "--image", str(image),
                 "--trimap", str(trimap), "--out", str(out), "--background", "#00ff00"])
    assert code == 0, capsys.readouterr().err
    assert files_under(out) == ["alpha/cat.png", "composite/cat.png", "cutout/cat.png",
                                "foreground/cat.png"]
    alpha = read_grey(out / "alpha" / "cat.png")
    assert alpha.shape == (72, 96)
    assert (alpha[scene.trimap == 0] == 0).all() and (alpha[scene.trimap == 1] == 255).all()
    rgba = read_grey  # noqa: F841  (cut-out checked through PIL below)
    from PIL import Image

    with Image.open(out / "cutout" / "cat.png") as im:
        assert im.mode == "RGBA"
        cut = np.asarray(im)
    assert np.array_equal(cut[..., 3], alpha)  # straight alpha, same matte
    comp = read_image(out / "composite" / "cat.png")
    bg_only = scene.trimap == 0
    assert np.allclose(comp[bg_only], [0.0, 1.0, 0.0], atol=1 / 255)


def test_predict_size_mismatch_is_refused_and_writes_nothing(tmp_path, checkpoint, scene,
                                                             capsys) -> None:
    image, _ = write_pair(tmp_path, "a", scene)
    small = tmp_path / "small_trimap.png"
    write_png(small, trimap_to_uint8(scene.trimap[:40, :50]))
    out = tmp_path / "out"
    code = main(["predict", "--checkpoint", str(checkpoint), "--image", str(image),
                 "--trimap", str(small), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.count("\n") == 0 and "Traceback" not in err
    assert "small_trimap.png" in err and "50x40" in err and "96x72" in err
    assert not out.exists() or files_under(out) == []


@pytest.mark.parametrize("problem", ["garbage", "no_unknown", "missing"])
def test_predict_bad_single_inputs(tmp_path, checkpoint, scene, capsys, problem) -> None:
    image, trimap = write_pair(tmp_path, "a", scene)
    if problem == "garbage":
        image.write_bytes(b"this is not a png")
    elif problem == "no_unknown":
        write_png(trimap, (scene.alpha > 0.5).astype(np.float32))
    else:
        image = tmp_path / "nope.png"
    out = tmp_path / "out"
    code = main(["predict", "--checkpoint", str(checkpoint), "--image", str(image),
                 "--trimap", str(trimap), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "Traceback" not in err and err.count("\n") == 0
    named = trimap if problem == "no_unknown" else image
    assert named.name in err
    assert not out.exists() or files_under(out) == []


def test_folder_goes_on_past_bad_files_and_reports_them(tmp_path, checkpoint, scene,
                                                        capsys) -> None:
    for stem in ("good1", "broken", "mismatch", "good2"):
        write_pair(tmp_path, stem, scene)
    (tmp_path / "images" / "broken.png").write_bytes(b"\x89PNG garbage")
    write_png(tmp_path / "trimaps" / "mismatch.png", trimap_to_uint8(scene.trimap[:, :80]))
    write_png(tmp_path / "images" / "lonely.png", scene.image)  # no trimap
    out = tmp_path / "out"
    code = main(["predict", "--checkpoint", str(checkpoint), "--image-dir",
                 str(tmp_path / "images"), "--trimap-dir", str(tmp_path / "trimaps"),
                 "--out", str(out), "--outputs", "alpha,cutout"])
    err = capsys.readouterr().err
    assert code == 1
    assert files_under(out) == ["alpha/good1.png", "alpha/good2.png", "cutout/good1.png",
                                "cutout/good2.png"]
    report = err[err.index("3 file(s) failed"):]
    for name in ("broken.png", "mismatch.png", "lonely.png"):
        assert name in report
    assert "Traceback" not in err


def test_folder_skips_existing_outputs_unless_overwrite(tmp_path, checkpoint, scene,
                                                        capsys) -> None:
    write_pair(tmp_path, "x", scene)
    args = ["predict", "--checkpoint", str(checkpoint), "--image-dir", str(tmp_path / "images"),
            "--trimap-dir", str(tmp_path / "trimaps"), "--out", str(tmp_path / "out"),
            "--outputs", "alpha", "--quiet"]
    assert main(args) == 0
    target = tmp_path / "out" / "alpha" / "x.png"
    os.utime(target, (1_000_000, 1_000_000))
    assert main(args) == 0
    assert target.stat().st_mtime == 1_000_000
    assert "skipped 1" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    assert target.stat().st_mtime != 1_000_000


def test_usage_errors(tmp_path, checkpoint, capsys) -> None:
    base = ["predict", "--checkpoint", str(checkpoint), "--out", str(tmp_path)]
    assert main([*base, "--image", "a.png"]) == 2  # no trimap
    assert main([*base, "--image", "a.png", "--trimap", "b.png", "--image-dir", "d"]) == 2
    assert main([*base, "--image", "a.png", "--trimap", "b.png", "--outputs", "alpha,mask"]) == 2
    assert "mask" in capsys.readouterr().err
    assert main(["predict"]) == 2  # argparse: missing required arguments


def test_bad_checkpoint_is_a_clear_error(tmp_path, scene, capsys) -> None:
    image, trimap = write_pair(tmp_path, "a", scene)
    bogus = tmp_path / "model.safetensors"
    bogus.write_bytes(b"nonsense")
    code = main(["predict", "--checkpoint", str(bogus), "--image", str(image), "--trimap",
                 str(trimap), "--out", str(tmp_path / "out")])
    assert code == 1 and "model.safetensors: not a safetensors file" in capsys.readouterr().err


def test_baseline_cf_writes_the_library_result(tmp_path, scene) -> None:
    from alphagan.baselines import estimate_alpha_baseline

    image, trimap = write_pair(tmp_path, "s", scene)
    out = tmp_path / "out"
    assert main(["baseline", "--method", "cf", "--image", str(image), "--trimap", str(trimap),
                 "--out", str(out), "--outputs", "alpha"]) == 0
    expected = estimate_alpha_baseline("cf", read_image(image), scene.trimap)
    got = read_alpha(out / "alpha" / "s.png")
    assert np.abs(got - expected).max() <= 0.5 / 255 + 1e-6


def test_baseline_refuses_a_bad_file_like_predict(tmp_path, scene, capsys) -> None:
    image, trimap = write_pair(tmp_path, "s", scene)
    write_png(trimap, np.linspace(0, 1, 72 * 96, dtype=np.float32).reshape(72, 96))  # a ramp
    assert main(["baseline", "--method", "knn", "--image", str(image), "--trimap", str(trimap),
                 "--out", str(tmp_path / "out")]) == 1
    assert "s.png" in capsys.readouterr().err


def test_evaluate_writes_table_and_json(tmp_path, scene, capsys) -> None:
    pred = scene.alpha.copy()
    pred[scene.trimap == 0.5] = np.clip(pred[scene.trimap == 0.5] + 0.1, 0, 1)
    for stem in ("p", "q"):
        write_png(tmp_path / "pred" / f"{stem}.png", pred)
        write_png(tmp_path / "gt" / f"{stem}.png", scene.alpha)
        write_png(tmp_path / "tri" / f"{stem}.png", trimap_to_uint8(scene.trimap))
    out_json = tmp_path / "res" / "scores.json"
    assert main(["evaluate", "--pred-dir", str(tmp_path / "pred"), "--gt-dir",
                 str(tmp_path / "gt"), "--trimap-dir", str(tmp_path / "tri"),
                 "--json", str(out_json)]) == 0
    table = capsys.readouterr().out
    assert "mean" in table and "p" in table
    data = json.loads(out_json.read_text())
    assert set(data) == {"mean", "per_image"}
    assert set(data["per_image"]) == {"p", "q"}
    assert set(data["mean"]) == {"sad", "mse", "grad", "conn"}
    assert data["mean"]["sad"] > 0
    assert data["mean"]["sad"] == pytest.approx(data["per_image"]["p"]["sad"])


def test_evaluate_scores_what_it_has_and_lists_the_rest(tmp_path, scene, capsys) -> None:
    write_png(tmp_path / "pred" / "a.png", scene.alpha)
    write_png(tmp_path / "gt" / "a.png", scene.alpha)
    write_png(tmp_path / "gt" / "b.png", scene.alpha)  # a superset of the predictions
    write_png(tmp_path / "tri" / "a.png", trimap_to_uint8(scene.trimap))
    write_png(tmp_path / "tri" / "b.png", trimap_to_uint8(scene.trimap))
    args = ["evaluate", "--pred-dir", str(tmp_path / "pred"), "--gt-dir",
            str(tmp_path / "gt"), "--trimap-dir", str(tmp_path / "tri")]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[2].split()[0] == "a" and captured.err == ""
    write_png(tmp_path / "pred" / "c.png", scene.alpha)  # a prediction without ground truth
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "mean" in captured.out
    assert f"  {tmp_path / 'pred' / 'c.png'}: no c.* in the gt folder" in captured.err


def test_trimap_command_from_alpha_and_mask(tmp_path, scene) -> None:
    write_png(tmp_path / "alpha.png", scene.alpha)
    assert main(["trimap", "--alpha", str(tmp_path / "alpha.png"), "--out",
                 str(tmp_path / "t1.png"), "--erode", "3", "--dilate", "5"]) == 0
    t1 = read_grey(tmp_path / "t1.png")
    assert set(np.unique(t1)) <= {0, 128, 255}
    soft = (scene.alpha > 0) & (scene.alpha < 1)
    assert (t1[soft] == 128).all()  # every fractional pixel is unknown
    write_png(tmp_path / "mask.png", scene.alpha)  # a soft mask
    assert main(["trimap", "--mask", str(tmp_path / "mask.png"), "--out",
                 str(tmp_path / "t2.png"), "--erode-size", "0"]) == 0
    t2, mask8 = read_grey(tmp_path / "t2.png"), read_grey(tmp_path / "mask.png")
    # no erosion: rembg's thresholds alone
    assert np.array_equal(t2 == 255, mask8 > 240) and np.array_equal(t2 == 0, mask8 < 10)
    write_png(tmp_path / "binary.png", (scene.alpha > 0.5).astype(np.float32))
    assert main(["trimap", "--mask", str(tmp_path / "binary.png"), "--out",
                 str(tmp_path / "t4.png"), "--erode-size", "0"]) == 1  # nothing unknown
    assert not (tmp_path / "t4.png").exists()
    assert main(["trimap", "--mask", str(tmp_path / "mask.png"), "--out",
                 str(tmp_path / "t2.png"), "--erode", "3"]) == 2  # --erode is for --alpha
    assert main(["trimap", "--alpha", str(tmp_path / "alpha.png"), "--out",
                 str(tmp_path / "t3.png"), "--erode", "-1"]) == 2


def test_trimap_from_alpha_reads_an_rgba_cutouts_alpha_and_refuses_a_photo(
        tmp_path, scene, capsys) -> None:
    write_png(tmp_path / "alpha.png", scene.alpha)
    assert main(["trimap", "--alpha", str(tmp_path / "alpha.png"), "--out",
                 str(tmp_path / "from_grey.png")]) == 0
    cutout = np.dstack([scene.image, scene.alpha])  # RGBA: colours + the same alpha
    write_png(tmp_path / "cutout.png", cutout)
    assert main(["trimap", "--alpha", str(tmp_path / "cutout.png"), "--out",
                 str(tmp_path / "from_cutout.png")]) == 0
    assert np.array_equal(read_grey(tmp_path / "from_cutout.png"),
                          read_grey(tmp_path / "from_grey.png"))
    write_png(tmp_path / "photo.png", scene.image)
    capsys.readouterr()
    assert main(["trimap", "--alpha", str(tmp_path / "photo.png"), "--out",
                 str(tmp_path / "from_photo.png")]) == 1
    assert "is a colour image without transparency" in capsys.readouterr().err
    assert not (tmp_path / "from_photo.png").exists()


def test_demo_with_a_baseline_writes_every_picture(tmp_path, capsys) -> None:
    assert main(["demo", "--out", str(tmp_path), "--method", "cf"]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(f"{n}.png" for n in ("image", "trimap", "alpha", "foreground",
                                                 "cutout", "composite", "side_by_side"))
    side = read_image(tmp_path / "side_by_side.png")
    assert side.shape == (480, 4 * 640 + 3 * 8, 3)
    assert "SAD" in capsys.readouterr().out


def test_entry_points_and_light_import() -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-m", "alphagan", "--help"], capture_output=True,
                          text=True, env=env)
    assert done.returncode == 0 and "predict" in done.stdout
    code = ("import sys, alphagan, alphagan.cli; alphagan.predict_alpha; "
            "assert 'pymatting' not in sys.modules and 'numba' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0
    # submodules are attributes after a plain import too; unknown names still fail
    code = ("import alphagan; assert alphagan.metrics.sad is alphagan.sad; "
            "assert not hasattr(alphagan, 'no_such_module')")
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0
