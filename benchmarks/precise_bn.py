"""Recompute a trained generator's BatchNorm statistics over many training crops, then score it.

A training run ends with BatchNorm running statistics that follow the last few batches
(momentum 0.1, batch 4 here). "Precise BN" (Wu and Johnson, "Rethinking 'Batch' in
BatchNorm", 2021; fvcore's ``update_bn_stats``) replaces them by the plain average over many
batches of the training distribution, in train mode, with the weights untouched. This does
it for a cross-validation fold's run (its own ``config.yaml``: the fold's scenes are not in
its data), with a data seed the run never used, and scores the result on the fold's scenes
as ``benchmarks.crossval`` does (``alphagan predict`` defaults, both user trimaps).

    python -m benchmarks.precise_bn --run runs/crossval/prior-span-600/fold1/run --fold 1
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from alphagan.checkpoint import load_model, save_model
from alphagan.training.config import load_config
from alphagan.training.data import build_train_set
from alphagan.training.sampler import StepSampler
from benchmarks.crossval import FOLDS, METRICS

__all__ = ["precise_bn"]


def precise_bn(run: Path, batches: int, seed_offset: int = 1) -> nn.Module:
    """The run's generator with BatchNorm statistics averaged over ``batches`` fresh batches."""
    config = load_config(run / "config.yaml")
    generator = load_model(run / "generator.safetensors")
    norms = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over every batch below
    data = build_train_set(config.data, seed=config.seed + seed_offset, verbose=False,
                           prior=config.model.generator.prior,
                           prior_scale=config.model.generator.prior_scale)
    sampler = StepSampler(batch_size=config.batch_size, total_steps=batches)
    loader = DataLoader(data, batch_size=config.batch_size, sampler=sampler,
                        num_workers=config.data.workers, drop_last=True)
    generator.train()
    with torch.no_grad():
        for batch in loader:
            generator(batch["image"], batch["trimap"], batch.get("prior"))
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    return generator.eval()


def main(argv: list[str] | None = None) -> None:
    from benchmarks.model_card import run as score

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a crossval fold's run folder")
    parser.add_argument("--fold", type=int, required=True, choices=range(len(FOLDS)))
    parser.add_argument("--batches", type=int, default=150)
    parser.add_argument("--work", type=Path, default=Path("runs/precise_bn"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    generator = precise_bn(args.run, args.batches)
    work = args.work / f"{args.run.parent.parent.name}-fold{args.fold}"
    model = save_model(generator, work / "generator.safetensors")
    print(f"BatchNorm statistics over {args.batches} batches: "
          f"{time.perf_counter() - start:.0f} s -> {model}")
    raw = score(list(FOLDS[args.fold]), ["alphagan"], str(model), work, 1)
    table = {trimap_set: {m: r[m] for m in METRICS} for (trimap_set, _), r in raw.items()}
    mean = {m: sum(t[m] for t in table.values()) / len(table) for m in METRICS}
    print(f"fold {args.fold}, both trimaps: " + " / ".join(f"{m} {mean[m]:.4g}" for m in METRICS))
    if args.out:
        args.out.write_text(json.dumps({"run": str(args.run), "fold": args.fold,
                                        "batches": args.batches, "per_trimap": table,
                                        "mean": mean}, indent=2) + "\n")


if __name__ == "__main__":
    main()
