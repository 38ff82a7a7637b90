"""Issue 12: no code execution from files, no tracebacks, no lost or half-written work.

Every case of the issue is a test here; ``test_fuzz_*`` drive generated malformed inputs
through the public API and every subcommand.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from alphagan import io as aio
from alphagan.atomic import remove_stale_temps, write_all_or_none
from alphagan.checkpoint import default_checkpoint, load_model, save_model
from alphagan.cli import main
from alphagan.errors import InputError
from alphagan.examples import make_example
from alphagan.files import read_bytes
from alphagan.foreground import estimate_foreground
from alphagan.inference import min_tile, predict_alpha
from alphagan.scaling import downscale_trimap
from alphagan.io import read_grey, read_image, write_png
from alphagan.models import AlphaGANGenerator
from alphagan.pipeline import MattingJob, OutputSpec, pair_folders, run_jobs
from alphagan.training.loop import _prepare_run_dir, _truncate_log
from alphagan.training.state import load_training_state, save_training_state
from alphagan.trimap import read_trimap, trimap_from_mask, trimap_to_uint8
from tests.helpers import TINY_CONFIG
from tests.test_cli import checkpoint  # noqa: F401 - the tiny generator file fixture


@pytest.fixture(scope="module")
def scene():
    return make_example(40, 56, seed=5)


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def one_error_line(capsys: pytest.CaptureFixture[str], *names: object) -> str:
    """The single stderr line of a failed command; it names every one of ``names``."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    return lines[0]


class _Evil:
    """Unpickling this runs ``touch MARKER`` (what a crafted checkpoint does)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def png_bytes(width: int, height: int, *, depth: int = 8, colour: int = 0,
              idat: bytes = b"") -> bytes:
    """A PNG signature and IHDR declaring any size, then ``idat`` (possibly bogus) and IEND."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat or
            zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


# --------------------------------------------------------------------------------------------
# Security: special files, bombs, pickles, safetensors


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            read_image(fifo)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            outcome.append(exc)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "reading a FIFO blocked"
    assert isinstance(outcome[0], InputError) and "FIFO" in str(outcome[0])


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_links_to_devices_are_refused(tmp_path: Path, device: str) -> None:
    link = tmp_path / "photo.png"
    link.symlink_to(device)
    with pytest.raises(InputError, match=r"photo\.png: is a character device"):
        read_image(link)
    with pytest.raises(InputError, match="character device"):
        load_model(link)
    with pytest.raises(InputError, match="character device"):
        load_training_state(link)


def test_size_limit_is_checked_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 1000)
    assert read_bytes(big, 1000) == b"x" * 1000
    with pytest.raises(InputError, match=r"big\.bin: file of 1,000 bytes is larger than the 999"):
        read_bytes(big, 999)


def test_16bit_png_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    # 778 KB in the issue; here only the header: 20000x20000 16-bit RGB would be 2.4 GB.
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bytes(20000, 20000, depth=16, colour=2))
    with pytest.raises(InputError, match=r"bomb\.png: image declares 20000x20000 = 400,000,000"):
        read_image(bomb)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".tif", ".webp"])
def test_pixel_limit_holds_for_every_decoder(tmp_path: Path, monkeypatch, suffix: str) -> None:
    path = tmp_path / f"small{suffix}"
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(path)
    assert read_image(path).shape == (20, 30, 3)
    monkeypatch.setattr(aio, "MAX_PIXELS", 599)  # 20 x 30 = 600 pixels
    with pytest.raises(InputError, match=r"declares 30x20 = 600 pixels, more than the 599"):
        read_image(path)


