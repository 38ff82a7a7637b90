"""The command line as people use it: IMAGE TRIMAP -o file, masks, formats, bit depths,
never writing over an input, --version, --help, devices, determinism, torchrun."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import alphagan
from alphagan.cli import build_parser, main
from alphagan.errors import InputError
from alphagan.examples import make_example
from alphagan.io import read_alpha, read_grey, read_image, read_mask, write_png
from alphagan.memory import check_baseline_memory
from alphagan.trimap import trimap_from_soft_mask, trimap_to_uint8
from tests.test_cli import checkpoint, scene  # noqa: F401 - shared fixtures

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture()
def pair(tmp_path, scene) -> tuple[Path, Path]:
    write_png(tmp_path / "photo.png", scene.image)
    write_png(tmp_path / "trimap.png", trimap_to_uint8(scene.trimap))
    return tmp_path / "photo.png", tmp_path / "trimap.png"


def predict(checkpoint: Path, *args: str) -> int:
    return main(["predict", "--checkpoint", str(checkpoint), "--device", "cpu", "--quiet",
                 *map(str, args)])


def test_positional_pair_writes_exactly_the_named_file(tmp_path, checkpoint, pair) -> None:
    image, trimap = pair
    out = tmp_path / "result" / "cut.png"
    assert predict(checkpoint, image, trimap, "-o", out) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["cut.png"]
    cut = read_mask(out)  # the RGBA cut-out: its alpha is the matte
    out.write_bytes(b"stale")  # a named file is written again, not skipped
    assert predict(checkpoint, image, trimap, "-o", out) == 0
    assert np.array_equal(read_mask(out), cut)
    assert predict(checkpoint, image, trimap, "-o", tmp_path / "a.png", "--outputs",
                   "alpha") == 0
    assert np.array_equal(cut, read_grey(tmp_path / "a.png"))
    assert read_image(out).shape == (72, 96, 3)
    # several kinds cannot go into one file; JPEG has no alpha
    assert predict(checkpoint, image, trimap, "-o", tmp_path / "b.png", "--outputs",
                   "alpha,cutout") == 2
    assert predict(checkpoint, image, trimap, "-o", tmp_path / "b.jpg") == 2
    assert not (tmp_path / "b.png").exists() and not (tmp_path / "b.jpg").exists()


def test_mask_instead_of_a_trimap_and_the_trimap_it_used(tmp_path, checkpoint, pair,
                                                         scene) -> None:
    image, _ = pair
    mask8 = np.rint(scene.alpha * 255).astype(np.uint8)
    rgba = np.dstack([np.rint(scene.image * 255).astype(np.uint8), mask8])  # rembg-style
    write_png(tmp_path / "cutout_rembg.png", rgba)
    assert predict(checkpoint, image, "--mask", tmp_path / "cutout_rembg.png", "-o",
                   tmp_path / "used.png", "--outputs", "trimap", "--erode-size", "4") == 0
    expected = trimap_from_soft_mask(mask8 / np.float32(255), erode_size=4)
    assert np.array_equal(read_grey(tmp_path / "used.png"), trimap_to_uint8(expected))
    # the alpha with that mask is the alpha with the trimap it made
    assert predict(checkpoint, image, "--mask", tmp_path / "cutout_rembg.png", "-o",
                   tmp_path / "am.png", "--outputs", "alpha", "--erode-size", "4") == 0
    assert predict(checkpoint, image, tmp_path / "used.png", "-o", tmp_path / "at.png",
                   "--outputs", "alpha") == 0
    assert np.array_equal(read_grey(tmp_path / "am.png"), read_grey(tmp_path / "at.png"))


def test_mask_dir_folder_run(tmp_path, checkpoint, scene, capsys) -> None:
    for stem in ("a", "b"):
        write_png(tmp_path / "imgs" / f"{stem}.png", scene.image)
    write_png(tmp_path / "masks" / "a.png", scene.alpha)
    assert predict(checkpoint, "--image-dir", tmp_path / "imgs", "--mask-dir",
                   tmp_path / "masks", "-o", tmp_path / "out", "--outputs", "alpha,trimap") == 1
    assert (tmp_path / "out" / "alpha" / "a.png").is_file()
    assert (tmp_path / "out" / "trimap" / "a.png").is_file()
    assert "b.png: no mask named b.*" in capsys.readouterr().err


def test_a_folder_run_refuses_an_output_named_like_a_file(tmp_path, checkpoint, scene,
                                                         capsys) -> None:
    """-o x.png with --image-dir would create a folder called x.png: a usage error instead,
    before any image is read; an existing folder of that name is still a folder."""
    write_png(tmp_path / "imgs" / "a.png", scene.image)
    write_png(tmp_path / "tris" / "a.png", trimap_to_uint8(scene.trimap))
    folder = ("--image-dir", tmp_path / "imgs", "--trimap-dir", tmp_path / "tris")
    for name in ("single.png", "single.webp", "single.jpg"):
        assert predict(checkpoint, *folder, "-o", tmp_path / name) == 2
        assert f"{name}: a folder run writes one file per image" in capsys.readouterr().err
        assert not (tmp_path / name).exists()
    (tmp_path / "odd.png").mkdir()
    assert predict(checkpoint, *folder, "-o", tmp_path / "odd.png", "--outputs", "alpha") == 0
    assert (tmp_path / "odd.png" / "alpha" / "a.png").is_file()


@pytest.mark.parametrize(("fmt", "suffix"), [("webp", ".webp"), ("tiff", ".tif")])
def test_folder_formats(tmp_path, checkpoint, pair, fmt, suffix) -> None:
    image, trimap = pair
    assert predict(checkpoint, image, trimap, "-o", tmp_path / "png", "--outputs",
                   "alpha,cutout") == 0
    assert predict(checkpoint, image, trimap, "-o", tmp_path / fmt, "--outputs",
                   "alpha,cutout", "--format", fmt) == 0
    for kind in ("alpha", "cutout"):
        got = tmp_path / fmt / kind / f"photo{suffix}"
        assert got.is_file()
        assert np.array_equal(read_mask(got), read_mask(tmp_path / "png" / kind / "photo.png"))


def test_bit_depth_16(tmp_path, checkpoint, pair) -> None:
    image, trimap = pair
    for depth, name in (("8", "a8.png"), ("16", "a16.png"), ("16", "c16.tif")):
        kind = "cutout" if name.startswith("c") else "alpha"
        assert predict(checkpoint, image, trimap, "-o", tmp_path / name, "--outputs", kind,
                       "--bit-depth", depth) == 0
    a8, a16 = read_grey(tmp_path / "a8.png"), read_grey(tmp_path / "a16.png")
    assert a8.dtype == np.uint8 and a16.dtype == np.uint16
    assert np.abs(a16 / 65535 - a8 / 255).max() <= 0.5 / 255 + 1e-6
    assert len(np.unique(a16)) > len(np.unique(a8))  # the extra precision is there
    cut = read_mask(tmp_path / "c16.tif")
    assert cut.dtype == np.uint16 and np.array_equal(cut, a16)
    assert predict(checkpoint, image, trimap, "-o", tmp_path / "x.webp", "--bit-depth",
                   "16") == 2


def test_never_writes_over_an_input(tmp_path, checkpoint, pair, capsys) -> None:
    image, trimap = pair
    before = trimap.read_bytes()
    assert predict(checkpoint, image, trimap, "-o", trimap, "--outputs", "alpha") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"would overwrite the input {trimap}" in err
    assert trimap.read_bytes() == before
    # a folder run whose output folder is the image folder: OUT/alpha/photo.png is fine, but
    # an image inside OUT/alpha is an input
    (tmp_path / "alpha").mkdir()
    shutil.copy(image, tmp_path / "alpha" / "photo.png")
    shutil.copy(trimap, tmp_path / "alpha" / "t.png")
    assert predict(checkpoint, tmp_path / "alpha" / "photo.png", tmp_path / "alpha" / "t.png",
                   "-o", tmp_path, "--outputs", "alpha") == 1
    assert "would overwrite the input" in capsys.readouterr().err
    assert main(["trimap", "--mask", str(trimap), "--out", str(trimap)]) == 1


def test_version_and_examples_in_every_help(capsys) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"alphagan {alphagan.__version__}"
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(commands) >= {"predict", "baseline", "evaluate", "train", "demo", "trimap",
                             "synth", "export"}
    for name, sub in commands.items():
        text = sub.format_help()
        assert "example" in text and f"alphagan {name}" in text.split("example", 1)[1], name
    assert "(default: flip)" in commands["predict"].format_help()


def test_help_does_not_import_torch() -> None:
    code = ("import sys\nfrom alphagan.cli import main\nassert main(['--help']) == 0\n"
            "assert main(['predict', '--help']) == 0\n"
            "heavy = [m for m in ('torch', 'cv2', 'pymatting') if m in sys.modules]\n"
            "assert not heavy, heavy")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr


def test_devices_are_checked_in_one_line(tmp_path, checkpoint, pair, capsys) -> None:
    image, trimap = pair
    cases = {"nosuch": "not a device"}
    import torch

    if not torch.cuda.is_available():
        cases["cuda"] = "no CUDA device"
    if not torch.backends.mps.is_available():
        cases["mps"] = "MPS is not available"
    for device, message in cases.items():
        code = main(["predict", "--checkpoint", str(checkpoint), "--device", device,
                     str(image), str(trimap), "-o", str(tmp_path / "x.png")])
        err = capsys.readouterr().err
        assert code == 1 and err.count("\n") == 1 and message in err, (device, err)
    assert predict(checkpoint, image, trimap, "-o", tmp_path / "auto.png") == 0


def test_baseline_max_side_and_memory_refusal(tmp_path, pair, scene) -> None:
    image, trimap = pair
    assert main(["baseline", "--method", "cf", str(image), str(trimap), "-o",
                 str(tmp_path / "a.png"), "--outputs", "alpha", "--max-side", "48"]) == 0
    small = read_alpha(tmp_path / "a.png")
    assert small.shape == (72, 96)
    expected = alphagan.estimate_alpha_baseline("cf", image, trimap, max_side=48)  # the files
    assert np.abs(small - expected).max() <= 0.5 / 255 + 1e-6
    with pytest.raises(InputError, match=r"cf on a 3280x2310 image needs about .* GiB, 2.0 GiB "
                                         r"available: use --max-side \d+"):
        check_baseline_memory("cf", (2310, 3280), available=2 * 2**30)
    check_baseline_memory("cf", (600, 800), available=2 * 2**30)  # fits: no error


@pytest.mark.slow
def test_same_command_twice_gives_the_same_bytes(tmp_path, pair) -> None:
    """Fresh processes, the shipped model, default options (channels-last, flip, region)."""
    image, trimap = pair
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    outputs = []
    for run in ("1", "2"):
        out = tmp_path / run
        subprocess.run([sys.executable, "-m", "alphagan", "predict", str(image), str(trimap),
                        "-o", str(out), "--outputs", "alpha,cutout", "--quiet"],
                       check=True, env=env, capture_output=True)
        outputs.append(out)
    for kind in ("alpha", "cutout"):
        first = (outputs[0] / kind / "photo.png").read_bytes()
        assert first == (outputs[1] / kind / "photo.png").read_bytes(), kind


@pytest.mark.slow
def test_torchrun_splits_a_folder_like_one_process(tmp_path, checkpoint) -> None:
    for seed in range(5):
        s = make_example(40, 56, seed=seed)
        write_png(tmp_path / "imgs" / f"im{seed}.png", s.image)
        write_png(tmp_path / "tris" / f"im{seed}.png", trimap_to_uint8(s.trimap))
    (tmp_path / "tris" / "im4.png").write_bytes(b"not an image")  # one failure
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    args = ["-m", "alphagan", "predict", "--checkpoint", str(checkpoint), "--device", "cpu",
            "--image-dir", str(tmp_path / "imgs"), "--trimap-dir", str(tmp_path / "tris"),
            "--outputs", "alpha,cutout", "--quiet"]
    one = subprocess.run([sys.executable, *args, "-o", str(tmp_path / "one")], env=env,
                         capture_output=True, text=True)
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
                          "2", "--master_port", str(29500 + os.getpid() % 1000), *args,
                          "-o", str(tmp_path / "two")], env=env, capture_output=True,
                         text=True)
    assert one.returncode == 1 and two.returncode == 1, two.stderr
    for kind in ("alpha", "cutout"):
        names = sorted(p.name for p in (tmp_path / "one" / kind).iterdir())
        assert names == [f"im{i}.png" for i in range(4)]
        for name in names:
            assert (tmp_path / "one" / kind / name).read_bytes() == (
                tmp_path / "two" / kind / name).read_bytes()
    # rank 0 alone speaks for the run, and lists the failure once
    assert two.stderr.count("wrote 4 image(s)") == 1
    assert two.stderr.count("im4.png") == 1 and "1 file(s) failed" in two.stderr
