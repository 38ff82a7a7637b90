"""The performance benchmark: one command, one table, one JSON file.

    python -m benchmarks.run [--quick] [--update-readme] [--only SECTION,...]

Sections (each measurement runs in a fresh child process, so its peak memory is its own):

- ``models``: the paper's ResNet-50 generator (random weights: speed does not depend on
  them) and the shipped model, at 800x600, 1920x1080 and 3840x2160, fp32 and bf16, on full
  frames (the network runs on every pixel: ``region="full"``, ``tile="auto"`` as ``predict``
  uses it). Seconds are the median of ``--repeats`` runs after one warm-up run at the same
  size (``--repeats-4k`` at 3840x2160); FLOPs are counted by ``torch.utils.flop_counter``
  over the warm-up run (tiles, overlaps and pooled-mean passes included: what was executed);
  GFLOP/s = FLOPs / median seconds, and "% peak" divides it by the best ``torch.mm`` rate of
  the same precision measured in the same process right after (square matrices, 2048 and
  4096). Peak RSS is the child's maximum resident set size (Python and torch included).
- ``scenes``: what a user gets on real photos: ``predict`` with its defaults (shipped model,
  unknown region, flip TTA), the shipped model on the whole image and on the unknown region
  without TTA (the saving of ``--region unknown``), and ``baseline`` cf/knn/lkm on the same
  alphamatting.com scenes (Trimap1, about 800x600): seconds per image, peak RSS.
- ``cli``: one photo from the command line, as a user runs it: ``alphagan predict IMAGE
  TRIMAP -o DIR`` (shipped model, default options and outputs) against ``alphagan baseline
  --method cf`` with the same files and outputs; wall seconds of the whole process (Python
  start, imports, model load, matting, foreground, writing), median of ``--repeats`` runs
  alternating the two.
- ``precision``: the effect of ``--precision bf16`` on the shipped model's mean SAD over all
  18 alphamatting.com training scenes in ../shared x 2 trimaps.
- ``metrics``: SAD+MSE+Grad+Conn on one real 800x600 image (median of 5).
- ``data``: the DIM composition pipeline at 320x320 in one process (= one worker).
- ``train``: optimiser steps per second of G+D (random batches: the model's cost alone)
  for the shipped recipe (batch 8 at 224, bf16, channels-last) and the paper model.
- ``onnx``: ONNX Runtime CPU seconds next to torch's for the same model and size (needs the
  ``onnx`` extra).

Writes ``benchmarks/results/bench.json``; ``--update-readme`` rewrites the README's
performance section between its ``bench:start``/``bench:end`` markers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "bench.json"
SIZES = {"800x600": (600, 800), "1920x1080": (1080, 1920), "3840x2160": (2160, 3840)}
QUICK_SIZES = {"160x120": (120, 160), "320x240": (240, 320)}
SCENES = ["GT01", "GT04", "GT07", "GT09", "GT12", "GT15", "GT18", "GT21", "GT25"]  # 9 of the 18
SECTIONS = ("models", "region", "scenes", "cli", "highres", "precision", "metrics", "data",
            "train", "onnx")
MARK_START, MARK_END = "<!-- bench:start -->", "<!-- bench:end -->"


# ----------------------------------------------------------------------------------------
# Child-side measurements: each returns a JSON-able dict.
# ----------------------------------------------------------------------------------------

def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def _median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak(precision: str) -> float:
    """Best GFLOP/s of ``torch.mm`` on square matrices in this process (fp32 or bf16)."""
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    best = 0.0
    for n, reps in ((2048, 10), (4096, 3)):
        a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
        torch.mm(a, b)  # warm-up
        seconds = _median_seconds(lambda a=a, b=b: torch.mm(a, b), reps)
        best = max(best, 2 * n**3 / seconds / 1e9)
    return best


def conv_peak(precision: str) -> float:
    """GFLOP/s of one large 3x3 convolution (256 -> 256 channels, 128x128, channels-last).

    fp32 ``torch.mm`` goes through MKL, convolutions through oneDNN's own kernels, which can
    be faster on the same CPU (on AMD in particular): this is the stricter reference.
    """
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    conv = torch.nn.Conv2d(256, 256, 3, padding=1, bias=False).eval()
    conv = conv.to(dtype=dtype, memory_format=torch.channels_last)
    x = torch.randn(1, 256, 128, 128).to(dtype).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        conv(x)
        seconds = _median_seconds(lambda: conv(x), 5)
    return 2 * 256 * 256 * 9 * 128 * 128 / seconds / 1e9


def _load_generator(name: str):
    from alphagan.checkpoint import default_checkpoint, load_model
    from alphagan.models import AlphaGANGenerator

    if name == "paper":
        import torch

        torch.manual_seed(0)
        return AlphaGANGenerator()
    return load_model(default_checkpoint())


def _frame(height: int, width: int):
    """A smooth random RGB frame and a trimap that is unknown but for a background first row
    and a foreground last row (content does not change the network's speed; a model with
    classical priors needs both labels, and its priors are then solved and timed too)."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    image = cv2.resize(rng.random((24, 32, 3), dtype=np.float32), (width, height),
                       interpolation=cv2.INTER_CUBIC).clip(0, 1)
    trimap = np.full((height, width), 0.5, np.float32)
    trimap[0], trimap[-1] = 0.0, 1.0
    return image, trimap