def test_16bit_path_has_the_pixel_limit_too(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "deep.png"
    write_png(path, np.zeros((20, 30, 3), np.float32), bit_depth=16)
    monkeypatch.setattr(aio, "MAX_PIXELS", 599)
    with pytest.raises(InputError, match="30x20 = 600 pixels"):
        read_image(path)


def test_crafted_training_checkpoint_runs_no_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "latest.pt"
    torch.save({"generator": {}, "payload": _Evil(marker)}, evil)
    with pytest.raises(InputError, match=r"latest\.pt: refused: .*posix\.system|latest\.pt: refused"):
        load_training_state(evil)
    assert not marker.exists()


def test_crafted_init_from_and_backbone_run_no_code(tmp_path: Path) -> None:
    from alphagan.models import PatchDiscriminator, load_backbone_weights
    from alphagan.training.build import init_models

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"generator": _Evil(marker)}, evil)
    generator = AlphaGANGenerator(TINY_CONFIG)
    with pytest.raises(InputError, match=r"evil\.pt"):
        init_models(generator, PatchDiscriminator(in_channels=4), str(evil))
    with pytest.raises(InputError, match=r"evil\.pt"):
        load_backbone_weights(generator, evil)
    assert not marker.exists()


def test_training_state_round_trips_with_weights_only(tmp_path: Path) -> None:
    import random

    from alphagan.training.state import restore_rng_state, rng_state

    state = rng_state()
    expected = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    save_training_state(tmp_path / "s.pt", {"rng": [state], "best_sad": float("inf")})
    loaded = load_training_state(tmp_path / "s.pt")
    restore_rng_state(loaded["rng"][0])
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expected
    assert loaded["best_sad"] == float("inf")


def test_old_pickled_checkpoint_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    old = tmp_path / "old.pt"
    torch.save({"rng": [{"numpy": np.random.get_state()}]}, old)  # what alphagan wrote before
    with pytest.raises(InputError, match=r"old\.pt: refused: .*older alphagan"):
        load_training_state(old)


def _rewrite_header(source: Path, dest: Path, edit) -> Path:
    """Copy a safetensors file with its JSON header changed by ``edit(header) -> header``."""
    data = source.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = edit(json.loads(data[8 : 8 + n]))
    raw = json.dumps(header).encode() if not isinstance(header, bytes) else header
    dest.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + n :])
    return dest


def _with_config(**changes):
    def edit(header):
        config = json.loads(header["__metadata__"]["config"])
        config.update(changes)
        header["__metadata__"]["config"] = json.dumps(config)
        return header
    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda h: [1, 2, 3], "header is a JSON list"),
        (lambda h: b"\xff\xfe{", "header is not JSON"),
        (lambda h: {**h, "__metadata__": {"format": 3}}, "__metadata__ is not a mapping"),
        (_with_config(norm="bogus"), "unusable architecture config"),
        (_with_config(encoder_width=200000), "do not fit the stored architecture"),
        (_with_config(aspp_channels=10**9), "do not fit the stored|unusable architecture"),
        (_with_config(encoder_layers=[10**6, 1, 1, 1]), "implausible layer counts"),
        (_with_config(widthh=3), "unreadable architecture config"),
        (lambda h: {**h, "bogus.weight": h["head.bias"]}, "unexpected 1"),
        (lambda h: {k: v for k, v in h.items() if k != "head.bias"}, "missing 1"),
        (lambda h: {**h, "head.bias": {**h["head.bias"], "data_offsets": [0, 10**12]}},
         "lies outside the file"),
        (lambda h: {**h, "head.bias": {**h["head.bias"], "shape": [10**6]}},
         "wrong byte count"),
        (lambda h: {**h, "head.bias": {**h["head.bias"], "dtype": "F8_E9"}}, "malformed entry"),
    ],
)
def test_malformed_safetensors_refused_before_allocating(tmp_path, checkpoint, edit,
                                                         message) -> None:
    bad = _rewrite_header(checkpoint, tmp_path / "bad.safetensors", edit)
    with pytest.raises(InputError, match=message) as info:
        load_model(bad)
    assert str(info.value).startswith(str(bad)) and "\n" not in str(info.value)


def test_safetensors_header_length_lies(tmp_path: Path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes((10**15).to_bytes(8, "little") + b"{}")
    with pytest.raises(InputError, match="header length .* does not fit the file"):
        load_model(bad)
    bad.write_bytes(b"\x01\x02")
    with pytest.raises(InputError, match="shorter than its 8-byte header length"):
        load_model(bad)


@pytest.mark.slow
def test_save_model_of_a_compiled_model_loads(tmp_path: Path) -> None:
    model = AlphaGANGenerator(TINY_CONFIG).eval()
    compiled = torch.compile(model)  # wrapping only: nothing compiles until it runs
    save_model(compiled, tmp_path / "c.safetensors")
    loaded = load_model(tmp_path / "c.safetensors")
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value)


