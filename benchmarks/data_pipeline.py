"""Throughput of the training-data pipeline (DIM composites) on the real data in ../shared.

    python -m benchmarks.data_pipeline [--samples N] [--workers 0,1,2] [--crop-size 320]
        [--augment dim|strong] [--backgrounds backgrounds,backgrounds_more]

Foregrounds: the alphamatting.com training scenes (colours estimated once into the
foreground cache); backgrounds: ../shared/data/backgrounds (``--backgrounds`` lists folders
under ``--data``). ``--augment`` picks the recipe (see ``alphagan.data.composition``). ``workers=0`` times
``dataset[i]`` in this process (the per-worker rate; also per CPU-second of this process,
the rate an idle core gives on a busy machine) after one warm-up pass that fills the decode
cache; ``workers>0`` times one epoch through a DataLoader with persistent workers after
a warm-up epoch. Prints a table and writes ``benchmarks/results/data_pipeline.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

from alphagan.data import (
    CompositionDataset,
    alphamatting_train_items,
    default_cache_dir,
    list_backgrounds,
    prepare_foregrounds,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "data_pipeline.json"
TARGET_PER_WORKER = 50.0  # samples/s at 320x320, from the task brief


def _parse_workers(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of integers: {text!r}"
        ) from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"worker counts must be >= 0: {text!r}")
    return values


def _in_process(dataset: CompositionDataset, samples: int) -> dict[str, float]:
    """Per-worker rate: ``dataset[i]`` in this process, cold (first pass) and warm."""
    dataset.set_epoch(0)
    cold = min(samples, len(dataset))
    start = time.perf_counter()
    for index in range(cold):
        dataset[index]
    cold_s = time.perf_counter() - start
    dataset.set_epoch(1)
    start, cpu_start = time.perf_counter(), time.process_time()
    for index in range(samples):
        dataset[index]
    warm_s = time.perf_counter() - start
    cpu_s = time.process_time() - cpu_start
    # Per CPU-second: what one otherwise idle core would give, whatever else the machine runs.
    return {"samples_per_s": samples / warm_s, "cold_samples_per_s": cold / cold_s,
            "samples_per_cpu_s": samples / cpu_s}


def _with_loader(dataset: CompositionDataset, workers: int, batch_size: int) -> dict[str, float]:
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers,
                        persistent_workers=True, prefetch_factor=4)
    dataset.set_epoch(0)
    start = time.perf_counter()
    for _ in loader:  # warm-up epoch: worker start-up and decoding
        pass
    cold_s = time.perf_counter() - start
    dataset.set_epoch(1)
    start = time.perf_counter()
    n = 0
    for batch in loader:
        n += batch["image"].shape[0]
    warm_s = time.perf_counter() - start
    del loader
    return {"samples_per_s": n / warm_s, "cold_samples_per_s": len(dataset) / cold_s}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=400, help="timed samples per setting")
    parser.add_argument("--workers", type=_parse_workers, default=[0, 1, 2],
                        help="comma-separated DataLoader worker counts; 0 = in process")
    parser.add_argument("--crop-size", type=int, default=320)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder with alphamatting/ and backgrounds/")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help=f"foreground cache (default {default_cache_dir()})")
    parser.add_argument("--augment", choices=("dim", "strong"), default="dim",
                        help="the composition recipe")
    parser.add_argument("--backgrounds", default="backgrounds",
                        help="comma-separated background folders under --data")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.error("--samples must be >= 1")

    start = time.perf_counter()
    items = prepare_foregrounds(alphamatting_train_items(args.data / "alphamatting"),
                                args.cache_dir, progress=True)
    cache_s = time.perf_counter() - start
    backgrounds = [path for name in args.backgrounds.split(",") if name.strip()
                   for path in list_backgrounds(args.data / name.strip())]

    def build() -> CompositionDataset:
        return CompositionDataset(items, backgrounds, crop_size=args.crop_size,
                                  length=args.samples, seed=0, augment=args.augment)

    rows = []
    for workers in args.workers:
        if workers == 0:
            result = _in_process(build(), args.samples)
        else:
            result = _with_loader(build(), workers, args.batch_size)
        result["per_worker"] = result["samples_per_s"] / max(workers, 1)
        rows.append({"workers": workers, **result})

    print(f"\n{args.augment} recipe: {len(items)} foregrounds, {len(backgrounds)} backgrounds, "
          f"crop {args.crop_size}, "
          f"{args.samples} samples per setting; foreground cache ready in {cache_s:.1f} s")
    print(f"{'workers':>7}  {'samples/s':>10}  {'per worker':>10}  {'cold samples/s':>14}")
    for row in rows:
        print(f"{row['workers']:>7}  {row['samples_per_s']:>10.1f}  {row['per_worker']:>10.1f}  "
              f"{row['cold_samples_per_s']:>14.1f}")
    per_worker = next((r["samples_per_s"] for r in rows if r["workers"] == 0), None)
    per_cpu = next((r["samples_per_cpu_s"] for r in rows if r["workers"] == 0), None)
    if per_cpu is not None:
        print(f"single process: {per_cpu:.1f} samples per CPU-second (wall-clock rate on an "
              f"otherwise idle core)")
    if per_worker is not None:
        verdict = "meets" if per_worker >= TARGET_PER_WORKER else "BELOW"
        print(f"single process: {per_worker:.1f} samples/s ({verdict} the target of "
              f"{TARGET_PER_WORKER:.0f} per worker)")

    report = {
        "benchmark": "data_pipeline",
        "command": "python -m benchmarks.data_pipeline " + " ".join(
            sys.argv[1:] if argv is None else argv),
        "crop_size": args.crop_size,
        "augment": args.augment,
        "samples": args.samples,
        "batch_size": args.batch_size,
        "foregrounds": len(items),
        "backgrounds": len(backgrounds),
        "foreground_cache_s": round(cache_s, 3),
        "target_per_worker": TARGET_PER_WORKER,
        "results": [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}
                    for r in rows],
        "environment": {
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "opencv": cv2.__version__,
            "numpy": np.__version__,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