def child_model(model: str, height: int, width: int, precision: str, repeats: int) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    from alphagan import defaults
    from alphagan.inference import _predict, model_prior, prepare_for_inference

    net = prepare_for_inference(_load_generator(model))
    image, trimap = _frame(height, width)
    # The network alone: a prior model's classical solves (alphagan.prior) run once here and
    # are reported apart, so seconds, GFLOP/s and the ratios describe the network.
    start = time.perf_counter()
    prior = model_prior(net, image, trimap)
    prior_seconds = time.perf_counter() - start if prior is not None else None

    def run() -> None:
        _predict(net, image, trimap, prior, precision=precision, region="full", margin=None,
                 pooling=defaults.POOLING, tile="auto", overlap=None)

    with FlopCounterMode(display=False) as counter:  # the warm-up run
        run()
    seconds = _median_seconds(run, repeats)
    rss = _peak_rss_gib()
    flops = counter.get_total_flops()
    peak, conv = matmul_peak(precision), conv_peak(precision)
    achieved = flops / seconds / 1e9
    return {"seconds": seconds, "prior_seconds": prior_seconds, "peak_rss_gib": rss,
            "gflop": flops / 1e9,
            "gflop_per_s": achieved, "matmul_peak_gflop_per_s": peak,
            "ratio_to_peak": achieved / peak, "conv_peak_gflop_per_s": conv,
            "ratio_to_best_kernel": achieved / max(peak, conv)}


def _scene(stem: str):
    from alphagan.io import read_alpha, read_image
    from alphagan.trimap import read_trimap

    root = DATA / "alphamatting"
    image = read_image(root / "input_training_lowres" / f"{stem}.png")
    trimap = read_trimap(root / "trimap_training_lowres" / "Trimap1" / f"{stem}.png")
    alpha = read_alpha(root / "gt_training_lowres" / f"{stem}.png")
    return image, trimap, alpha


def child_scenes(method: str, scenes: list[str]) -> dict:
    """Seconds per image of one method; ``alphagan:<region>:<tta>`` for the shipped model."""
    from alphagan.baselines import estimate_alpha_baseline
    from alphagan.inference import predict_alpha, prepare_for_inference
    from alphagan.tiling import context_radius, unknown_window
    from alphagan.trimap import unknown_mask

    data = [_scene(s) for s in scenes]
    extra: dict[str, float] = {}
    if method.startswith("alphagan"):
        _, region, tta = method.split(":")
        model = _load_generator("shipped")
        margin = context_radius(model.config)
        windows = [unknown_window(unknown_mask(d[1]), margin) for d in data]
        extra["network_area_fraction"] = statistics.mean(
            1.0 if region == "full" else (w.shape[0] * w.shape[1] if w else 0) / d[1].size
            for w, d in zip(windows, data))
        net = prepare_for_inference(model)

        def matte(image, trimap):
            return predict_alpha(net, image, trimap, region=region, tta=tta, tile="auto")
    else:
        def matte(image, trimap):
            return estimate_alpha_baseline(method, image, trimap)

    matte(*data[0][:2])  # warm-up (numba kernels, oneDNN primitives)
    seconds = [_median_seconds(lambda d=d: matte(d[0], d[1]), 1) for d in data]
    pixels = [d[1].size for d in data]
    return {"seconds_per_image": statistics.mean(seconds), "peak_rss_gib": _peak_rss_gib(),
            "images": len(data), "mean_megapixels": statistics.mean(pixels) / 1e6, **extra}