# --------------------------------------------------------------------------------------------
# One line, never a traceback: output paths, options


def test_trimap_output_paths(tmp_path, scene, capsys) -> None:
    alpha = tmp_path / "alpha.png"
    write_png(alpha, scene.alpha)
    assert main(["trimap", "--alpha", str(alpha), "--out", str(tmp_path / "t.jpg")]) == 2
    one_error_line(capsys, "t.jpg", ".png")
    (tmp_path / "folder.png").mkdir()
    assert main(["trimap", "--alpha", str(alpha), "--out", str(tmp_path / "folder.png")]) == 1
    one_error_line(capsys, "folder.png")
    assert main(["trimap", "--alpha", str(alpha), "--out", str(alpha / "t.png")]) == 1
    one_error_line(capsys, "alpha.png")
    assert files_under(tmp_path) == ["alpha.png"]


def test_trimap_huge_erode_is_bounded(tmp_path, scene, capsys) -> None:
    alpha = tmp_path / "alpha.png"
    write_png(alpha, scene.alpha)
    out = tmp_path / "t.png"
    assert main(["trimap", "--alpha", str(alpha), "--out", str(out), "--erode", "100000",
                 "--dilate", "0"]) == 0
    assert (read_trimap(out) < 1).all()  # everything foreground was eroded


def test_trimap_from_an_empty_mask_is_refused(tmp_path, capsys) -> None:
    mask = tmp_path / "mask.png"
    write_png(mask, np.zeros((20, 20), np.uint8))
    assert main(["trimap", "--mask", str(mask), "--out", str(tmp_path / "t.png")]) == 1
    one_error_line(capsys, mask)
    assert not (tmp_path / "t.png").exists()


def test_evaluate_json_into_a_folder(tmp_path, scene, capsys) -> None:
    for name in ("pred", "gt", "tri"):
        (tmp_path / name).mkdir()
    write_png(tmp_path / "pred" / "a.png", scene.alpha)
    write_png(tmp_path / "gt" / "a.png", scene.alpha)
    write_png(tmp_path / "tri" / "a.png", trimap_to_uint8(scene.trimap))
    args = ["evaluate", "--pred-dir", str(tmp_path / "pred"), "--gt-dir", str(tmp_path / "gt"),
            "--trimap-dir", str(tmp_path / "tri"), "--json", str(tmp_path / "tri")]
    assert main(args) == 1
    one_error_line(capsys, tmp_path / "tri")


def test_evaluate_refuses_colour_and_rgba_predictions(tmp_path, scene, capsys) -> None:
    for name in ("pred", "gt", "tri"):
        (tmp_path / name).mkdir()
    write_png(tmp_path / "gt" / "a.png", scene.alpha)
    write_png(tmp_path / "tri" / "a.png", trimap_to_uint8(scene.trimap))
    args = ["evaluate", "--pred-dir", str(tmp_path / "pred"), "--gt-dir", str(tmp_path / "gt"),
            "--trimap-dir", str(tmp_path / "tri")]
    rgba = np.dstack([scene.image, scene.alpha])  # a cut-out given as the prediction
    write_png(tmp_path / "pred" / "a.png", rgba)
    assert main(args) == 1
    one_error_line(capsys, tmp_path / "pred" / "a.png", "transparency")
    write_png(tmp_path / "pred" / "a.png", scene.image)  # a composite / photo
    assert main(args) == 1
    one_error_line(capsys, tmp_path / "pred" / "a.png", "colour")
    grey_rgb = np.repeat(scene.alpha[..., None], 3, axis=2)  # a grey alpha saved as RGB: fine
    write_png(tmp_path / "pred" / "a.png", grey_rgb)
    assert main(args) == 0


def test_rgb_trimap_with_coloured_foreground_is_refused(tmp_path, scene) -> None:
    grey = trimap_to_uint8(scene.trimap)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    write_png(tmp_path / "grey.png", rgb)
    assert np.array_equal(read_trimap(tmp_path / "grey.png"), scene.trimap)
    rgb[grey == 255] = (255, 0, 0)  # foreground painted red: its brightness is 76
    write_png(tmp_path / "red.png", rgb)
    with pytest.raises(InputError, match=r"red\.png: is a colour image"):
        read_trimap(tmp_path / "red.png")


