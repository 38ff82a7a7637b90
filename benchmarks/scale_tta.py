"""Nested cross-validation of multi-scale test-time averaging for the shipped recipe's
ensemble: the networks also run on the photo downscaled (0.75, 0.5), their upsampled alphas
averaged with the full-size pass.

Why: training crops of 160 to 320 pixels are resized to 160 (``crop_choices`` of
``configs/alphagan_prior.yaml``), so the network learnt on photos shown at 0.5 to 1 of their
size, and predict runs it at 1 only. Here each fold's networks of the cross-validated seeds
(``--name``, their final weights, trained without the fold) run on the fold's 12 cases at
each scale of :data:`SCALES`: image INTER_AREA, trimap by
:func:`alphagan.scaling.downscale_trimap`, the priors (solved once at full size, as predict
solves them; read from the :mod:`alphagan.data.photos` cache) shrunk the same way and exact on
known pixels; each network's pass with flip TTA is clamped to its priors' range (the shipped
``prior_clip``), the members averaged, clamped to the small trimap, upsampled bilinearly; the
passes of a candidate set of scales are averaged and clamped to the full-size priors' range
and trimap. The candidate sets are :data:`CANDIDATES` (``(1.0,)`` is what predict does today).
Nested as ``benchmarks.prior_blend``: each fold is scored with the set that has the lowest
mean SAD on the other two folds (ties: the cheaper set).

Decision rule, written (and committed) before any score of it was seen: predict gets a
multi-scale setting only if its nested SAD is at least 0.03 below the nested SAD of
``(1.0,)`` computed here, MSE, Grad and Conn are each at most 1% above it, and it stays lower
than cf on all four metrics. Its time cost (the network passes grow by the sum of the squared
scales) is reported with it.

    python -m benchmarks.scale_tta --name prior-full-600 prior-seed1-600 prior-seed2-600 \\
        --out benchmarks/results/crossval_scale_tta.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import torch

from alphagan.checkpoint import load_model
from alphagan.data.layouts import alphamatting_eval_items
from alphagan.data.photos import load_photo
from alphagan.inference import _predict, prepare_for_inference
from alphagan.metrics import compute_all
from alphagan.scaling import downscale_trimap
from alphagan.trimap import clamp_to_trimap
from benchmarks.crossval import FOLDS, ROOT, SCENES
from benchmarks.prior_blend import mean_rows

__all__ = ["SCALES", "CANDIDATES", "scaled_pass"]

SCALES = (1.0, 0.75, 0.5)
CANDIDATES: tuple[tuple[float, ...], ...] = ((1.0,), (0.75,), (1.0, 0.75), (1.0, 0.75, 0.5))
_OPTIONS = dict(precision="fp32", region="unknown", margin=None, pooling="image", tile=None,
                overlap=None)  # predict's defaults


def _clamp_to_priors(alpha: np.ndarray, prior: np.ndarray) -> np.ndarray:
    return np.clip(alpha, prior.min(axis=0), prior.max(axis=0))


def scaled_pass(networks: list[torch.nn.Module], image: np.ndarray, trimap: np.ndarray,
                prior: np.ndarray, scale: float) -> np.ndarray:
    """The members' mean alpha (HxW float32) at ``scale`` of the photo, upsampled to its size:
    image (H,W,3), trimap (H,W) {0, 0.5, 1}, prior (K,H,W) solved at full size."""
    height, width = trimap.shape
    if scale != 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        trimap = downscale_trimap(trimap, size)
        prior = np.stack([clamp_to_trimap(cv2.resize(p, size, interpolation=cv2.INTER_AREA),
                                          trimap) for p in prior])
    alpha = np.zeros(trimap.shape, np.float32)
    for network in networks:
        both = _predict(network, image, trimap, prior, **_OPTIONS)
        both += _predict(network, image[:, ::-1].copy(), trimap[:, ::-1].copy(),
                         prior[:, :, ::-1].copy(), **_OPTIONS)[:, ::-1]
        alpha += _clamp_to_priors(both / 2, prior)
    alpha = clamp_to_trimap(alpha / len(networks), trimap)
    if scale == 1.0:
        return alpha
    return cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", nargs="+", required=True, help="crossval recipe names")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "crossval")
    parser.add_argument("--photo-cache", type=Path,
                        default=Path.home() / ".cache" / "alphagan" / "photos")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    # rows[candidate][fold] -> one metrics row per case; cf for reference
    rows: dict[str, dict[int, list[dict[str, float]]]] = {str(c): {} for c in CANDIDATES}
    for k, scenes in enumerate(FOLDS):
        networks = []
        for name in args.name:
            path = args.work / name / f"fold{k}" / "run" / "generator.safetensors"
            networks.append(prepare_for_inference(load_model(path)))
        for trimap_set in ("Trimap1", "Trimap2"):
            for item in alphamatting_eval_items(SCENES, trimap_set, list(scenes)):
                photo = load_photo(item, "cf+knn", args.photo_cache)
                prior = np.ascontiguousarray(photo.prior.transpose(2, 0, 1))
                passes = {s: scaled_pass(networks, photo.image, photo.trimap, prior, s)
                          for s in SCALES}
                for candidate in CANDIDATES:
                    alpha = np.mean([passes[s] for s in candidate], axis=0)
                    alpha = clamp_to_trimap(_clamp_to_priors(alpha, prior), photo.trimap)
                    rows[str(candidate)].setdefault(k, []).append(
                        compute_all(alpha, photo.alpha, photo.trimap))
                print(f"fold {k} {trimap_set} {item.name}: " + ", ".join(
                    f"{c} {rows[str(c)][k][-1]['sad']:.2f}" for c in CANDIDATES), flush=True)
    chosen = {}
    for k in range(len(FOLDS)):
        others = [j for j in range(len(FOLDS)) if j != k]
        # ties: the cheaper set (fewer pixels to run)
        order = sorted(CANDIDATES, key=lambda c: sum(s * s for s in c))
        chosen[k] = min(order, key=lambda c: mean_rows(
            [r for j in others for r in rows[str(c)][j]])["sad"])
    nested = mean_rows([r for k, c in chosen.items() for r in rows[str(c)][k]])
    today = mean_rows([r for k in rows["(1.0,)"] for r in rows["(1.0,)"][k]])
    every = {c: mean_rows([r for k in rows[c] for r in rows[c][k]]) for c in rows}
    print("chosen per held-out fold:", {k: c for k, c in chosen.items()})
    print("| setting | SAD | MSE | Grad | Conn |\n|---|---:|---:|---:|---:|")
    for label, m in (("scale 1 (predict today)", today), ("nested multi-scale", nested),
                     *((f"{c} on all folds (reference)", m) for c, m in every.items())):
        print(f"| {label} | {m['sad']:.2f} | {m['mse']:.4f} | {m['grad']:.2f} | "
              f"{m['conn']:.2f} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({
            "recipes": args.name, "scales": list(SCALES),
            "candidates": [list(c) for c in CANDIDATES],
            "chosen": {str(k): {"scales": list(c), **mean_rows(rows[str(c)][k])}
                       for k, c in chosen.items()},
            "nested": nested, "scale_1": today, "every_candidate_all_folds": every,
        }, indent=2) + "\n")


if __name__ == "__main__":
    main()