def child_highres(trimap_set: str = "Trimap1") -> dict:
    """The shipped model on the 3280x2310 alphamatting.com photo (GT04): whole image in one
    piece, in 1024-pixel tiles, and on the unknown region only (tiles auto), no TTA."""
    import numpy as np

    from alphagan.inference import predict_alpha, prepare_for_inference
    from alphagan.io import read_alpha, read_image
    from alphagan.metrics import sad
    from alphagan.tiling import context_radius, unknown_window
    from alphagan.trimap import read_trimap, unknown_mask

    root = DATA / "alphamatting_highres"
    image = read_image(root / "input" / "GT04.jpg")
    trimap = read_trimap(root / "trimap" / trimap_set / "GT04.png")
    gt = read_alpha(root / "gt" / "GT04.png")
    model = _load_generator("shipped")
    window = unknown_window(unknown_mask(trimap), context_radius(model.config))
    net = prepare_for_inference(model)
    runs = {"full, one piece": dict(region="full", tile=None, tta="none"),
            "full, 1024 tiles": dict(region="full", tile=1024, tta="none"),
            "unknown region": dict(region="unknown", tile="auto", tta="none")}
    out: dict[str, Any] = {"size": f"{trimap.shape[1]}x{trimap.shape[0]}",
                           "network_area_fraction": window.shape[0] * window.shape[1]
                           / trimap.size}
    alphas = {}
    for name, options in runs.items():
        start = time.perf_counter()
        alphas[name] = predict_alpha(net, image, trimap, **options)
        out[name] = {"seconds": time.perf_counter() - start, "sad": sad(alphas[name], gt, trimap)}
    reference = alphas["full, one piece"]
    for name in list(runs)[1:]:
        out[name]["mean_abs_diff_vs_one_piece"] = float(np.abs(alphas[name] - reference).mean())
    out["peak_rss_gib"] = _peak_rss_gib()
    return out


