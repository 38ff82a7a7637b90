"""Plain synthetic scenes: a flat foreground colour over a flat, clearly different background.

Issue 9's sanity target: on such scenes (one saturated shape with a soft edge; the colours
at least 0.5 apart in RGB) the mean absolute alpha error in the trimap's unknown band stays
under 0.05. Closed-form matting is near exact here (its colour-line model holds exactly),
so the scenes catch a network that has learnt textures instead of colours. Each scene is
made from its seed alone: a disc, an ellipse or a rounded square of random size and position,
an edge ramp of 4-16 px, an unknown band 8-20 px beyond each side of the ramp.

    python -m benchmarks.plain_scenes [--count 12] [--checkpoint FILE] [--methods alphagan,cf]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

SIZE = (240, 320)  # (H, W)


def plain_scene(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(image HxWx3 float32 in [0,1], alpha HxW float32, trimap HxW in {0, 0.5, 1})``."""
    rng = np.random.default_rng([seed, 9])
    h, w = SIZE
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = rng.uniform(0.35, 0.65) * h, rng.uniform(0.35, 0.65) * w
    r = rng.uniform(0.18, 0.3) * min(h, w)
    kind = rng.integers(3)
    if kind == 0:  # disc
        dist = np.hypot(yy - cy, xx - cx) - r
    elif kind == 1:  # ellipse (distance approximated by the scaled radius)
        a, b = r * rng.uniform(1.1, 1.5), r * rng.uniform(0.6, 0.9)
        dist = (np.hypot((yy - cy) / b, (xx - cx) / a) - 1) * min(a, b)
    else:  # rounded square
        q = np.maximum(np.abs(yy - cy), np.abs(xx - cx))
        dist = q - r
    ramp = rng.uniform(4, 16)
    alpha = np.clip(0.5 - dist / ramp, 0, 1).astype(np.float32)
    while True:
        fg, bg = rng.random(3), rng.random(3)
        if np.linalg.norm(fg - bg) >= 0.5:
            break
    image = (alpha[..., None] * fg + (1 - alpha[..., None]) * bg).astype(np.float32)
    soft = (alpha > 0) & (alpha < 1)
    band = ndimage.binary_dilation(soft, iterations=int(rng.integers(8, 21)))
    trimap = np.where(alpha >= 0.5, 1.0, 0.0).astype(np.float32)
    trimap[band] = 0.5
    return image, alpha, trimap


def band_error(pred: np.ndarray, alpha: np.ndarray, trimap: np.ndarray) -> float:
    """Mean |pred - alpha| over the unknown band."""
    unknown = trimap == 0.5
    return float(np.abs(pred[unknown] - alpha[unknown]).mean())


def run(count: int, methods: list[str], checkpoint: str | None) -> dict[str, dict[str, float]]:
    import alphagan

    results: dict[str, dict[str, float]] = {}
    for method in methods:
        errors, start = [], time.perf_counter()
        for seed in range(count):
            image, alpha, trimap = plain_scene(seed)
            if method == "alphagan":
                # A name or path is loaded once and prepared as the CLI does; predict's defaults.
                pred = alphagan.matte(image, trimap, model=checkpoint)
            else:
                pred = alphagan.matte(image, trimap, method=method)
            errors.append(band_error(pred, alpha, trimap))
        results[method] = {"mean_band_error": float(np.mean(errors)),
                           "worst_band_error": float(np.max(errors)),
                           "scenes_under_0.05": int(sum(e < 0.05 for e in errors)),
                           "seconds": (time.perf_counter() - start) / count}
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--methods", default="alphagan,cf")
    parser.add_argument("--checkpoint", help="generator file (default: the shipped model)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    results = run(args.count, args.methods.split(","), args.checkpoint)
    print(f"| method | mean band error | worst | scenes < 0.05 (of {args.count}) | s/image |")
    print("|---|---:|---:|---:|---:|")
    for method, r in results.items():
        print(f"| {method} | {r['mean_band_error']:.4f} | {r['worst_band_error']:.4f} | "
              f"{r['scenes_under_0.05']} | {r['seconds']:.2f} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
