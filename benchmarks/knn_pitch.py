"""How far a training crop's KNN prior is from the prior of the whole photo it was cut from.

KNN matting's coordinates (pymatting) span [0, 1] over the image solved, so a crop's prior is
more local than the full photo's. This cuts training-like crops (a square of 160, 240 or 320
photo pixels around a random unknown pixel, resized to 160) from alphamatting.com scenes
and their user trimaps, solves each crop's KNN prior with pymatting's normalisation and with
a photo's pitch (``data.prior_knn_span``: the photo ``(W + H) / 2`` photo pixels across), and
reports the mean absolute difference, over the crop's unknown pixels, to the ground truth
and to the full-photo prior cut the same way.

    python -m benchmarks.knn_pitch --out benchmarks/results/knn_pitch.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from alphagan.io import read_alpha, read_image
from alphagan.knn_matting import estimate_alpha_knn
from alphagan.trimap import known_bg, known_fg, read_trimap, unknown_mask
from benchmarks.crossval import ROOT

DATA = ROOT.parent / "shared" / "data" / "alphamatting"
SCENES = ("GT01", "GT04", "GT08", "GT10", "GT18", "GT25")
CROP = 160


def crops(scene: str, count: int, rng: np.random.Generator) -> list[dict[str, float]]:
    """``count`` crops of ``scene`` (Trimap1): errors of the two crop priors."""
    image = read_image(DATA / "input_training_lowres" / f"{scene}.png").astype(np.float64)
    trimap = read_trimap(DATA / "trimap_training_lowres" / "Trimap1" / f"{scene}.png")
    truth = read_alpha(DATA / "gt_training_lowres" / f"{scene}.png")
    full = estimate_alpha_knn(image, trimap.astype(np.float64))
    height, width = trimap.shape
    unknown = np.argwhere(unknown_mask(trimap))
    rows = []
    while len(rows) < count:
        side = int(rng.choice([CROP, 3 * CROP // 2, 2 * CROP]))
        y, x = unknown[rng.integers(len(unknown))]
        top = min(max(y - side // 2, 0), height - side)
        left = min(max(x - side // 2, 0), width - side)
        window = (slice(top, top + side), slice(left, left + side))
        size = (CROP, CROP)
        small_trimap = cv2.resize(trimap[window], size, interpolation=cv2.INTER_NEAREST)
        if not (known_fg(small_trimap).any() and known_bg(small_trimap).any()):
            continue  # the solver needs both labels, as training crops do
        small_image = cv2.resize(image[window], size, interpolation=cv2.INTER_AREA)
        small_truth = cv2.resize(truth[window], size, interpolation=cv2.INTER_AREA)
        small_full = cv2.resize(full[window], size, interpolation=cv2.INTER_AREA)
        band = unknown_mask(small_trimap)
        pitch = (side / CROP) / ((width + height) / 2)
        row = {"scene": scene, "side": side}
        for name, options in (("crop", {}), ("photo_pitch", {"pixel_pitch": pitch})):
            alpha = estimate_alpha_knn(small_image, small_trimap.astype(np.float64), **options)
            row[f"{name}_vs_truth"] = float(np.abs(alpha - small_truth)[band].mean())
            row[f"{name}_vs_full_prior"] = float(np.abs(alpha - small_full)[band].mean())
        row["full_prior_vs_truth"] = float(np.abs(small_full - small_truth)[band].mean())
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-scene", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        raise SystemExit(f"{DATA}: not found (the alphamatting.com scenes of ../shared)")
    rng = np.random.default_rng(args.seed)
    rows = [r for scene in SCENES for r in crops(scene, args.per_scene, rng)]
    keys = [k for k in rows[0] if k not in ("scene", "side")]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    print(f"{len(rows)} crops of {len(SCENES)} scenes, mean |difference| over unknown pixels:")
    for key, value in mean.items():
        print(f"  {key:24s} {value:.4f}")
    if args.out:
        args.out.write_text(json.dumps({"benchmark": "knn_pitch", "crops": len(rows),
                                        "mean": mean, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