def child_region(height: int = 1080, width: int = 1920, box: int = 320) -> dict:
    """``--region unknown`` against the whole frame, shipped model, no TTA: a frame whose
    unknown pixels fill a ``box``-sided square in its middle (a small subject in a big photo).
    The default ``pooling="image"`` makes the crop exact (float rounding alone);
    ``pooling="region"`` skips the whole-image encoder pass and approximates."""
    import numpy as np

    from alphagan.inference import predict_alpha, prepare_for_inference
    from alphagan.tiling import context_radius, unknown_window
    from alphagan.trimap import unknown_mask

    image, trimap = _frame(height, width)
    trimap[:] = 0.0
    y0, x0 = (height - box) // 2, (width - box) // 2
    trimap[y0:y0 + box, x0:x0 + box] = 0.5
    trimap[y0 + box // 4:y0 + 3 * box // 4, x0 + box // 4:x0 + 3 * box // 4] = 1.0
    model = _load_generator("shipped")
    window = unknown_window(unknown_mask(trimap), context_radius(model.config))
    net = prepare_for_inference(model)
    plain = dict(tile=None, tta="none")  # one pass, no tiles: the region effect alone
    runs = {"full": dict(region="full", **plain), "unknown": dict(region="unknown", **plain),
            "unknown, pooling=region": dict(region="unknown", pooling="region", **plain)}
    alphas, out = {}, {}
    for name, options in runs.items():
        predict_alpha(net, image, trimap, **options)  # warm-up at this shape
        start = time.perf_counter()
        alphas[name] = predict_alpha(net, image, trimap, **options)
        out[name] = {"seconds": time.perf_counter() - start}
    unknown = trimap == 0.5
    for name in ("unknown", "unknown, pooling=region"):
        out[name]["max_abs_diff_vs_full"] = float(np.abs(alphas[name] - alphas["full"])
                                                  [unknown].max())
    return {"size": f"{width}x{height}", "margin": context_radius(model.config),
            "network_area_fraction": window.shape[0] * window.shape[1] / trimap.size, **out}


def child_precision() -> dict:
    """Mean SAD of the shipped model (``predict`` defaults) in fp32 and bf16 on every
    alphamatting.com training scene with both trimaps."""
    import numpy as np

    from alphagan.inference import predict_alpha, prepare_for_inference
    from alphagan.io import read_alpha, read_image
    from alphagan.metrics import sad
    from alphagan.trimap import read_trimap

    root = DATA / "alphamatting"
    net = prepare_for_inference(_load_generator("shipped"))
    sads: dict[str, list[float]] = {"fp32": [], "bf16": []}
    diffs = []
    for path in sorted((root / "input_training_lowres").glob("*.png")):
        image, alpha = read_image(path), read_alpha(root / "gt_training_lowres" / path.name)
        for trimap_set in ("Trimap1", "Trimap2"):
            trimap = read_trimap(root / "trimap_training_lowres" / trimap_set / path.name)
            preds = {p: predict_alpha(net, image, trimap, precision=p, region="unknown",
                                      tta="flip") for p in sads}
            for p, pred in preds.items():
                sads[p].append(sad(pred, alpha, trimap))
            diffs.append(float(np.abs(preds["bf16"] - preds["fp32"])[trimap == 0.5].mean()))
    fp32, bf16 = statistics.mean(sads["fp32"]), statistics.mean(sads["bf16"])
    return {"images": len(sads["fp32"]), "mean_sad_fp32": fp32, "mean_sad_bf16": bf16,
            "relative_change": (bf16 - fp32) / fp32,
            "mean_abs_alpha_diff_unknown": statistics.mean(diffs)}


def child_cli(stem: str, repeats: int) -> dict:
    """Whole-process seconds of one-photo ``predict`` and ``baseline --method cf``."""
    import tempfile

    from alphagan.io import read_image

    image = DATA / "alphamatting" / "input_training_lowres" / f"{stem}.png"
    trimap = DATA / "alphamatting" / "trimap_training_lowres" / "Trimap1" / f"{stem}.png"
    height, width = read_image(image).shape[:2]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("OMP_WAIT_POLICY", None)
    files = [str(image), str(trimap)]
    commands = {
        "predict": (["-m", "alphagan", "predict", *files], {}),
        # no mirror pass: half the network time (MODEL_CARD: SAD 4.56 against 4.54)
        "predict --tta none": (["-m", "alphagan", "predict", "--tta", "none", *files], {}),
        "baseline cf": (["-m", "alphagan", "baseline", "--method", "cf", *files], {}),
        # OpenMP's default (spinning idle threads), to show what PASSIVE changes
        "predict, OMP_WAIT_POLICY=ACTIVE": (["-m", "alphagan", "predict", *files],
                                            {"OMP_WAIT_POLICY": "ACTIVE"}),
        "import torch": (["-c", "import torch"], {}),
        "alphagan --help": (["-m", "alphagan", "--help"], {}),
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as out:
        for _ in range(repeats):
            for name, (command, extra) in commands.items():
                outputs = [] if name in ("import torch", "alphagan --help") else [
                    "-o", str(Path(out) / name.split(",")[0].replace(" ", "_")), "--overwrite",
                    "--quiet"]
                start = time.perf_counter()
                subprocess.run([sys.executable, *command, *outputs], check=True,
                               env={**env, **extra}, capture_output=True)
                times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t) for name, t in times.items()}
    # the issue's speed target: predict no slower than closed-form, whole command included
    return {"size": f"{width}x{height}", "stem": stem, "load_average": os.getloadavg()[0],
            **medians, "predict / baseline cf": medians["predict"] / medians["baseline cf"]}


def child_metrics(repeats: int) -> dict:
    import cv2

    from alphagan.metrics import compute_all

    image, trimap, alpha = _scene("GT01")
    height, width = 600, 800
    alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)
    trimap = cv2.resize(trimap, (width, height), interpolation=cv2.INTER_NEAREST)
    pred = cv2.GaussianBlur(alpha, (0, 0), 2.0)  # a plausible imperfect prediction
    compute_all(pred, alpha, trimap)
    return {"seconds": _median_seconds(lambda: compute_all(pred, alpha, trimap), repeats),
            "size": f"{width}x{height}"}