def test_demo_synth_export_train_output_paths(tmp_path, checkpoint, capsys) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["demo", "--out", str(a_file), "--method", "cf"]) == 1
    one_error_line(capsys, a_file, "not a folder")
    assert main(["synth", "--out", str(a_file), "--count", "1"]) == 1
    one_error_line(capsys, a_file)
    assert main(["export", "--format", "torchscript", "--checkpoint", str(checkpoint),
                 "--out", str(a_file / "m.pt")]) == 1
    one_error_line(capsys, a_file)
    assert main(["export", "--format", "onnx", "--checkpoint", str(checkpoint),
                 "--out", str(tmp_path / "m.onnx"), "--opset", "9"]) == 2
    one_error_line(capsys, "--opset 9")
    assert main(["train", "--out", str(a_file), "--config", str(a_file)]) == 1
    one_error_line(capsys, a_file)
    assert files_under(tmp_path) == ["file"]


@pytest.mark.parametrize(("device", "code"), [("meta", 1), ("mps", 1), ("xpu", 1),
                                              ("nonsense", 1)])
def test_unavailable_devices(tmp_path, checkpoint, scene, capsys, device, code) -> None:
    if device in ("mps", "xpu") and getattr(torch, device).is_available():
        pytest.skip(f"this machine has {device}")
    write_png(tmp_path / "i.png", scene.image)
    write_png(tmp_path / "t.png", trimap_to_uint8(scene.trimap))
    assert main(["predict", "--checkpoint", str(checkpoint), "--device", device, "--image",
                 str(tmp_path / "i.png"), "--trimap", str(tmp_path / "t.png"), "--out",
                 str(tmp_path / "out")]) == code
    one_error_line(capsys, device)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------
# Folder runs: per-job failures, all-or-none outputs, names