def child_data(samples: int) -> dict:
    from alphagan.data import (
        CompositionDataset,
        alphamatting_train_items,
        list_backgrounds,
        prepare_foregrounds,
    )

    items = prepare_foregrounds(alphamatting_train_items(DATA / "alphamatting"), None,
                                progress=False)
    dataset = CompositionDataset(items, list_backgrounds(DATA / "backgrounds"), crop_size=320,
                                 length=samples, seed=0)
    dataset.set_epoch(0)
    for index in range(samples):  # warm-up pass: fills the decode cache
        dataset[index]
    dataset.set_epoch(1)
    start = time.perf_counter()
    for index in range(samples):
        dataset[index]
    return {"samples_per_s": samples / (time.perf_counter() - start), "crop": 320}


def child_train(config_name: str, batch: int, crop: int, precision: str, steps: int) -> dict:
    import contextlib

    import torch

    from alphagan.losses import GANLoss
    from alphagan.training.build import build_models, build_optimizers
    from alphagan.training.config import load_config
    from alphagan.training.step import gan_step

    # No ImageNet file needed: the step's cost does not depend on the weights.
    config = load_config(REPO / "configs" / config_name, ["model.backbone_weights=null"],
                         base=REPO)
    torch.manual_seed(0)
    generator, discriminator = build_models(config.model, verbose=False)
    fmt = torch.channels_last if config.channels_last else torch.contiguous_format
    generator.to(memory_format=fmt).train()
    discriminator.to(memory_format=fmt).train()
    opt_g, opt_d = build_optimizers(generator, discriminator, config.optim)
    alpha = torch.rand(batch, 1, crop, crop)
    trimap = torch.full_like(alpha, 0.5)
    fg, bg = torch.rand(batch, 3, crop, crop), torch.rand(batch, 3, crop, crop)
    data = {"image": alpha * fg + (1 - alpha) * bg, "alpha": alpha, "trimap": trimap,
            "fg": fg, "bg": bg}
    data = {k: v.contiguous(memory_format=fmt) for k, v in data.items()}
    amp = (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16"
           else contextlib.nullcontext())

    def step() -> None:
        gan_step(generator, discriminator, opt_g, opt_d, data, gan_loss=GANLoss("vanilla"),
                 autocast=amp)

    step()
    seconds = _median_seconds(step, steps)
    return {"samples_per_s": batch / seconds, "seconds_per_step": seconds, "batch": batch,
            "crop": crop, "precision": precision, "peak_rss_gib": _peak_rss_gib()}


def child_onnx(model: str, height: int, width: int, repeats: int) -> dict:
    import onnxruntime as ort
    import torch

    from alphagan.export import export_model
    from alphagan.inference import prepare_for_inference

    net = _load_generator(model)
    image, _ = _frame(height, width)
    x = torch.from_numpy(image.transpose(2, 0, 1).copy())[None]
    t = torch.full((1, 1, height, width), 0.5)
    with tempfile.TemporaryDirectory() as tmp:
        path = export_model(net, Path(tmp) / "model.onnx", format="onnx")
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feeds = {"image": x.numpy(), "trimap": t.numpy()}
        session.run(None, feeds)
        ort_s = _median_seconds(lambda: session.run(None, feeds), repeats)
    fast = prepare_for_inference(net)
    with torch.inference_mode():
        fast(x, t)
        torch_s = _median_seconds(lambda: fast(x, t), repeats)
    return {"onnxruntime_seconds": ort_s, "torch_seconds": torch_s,
            "onnxruntime_version": ort.__version__}


CHILDREN: dict[str, Callable[..., dict]] = {
    "model": child_model, "scenes": child_scenes, "highres": child_highres,
    "region": child_region,
    "precision": child_precision,
    "metrics": child_metrics,
    "data": child_data, "train": child_train, "onnx": child_onnx, "cli": child_cli,
}


# ----------------------------------------------------------------------------------------
# Parent: plan, run children, print, write.
# ----------------------------------------------------------------------------------------

def _spawn(kind: str, threads: int, **kwargs: Any) -> dict:
    spec = json.dumps({"kind": kind, "threads": threads, "kwargs": kwargs})
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--child", spec], cwd=REPO,
                          capture_output=True, text=True, env=env)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"exit {proc.returncode}: {tail}"}


def _run_child(spec: str) -> None:
    request = json.loads(spec)
    import torch

    torch.set_num_threads(request["threads"])
    result = CHILDREN[request["kind"]](**request["kwargs"])
    print("RESULT " + json.dumps(result), flush=True)


def _have_shared() -> bool:
    return (DATA / "alphamatting" / "input_training_lowres").is_dir()


def plan(args: argparse.Namespace) -> list[tuple[str, str, dict]]:
    """(section, label, child request) for every measurement, in run order."""
    jobs: list[tuple[str, str, dict]] = []
    sizes = QUICK_SIZES if args.quick else SIZES
    models = ["shipped"] if args.quick else ["paper", "shipped"]
    for model in models:
        for size, (h, w) in sizes.items():
            repeats = args.repeats_4k if size == "3840x2160" else args.repeats
            for precision in ("fp32", "bf16"):
                jobs.append(("models", f"{model} {size} {precision}",
                             {"kind": "model", "model": model, "height": h, "width": w,
                              "precision": precision, "repeats": repeats}))
    jobs.append(("region", "unknown vs full", {"kind": "region"} if not args.quick else
                 {"kind": "region", "height": 240, "width": 320, "box": 64}))
    scenes = SCENES[:2] if args.quick else SCENES
    methods = ["alphagan:unknown:flip", "alphagan:full:none", "alphagan:unknown:none", "cf"]
    if not args.quick:
        methods += ["knn", "lkm"]
    for method in methods:
        jobs.append(("scenes", method, {"kind": "scenes", "method": method, "scenes": scenes}))
    jobs.append(("cli", "one photo", {"kind": "cli", "stem": "GT01",
                                      "repeats": 1 if args.quick else args.repeats}))
    if not args.quick:
        jobs.append(("highres", "GT04 3280x2310", {"kind": "highres"}))
        jobs.append(("precision", "shipped bf16 vs fp32", {"kind": "precision"}))
    jobs.append(("metrics", "compute_all", {"kind": "metrics", "repeats": 5}))
    jobs.append(("data", "composition", {"kind": "data", "samples": 40 if args.quick else 300}))
    jobs.append(("train", "shipped recipe", {"kind": "train", "config_name":
                 "alphagan_light.yaml", "batch": 8, "crop": 224, "precision": "bf16",
                 "steps": 2 if args.quick else 5}))
    if not args.quick:
        jobs.append(("train", "paper model", {"kind": "train", "config_name":
                     "alphagan_comp1k.yaml", "batch": 2, "crop": 320, "precision": "bf16",
                     "steps": 2}))
    onnx_sizes = {"160x120": (120, 160)} if args.quick else {"800x600": (600, 800),
                                                             "1920x1080": (1080, 1920)}
    for model in models:
        for size, (h, w) in onnx_sizes.items():
            if model == "paper" and size != "800x600":
                continue
            jobs.append(("onnx", f"{model} {size}", {"kind": "onnx", "model": model,
                                                     "height": h, "width": w,
                                                     "repeats": args.repeats}))
    needs_shared = {"scenes", "cli", "highres", "precision", "metrics", "data"}
    return [j for j in jobs if j[0] in args.only and (j[0] not in needs_shared
                                                      or _have_shared())]