@pytest.mark.slow
def test_folder_run_mixes_good_images_with_every_failure_kind(tmp_path, checkpoint, scene,
                                                              capsys) -> None:
    images, trimaps, out = tmp_path / "images", tmp_path / "trimaps", tmp_path / "out"
    tri = trimap_to_uint8(scene.trimap)
    for stem in ("good1", "good2"):
        write_png(images / f"{stem}.png", scene.image)
        write_png(trimaps / f"{stem}.png", tri)
    # one pixel (pymatting's foreground divided by zero), one pixel wide (flip TTA)
    write_png(images / "dot.png", np.full((1, 1, 3), 0.5, np.float32))
    write_png(trimaps / "dot.png", np.full((1, 1), 128, np.uint8))
    write_png(images / "thin.png", scene.image[:, :1])
    write_png(trimaps / "thin.png", np.full((scene.image.shape[0], 1), 128, np.uint8))
    # failures: same stem twice, a FIFO, a truncated file, a bomb, a long stem that fits
    write_png(images / "cat.png", scene.image)
    Image.fromarray((scene.image * 255).astype(np.uint8)).save(images / "cat.jpg")
    write_png(trimaps / "cat.png", tri)
    os.mkfifo(images / "pipe.png")
    write_png(trimaps / "pipe.png", tri)
    (images / "cut.png").write_bytes((images / "good1.png").read_bytes()[:100])
    write_png(trimaps / "cut.png", tri)
    (images / "bomb.png").write_bytes(png_bytes(30000, 30000, depth=16, colour=2))
    write_png(trimaps / "bomb.png", tri)
    long_stem = "x" * 240
    write_png(images / f"{long_stem}.png", scene.image)
    write_png(trimaps / f"{long_stem}.png", tri)

    code = main(["predict", "--checkpoint", str(checkpoint), "--image-dir", str(images),
                 "--trimap-dir", str(trimaps), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    written = {"good1", "good2", "dot", "thin", long_stem}
    kinds = ("alpha", "composite", "cutout", "foreground")
    assert files_under(out) == sorted(f"{k}/{s}.png" for k in kinds for s in written)
    failed = [line.strip() for line in err.splitlines() if line.startswith("  ")]
    for name in ("cat.png", "cat.jpg", "pipe.png", "cut.png", "bomb.png"):
        assert sum(line.startswith(f"{images / name}: ") for line in failed) == 1, (name, failed)
    assert len(failed) == 5
    assert np.allclose(read_image(out / "foreground" / "dot.png"), 0.5, atol=1 / 255)


def test_a_job_writes_all_outputs_or_none(tmp_path, scene) -> None:
    write_png(tmp_path / "i.png", scene.image)
    write_png(tmp_path / "t.png", trimap_to_uint8(scene.trimap))
    out = tmp_path / "out"
    (out).mkdir()
    (out / "cutout").write_text("a file where the cutout folder should be")
    job = MattingJob("a", tmp_path / "i.png", tmp_path / "t.png")
    estimate = lambda image, trimap: np.where(trimap == 0.5, 0.5, trimap)  # noqa: E731
    report = run_jobs([job], estimate, out, OutputSpec(("alpha", "foreground", "cutout")),
                      progress=False)
    assert report.written == [] and len(report.failed) == 1
    assert str(tmp_path / "i.png") in report.failed[0] and "cutout" in report.failed[0]
    assert files_under(out) == ["cutout"]  # no alpha/ or foreground/ left behind


def test_a_job_that_raises_anything_does_not_stop_the_others(tmp_path, scene) -> None:
    jobs = []
    for stem in ("a", "b", "c"):
        write_png(tmp_path / f"{stem}.png", scene.image)
        write_png(tmp_path / f"{stem}_t.png", trimap_to_uint8(scene.trimap))
        jobs.append(MattingJob(stem, tmp_path / f"{stem}.png", tmp_path / f"{stem}_t.png"))
    calls = []

    def estimate(image, trimap):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the estimator broke")
        return np.where(trimap == 0.5, 0.5, trimap)

    report = run_jobs(jobs, estimate, tmp_path / "out", OutputSpec(("alpha",)), progress=False)
    assert report.written == ["a", "c"]
    assert report.failed == [f"{tmp_path / 'b.png'}: RuntimeError: the estimator broke"]


def test_write_all_or_none_names_the_output_and_cleans_up(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("x")
    files = {tmp_path / "ok" / "a.png": b"1", tmp_path / "blocker" / "a.png": b"2"}
    with pytest.raises(OSError) as info:
        write_all_or_none(files)
    assert "blocker" in str(info.value.filename)
    assert files_under(tmp_path) == ["blocker"]


def test_duplicate_stems_are_reported_per_file(tmp_path, scene) -> None:
    for folder in ("i", "t"):
        for stem in ("a", "b"):
            write_png(tmp_path / folder / f"{stem}.png", scene.image if folder == "i"
                      else trimap_to_uint8(scene.trimap))
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "i" / "a.jpg")
    jobs, problems, unused = pair_folders(tmp_path / "i", tmp_path / "t")
    assert [job.stem for job in jobs] == ["b"] and unused == []
    assert len(problems) == 2 and all("shares the stem 'a'" in p for p in problems)
    assert {Path(p.split(":")[0]).name for p in problems} == {"a.png", "a.jpg"}


# --------------------------------------------------------------------------------------------
# Inference options: --max-side, --tile, tiny images


class Constant(torch.nn.Module):
    """A stand-in network whose raw output is 0.5 everywhere (so clamping is visible)."""

    def forward(self, image: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
        return torch.full_like(trimap, 0.5)


def test_max_side_keeps_thin_unknown_bands() -> None:
    trimap = np.zeros((64, 64), np.float32)
    trimap[:, 33:] = 1.0
    trimap[:, 32] = 0.5  # a one-pixel band; the downscale factor is 4
    image = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    small = downscale_trimap(trimap, (16, 16))
    assert (small[:, 8] == 0.5).all()  # the band's small pixels stay unknown
    alpha = predict_alpha(Constant(), image, trimap, max_side=16, region="full", tta="none")
    band = alpha[:, 32]
    assert (band > 0.25).all() and (band < 0.75).all()  # the network's 0.5, not 0
    assert (alpha[trimap == 0] == 0).all() and (alpha[trimap == 1] == 1).all()


def test_max_side_clamps_before_upsampling() -> None:
    # Known pixels of the small trimap must not leak the network's raw 0.5 into the unknown
    # band through the bilinear upsampling: next to known background the band sits below 0.5.
    trimap = np.zeros((64, 64), np.float32)
    trimap[:, 24:40] = 0.5
    trimap[:, 40:] = 1.0
    alpha = predict_alpha(Constant(), np.zeros((64, 64, 3), np.float32), trimap, max_side=16,
                          region="full", tta="none")
    assert alpha[:, 24].max() < 0.5 < alpha[:, 39].min()


def test_small_tiles_are_raised_to_the_context(tmp_path, checkpoint, scene, capsys) -> None:
    model = load_model(checkpoint)
    smallest = min_tile(model)
    assert smallest % 8 == 0 and smallest >= 64
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        low = predict_alpha(model, scene.image, scene.trimap, tile=64)
    assert any(f"using {smallest}" in str(w.message) for w in caught)
    assert np.array_equal(low, predict_alpha(model, scene.image, scene.trimap, tile=smallest))
    write_png(tmp_path / "i.png", scene.image)
    write_png(tmp_path / "t.png", trimap_to_uint8(scene.trimap))
    assert main(["predict", "--checkpoint", str(checkpoint), "--image", str(tmp_path / "i.png"),
                 "--trimap", str(tmp_path / "t.png"), "--out", str(tmp_path / "o"),
                 "--tile", "64", "--outputs", "alpha"]) == 0
    assert f"using {smallest}" in capsys.readouterr().err


def test_one_pixel_images(checkpoint) -> None:
    model = load_model(checkpoint)
    for shape in ((1, 1), (1, 9), (9, 1)):
        image = np.full((*shape, 3), 0.25, np.float32)
        trimap = np.full(shape, 0.5, np.float32)
        alpha = predict_alpha(model, image, trimap, tta="flip")
        assert alpha.shape == shape
        assert estimate_foreground(image, alpha).shape == (*shape, 3)


# --------------------------------------------------------------------------------------------
# Training: metrics log and temporary files after kills


def test_truncate_log_drops_torn_lines_and_later_steps(tmp_path: Path) -> None:
    log = tmp_path / "metrics.jsonl"
    log.write_text('{"step": 1}\n{"step": 2}\n{"step": 3, "split": "val"}\n{"step": 4, "g"')
    _truncate_log(log, 2)
    assert log.read_text() == '{"step": 1}\n{"step": 2}\n'
    _truncate_log(log, 0)  # no checkpoint yet: every row will be logged again
    assert log.read_text() == ""


def test_stale_temporary_files_are_removed(tmp_path: Path) -> None:
    from alphagan.training.config import TrainConfig

    ckpts = tmp_path / "run" / "checkpoints"
    ckpts.mkdir(parents=True)
    stale = [ckpts / ".latest.0123abcd.tmp.pt", tmp_path / "run" / ".metrics.deadbeef.tmp.jsonl"]
    keep = [ckpts / "latest.pt.bak", ckpts / ".latest.note.pt", ckpts / "other.pt"]
    for path in stale + keep:
        path.write_bytes(b"half")

    class Main:
        is_main = True

    (ckpts / "latest.pt").write_bytes(b"x")
    _prepare_run_dir(tmp_path / "run", TrainConfig(), Main())
    assert not any(p.exists() for p in stale) and all(p.exists() for p in keep)
    assert remove_stale_temps(ckpts / "latest.pt") == []


# --------------------------------------------------------------------------------------------
# Fuzz: generated malformed inputs through the public API and every subcommand


def _malformed_files(rng: np.random.Generator, folder: Path) -> list[Path]:
    """Files of every kind that must be refused: random bytes, truncations, bit flips,
    header lies, special files, wrong content types."""
    folder.mkdir(parents=True, exist_ok=True)
    good = folder / "good_src.png"
    write_png(good, rng.random((24, 32, 3), dtype=np.float32))
    data = good.read_bytes()
    made = []

    def add(name: str, content: bytes) -> None:
        path = folder / name
        path.write_bytes(content)
        made.append(path)

    for i in range(4):
        add(f"random{i}.png", rng.bytes(int(rng.integers(0, 300))))
        cut = int(rng.integers(1, len(data) - 1))
        add(f"trunc{i}.png", data[:cut])
        flipped = bytearray(data)
        for pos in rng.integers(8, len(data), size=8):
            flipped[pos] ^= 0xFF
        add(f"flip{i}.png", bytes(flipped))
        w, h = (int(v) for v in rng.integers(20000, 60000, size=2))
        add(f"huge{i}.png", png_bytes(w, h, depth=int(rng.choice([8, 16])), colour=2))
    add("zero_size.png", png_bytes(0, 10))
    add("text.png", b"not an image\n" * 3)
    fifo = folder / "fifo.png"
    os.mkfifo(fifo)
    made.append(fifo)
    link = folder / "devzero.png"
    link.symlink_to("/dev/zero")
    made.append(link)
    good.unlink()
    return made


def test_fuzz_public_api_refuses_with_one_line(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    for path in _malformed_files(rng, tmp_path / "bad"):
        for reader in (read_image, read_grey, read_trimap, load_model, load_training_state):
            with pytest.raises(InputError) as info:
                reader(path)
            message = str(info.value)
            assert str(path) in message and "\n" not in message, (reader, message)


@pytest.mark.slow
def test_fuzz_every_subcommand(tmp_path, checkpoint, scene, capsys) -> None:
    rng = np.random.default_rng(7)
    bad_files = _malformed_files(rng, tmp_path / "bad")
    good_image, good_trimap = tmp_path / "good" / "i.png", tmp_path / "good" / "t.png"
    write_png(good_image, scene.image)
    write_png(good_trimap, trimap_to_uint8(scene.trimap))
    out = tmp_path / "out"
    bad_configs = [tmp_path / "cfg1.yaml", tmp_path / "cfg2.yaml", tmp_path / "cfg3.yaml"]
    bad_configs[0].write_text("model: [unclosed\n")
    bad_configs[1].write_text("- a list\n- not a mapping\n")
    bad_configs[2].write_bytes(b"\xff\xfe\x00bad utf8")
    # "billion laughs": 10 levels of 10 aliases, 10**10 items if anything expanded them
    laughs = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    laughs += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    bad_configs.append(tmp_path / "laughs.yaml")
    bad_configs[3].write_text("\n".join(laughs) + "\nsteps: *a9\n")
    bad_configs.append(tmp_path / "laughs2.yaml")
    bad_configs[4].write_text("x: &x [" + ", ".join(["1"] * 10) + "]\nsteps: [*x, *x]\n"
                              "data: {crop_choices: [*x, *x]}\n")
    picked = [bad_files[i] for i in rng.choice(len(bad_files), size=6, replace=False)]
    picked += [p for p in bad_files if p.name in ("fifo.png", "devzero.png")]
    commands = []
    for bad in picked:
        commands += [
            (["predict", "--checkpoint", str(checkpoint), "--image", str(bad), "--trimap",
              str(good_trimap), "--out", str(out)], bad),
            (["predict", "--checkpoint", str(checkpoint), "--image", str(good_image),
              "--trimap", str(bad), "--out", str(out)], bad),
            (["predict", "--checkpoint", str(bad), "--image", str(good_image), "--trimap",
              str(good_trimap), "--out", str(out)], bad),
            (["baseline", "--method", "cf", "--image", str(bad), "--trimap", str(good_trimap),
              "--out", str(out)], bad),
            (["trimap", "--alpha", str(bad), "--out", str(out / "t.png")], bad),
            (["trimap", "--mask", str(bad), "--out", str(out / "t.png")], bad),
            (["export", "--format", "torchscript", "--checkpoint", str(bad), "--out",
              str(out / "m.pt")], bad),
            (["demo", "--checkpoint", str(bad), "--out", str(out)], bad),
        ]
    for config in bad_configs:
        commands.append((["train", "--config", str(config), "--out", str(out)], config))
    before = files_under(tmp_path)
    for argv, bad in commands:
        code = main(argv)
        assert code in (1, 2), argv
        one_error_line(capsys, bad)
        assert files_under(tmp_path) == before, argv
        assert not out.exists() or files_under(out) == [], argv