def _fmt(value: Any, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def render(results: dict[str, dict[str, dict]], threads: int) -> str:
    """Markdown tables of everything measured."""
    out: list[str] = []
    models = results.get("models", {})
    if models:
        out += [f"Generators on full frames ({threads} threads; median of runs after a "
                f"warm-up; the network alone: a prior model's classical solves, on this "
                f"synthetic frame, are timed once apart; peaks measured in the same process: "
                f"`torch.mm` and, stricter, the best of it and a large oneDNN 3x3 "
                f"convolution):",
                "", "| model | size | precision | s/image | prior solves s | peak RSS GiB "
                "| GFLOP | GFLOP/s | mm peak GFLOP/s | % of mm peak | % of best kernel |",
                "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for label, r in models.items():
            model, size, precision = label.split()
            if "error" in r:
                out.append(f"| {model} | {size} | {precision} | error: {r['error']} |||||||")
                continue
            out.append(f"| {model} | {size} | {precision} | {r['seconds']:.3f} | "
                       f"{_fmt(r.get('prior_seconds'), '.2f')} | {r['peak_rss_gib']:.2f} | {r['gflop']:.1f} | {r['gflop_per_s']:.1f} | "
                       f"{r['matmul_peak_gflop_per_s']:.1f} | {100 * r['ratio_to_peak']:.0f}% | "
                       f"{100 * r['ratio_to_best_kernel']:.0f}% |")
        out.append("")
    scenes = results.get("scenes", {})
    if scenes:
        first = next((r for r in scenes.values() if "error" not in r), {})
        out += [f"Real scenes ({first.get('images', '?')} alphamatting.com images with "
                f"Trimap1, {_fmt(first.get('mean_megapixels'), '.2f')} MP on average; "
                f"`alphagan:REGION:TTA` is the shipped model, `alphagan:unknown:flip` being "
                f"what `predict` does by default; network area = share of the image the "
                f"network runs on):", "",
                "| method | s/image | peak RSS GiB | network area |", "|---|---:|---:|---:|"]
        for label, r in scenes.items():
            if "error" in r:
                out.append(f"| {label} | error: {r['error']} | | |")
            else:
                area = r.get("network_area_fraction")
                out.append(f"| {label} | {r['seconds_per_image']:.2f} | "
                           f"{r['peak_rss_gib']:.2f} | "
                           f"{'' if area is None else format(area, '.0%')} |")
        out.append("")
    for label, r in results.get("region", {}).items():
        if "error" in r:
            out += [f"Region: error: {r['error']}", ""]
            continue
        out += [f"Unknown region only (shipped model, no TTA, {r['size']} frame whose unknown "
                f"pixels fill a square in the middle; margin {r['margin']} px = the model's "
                f"receptive context; the window is {r['network_area_fraction']:.0%} of the "
                f"frame):", "", "| region | seconds | max abs diff vs full (unknown pixels) |",
                "|---|---:|---:|"]
        for name in ("full", "unknown", "unknown, pooling=region"):
            diff = r[name].get("max_abs_diff_vs_full")
            out.append(f"| {name} | {r[name]['seconds']:.3f} | "
                       f"{'' if diff is None else format(diff, '.1e')} |")
        out.append("")
    for label, r in results.get("highres", {}).items():
        if "error" in r:
            out += [f"High resolution: error: {r['error']}", ""]
            continue
        out += [f"High resolution: the shipped model on alphamatting.com GT04 at {r['size']} "
                f"(Trimap1, no TTA; the unknown region's window is "
                f"{r['network_area_fraction']:.0%} of the image; peak RSS of the three runs "
                f"{r['peak_rss_gib']:.2f} GiB):", "",
                "| run | seconds | SAD | mean abs diff vs one piece |", "|---|---:|---:|---:|"]
        for name in ("full, one piece", "full, 1024 tiles", "unknown region"):
            row = r[name]
            diff = row.get("mean_abs_diff_vs_one_piece")
            out.append(f"| {name} | {row['seconds']:.2f} | {row['sad']:.1f} | "
                       f"{'' if diff is None else format(diff, '.2e')} |")
        out.append("")
    rows = []
    for label, r in results.get("precision", {}).items():
        rows.append(f"| bf16 vs fp32, shipped model, mean SAD over {r.get('images')} real "
                    f"images | {_fmt(r.get('mean_sad_fp32'), '.4f')} -> "
                    f"{_fmt(r.get('mean_sad_bf16'), '.4f')} "
                    f"({_fmt(100 * r['relative_change'] if 'relative_change' in r else None, '+.3f')}%) |")
    for label, r in results.get("cli", {}).items():
        if "error" in r:
            rows.append(f"| one photo from the command line | error: {r['error']} |")
            continue
        rows.append(f"| one photo from the command line ({r.get('stem')}, {r.get('size')}, "
                    f"default outputs, whole process): `alphagan predict` vs `alphagan "
                    f"baseline --method cf` | {_fmt(r.get('predict'), '.2f')} s vs "
                    f"{_fmt(r.get('baseline cf'), '.2f')} s "
                    f"({_fmt(r.get('predict / baseline cf'), '.1f')}x) |")
        if "predict --tta none" in r:
            rows.append(f"| the same, `alphagan predict --tta none` (no mirror pass) | "
                        f"{_fmt(r.get('predict --tta none'), '.2f')} s |")
        if "import torch" in r:
            rows.append(f"| `python -c 'import torch'` alone; `alphagan --help`; predict with "
                        f"OMP_WAIT_POLICY=ACTIVE | {_fmt(r.get('import torch'), '.2f')} s; "
                        f"{_fmt(r.get('alphagan --help'), '.2f')} s; "
                        f"{_fmt(r.get('predict, OMP_WAIT_POLICY=ACTIVE'), '.2f')} s |")
    for label, r in results.get("metrics", {}).items():
        rows.append(f"| metrics: SAD+MSE+Grad+Conn, {r.get('size')} | "
                    f"{_fmt(r.get('seconds'), '.3f')} s/image |")
    for label, r in results.get("data", {}).items():
        rows.append(f"| data: DIM composites at 320x320, one worker | "
                    f"{_fmt(r.get('samples_per_s'), '.1f')} samples/s |")
    for label, r in results.get("train", {}).items():
        if "error" in r:
            rows.append(f"| training: {label} | error: {r['error']} |")
            continue
        rows.append(f"| training: {label} (batch {r.get('batch')} at {r.get('crop')}, "
                    f"{r.get('precision')}) | {_fmt(r.get('samples_per_s'), '.2f')} samples/s |")
    for label, r in results.get("onnx", {}).items():
        rows.append(f"| ONNX Runtime: {label} fp32 | {_fmt(r.get('onnxruntime_seconds'), '.3f')}"
                    f" s (torch {_fmt(r.get('torch_seconds'), '.3f')} s) |")
    if rows:
        out += ["| measurement | result |", "|---|---:|", *rows, ""]
    return "\n".join(out)


def update_readme(table: str, command: str, readme: Path = REPO / "README.md") -> None:
    from alphagan.atomic import write_text_atomic

    text = readme.read_text(encoding="utf-8")
    if MARK_START not in text or MARK_END not in text:
        raise SystemExit(f"{readme}: no {MARK_START} ... {MARK_END} section to update")
    head, rest = text.split(MARK_START, 1)
    _, tail = rest.split(MARK_END, 1)
    body = f"{MARK_START}\nMeasured with `{command}`:\n\n{table}{MARK_END}"
    write_text_atomic(readme, head + body + tail)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and few runs: checks that every section works")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections (default: all of {', '.join(SECTIONS)})")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement")
    parser.add_argument("--repeats-4k", type=int, default=1, help="timed runs at 3840x2160")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path,
                        help=f"JSON report (default {DEFAULT_OUT.relative_to(REPO)}, "
                             f"or bench_quick.json with --quick)")
    parser.add_argument("--update-readme", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _run_child(args.child)
        return 0
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(args.only) - set(SECTIONS))
    if unknown or args.repeats < 1 or args.repeats_4k < 1 or args.threads < 1:
        parser.error(f"bad arguments (unknown sections: {unknown or 'none'}; repeats and "
                     f"threads must be >= 1)")
    if not _have_shared():
        print(f"note: {DATA} not found; skipping the scenes, metrics and data sections",
              file=sys.stderr)

    results: dict[str, dict[str, dict]] = {}
    jobs = plan(args)
    started = time.perf_counter()
    for index, (section, label, request) in enumerate(jobs, 1):
        print(f"[{index}/{len(jobs)}] {section}: {label} ...", file=sys.stderr, flush=True)
        kind = request.pop("kind")
        results.setdefault(section, {})[label] = _spawn(kind, args.threads, **request)
    command = "python -m benchmarks.run " + " ".join(
        a for a in (sys.argv[1:] if argv is None else argv) if a != "--update-readme")
    table = render(results, args.threads)
    print(table)
    report = {
        "benchmark": "run", "command": command.strip(), "threads": args.threads,
        "wall_seconds": time.perf_counter() - started, "results": results,
        "environment": {"cpu_count": os.cpu_count(), "machine": platform.machine(),
                        "processor": _cpu_name(), "python": platform.python_version(),
                        "torch": _torch_version()},
    }
    out = args.out or DEFAULT_OUT.with_name("bench_quick.json" if args.quick else "bench.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    from alphagan.atomic import write_text_atomic

    write_text_atomic(out, json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    if args.update_readme:
        update_readme(table, command.strip())
        print("updated README.md", file=sys.stderr)
    return 1 if any("error" in r for s in results.values() for r in s.values()) else 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _torch_version() -> str:
    import torch

    return torch.__version__


if __name__ == "__main__":
    raise SystemExit(main())
