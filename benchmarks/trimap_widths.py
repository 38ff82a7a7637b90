"""How wide are the user trimaps of alphamatting.com? Sets the strong recipe's trimap ranges.

    python -m benchmarks.trimap_widths [--data ../shared/data] [--crop-size 320]
        [--crop-choices 320,480,640]

For every scene of ``alphamatting/`` and both user trimap sets, the unknown band is measured
against the ground-truth alpha as the random trimaps of :class:`alphagan.data.CompositionDataset`
make it (known foreground = ``alpha == 1`` eroded, known background = outside ``alpha > 0``
dilated, by elliptical kernels of side ``k``, which reach ``(k - 1) / 2`` pixels):

- dilation radius: for the band's outer edge (unknown pixels next to known background), the
  distance to the nearest pixel with alpha > 0;
- erosion radius: for the band's inner edge (unknown pixels next to known foreground), the
  distance to the nearest pixel with alpha < 1.

(``alpha > 2/255`` and ``alpha < 253/255`` stand for "> 0" and "< 1": GT27 has low-level noise
in its known regions.) Per scene the median over the edge is the radius of the erosion or
dilation that reproduces the trimap, p10 / p90 its spread along the contour. The equivalent
kernel side ``2r + 1`` is given in photo pixels and at the training crop scales
``crop_size / choice`` (a ``choice`` square of the photo is resized to ``crop_size``).
Writes ``benchmarks/results/trimap_widths.json``.

Measured (``python -m benchmarks.trimap_widths``, the 18 scenes in ../shared; radius = the
per-scene median over the edge, photo pixels; min / median / max over scenes):

    set       erosion r            dilation r           kernel side 2r+1 at crop scale
    Trimap1   3.2 /  5.8 /  7.1    4.0 /  6.2 /  7.3    erosion 4.2-15.1, dilation 5.0-15.6
    Trimap2   5.0 / 12.2 / 15.2    9.0 / 12.9 / 15.5    erosion 6.0-31.5, dilation 10.0-32.0

(crop scales 0.5-1: ``--crop-size 320 --crop-choices 320,480,640``; the shipped light config's
224 / 224,320,448 gives the same 0.5-1.) Both user sets draw a band of nearly constant width
around the soft region (p10-p90 along the contour within about +-1 px, GT27 aside): about 6 px
on each side for Trimap1, 12-13 px for Trimap2, so an erosion and a dilation with one random
kernel each are a faithful model. With the strong recipe's foreground zoom (0.8-1.25) on top,
sides 3-41 (radii 1-20 px at crop scale) cover every scene of both sets at every crop scale:
the defaults of ``AugmentConfig.trimap_erode`` and ``trimap_dilate``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from alphagan.io import read_alpha
from alphagan.trimap import read_trimap

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "trimap_widths.json"
LOW, HIGH = 2.5 / 255, 252.5 / 255  # "alpha > 0" and "alpha < 1" above the GT's noise


def _edge(region: np.ndarray, neighbour: np.ndarray) -> np.ndarray:
    """Pixels of ``region`` with a 4-neighbour in ``neighbour`` (both bool HxW)."""
    grown = cv2.dilate(neighbour.view(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return region & grown


def _distance_to(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance (pixels) of every pixel to the nearest True pixel of ``mask``."""
    return cv2.distanceTransform((~mask).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def measure(alpha: np.ndarray, trimap: np.ndarray) -> dict[str, float]:
    """Erosion and dilation radii (median, p10, p90 over the band's edges) of one trimap.

    ``alpha``: float HxW in [0, 1]; ``trimap``: float HxW with {0, 0.5, 1}.
    """
    unknown, known_fg, known_bg = trimap == 0.5, trimap == 1.0, trimap == 0.0
    outer = _edge(unknown, known_bg)
    inner = _edge(unknown, known_fg)
    dilation = _distance_to(alpha > LOW)[outer]
    erosion = _distance_to(alpha < HIGH)[inner]
    result: dict[str, float] = {}
    for name, values in (("erosion", erosion), ("dilation", dilation)):
        if values.size == 0:
            continue
        p10, p50, p90 = np.percentile(values, [10, 50, 90])
        result.update({f"{name}_p10": float(p10), f"{name}_r": float(p50),
                       f"{name}_p90": float(p90)})
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--crop-size", type=int, default=320)
    parser.add_argument("--crop-choices", default="320,480,640")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    choices = [int(c) for c in args.crop_choices.split(",")]
    scales = [args.crop_size / c for c in choices]
    root = args.data / "alphamatting"
    names = sorted(p.stem for p in (root / "gt_training_lowres").glob("*.png"))
    if not names:
        parser.error(f"{root}: no ground-truth alphas")

    rows = []
    for trimap_set in ("Trimap1", "Trimap2"):
        for name in names:
            alpha = read_alpha(root / "gt_training_lowres" / f"{name}.png")
            trimap = read_trimap(root / "trimap_training_lowres" / trimap_set / f"{name}.png")
            rows.append({"set": trimap_set, "scene": name, **measure(alpha, trimap)})

    print(f"{'set':8} {'scene':6} {'erode r':>8} {'p10-p90':>12} {'dilate r':>9} {'p10-p90':>12}")
    for row in rows:
        print(f"{row['set']:8} {row['scene']:6} {row.get('erosion_r', float('nan')):8.1f} "
              f"{row.get('erosion_p10', 0):5.1f}-{row.get('erosion_p90', 0):<6.1f} "
              f"{row.get('dilation_r', float('nan')):9.1f} "
              f"{row.get('dilation_p10', 0):5.1f}-{row.get('dilation_p90', 0):<6.1f}")
    summary = {}
    print(f"\nmin / median / max over scenes of the per-scene median radius (photo pixels); "
          f"kernel side 2r+1 at crop scales {', '.join(f'{s:.2f}' for s in scales)}")
    for trimap_set in ("Trimap1", "Trimap2"):
        for kind in ("erosion", "dilation"):
            values = np.array([r[f"{kind}_r"] for r in rows
                               if r["set"] == trimap_set and f"{kind}_r" in r])
            lo, mid, hi = (float(v) for v in np.percentile(values, [0, 50, 100]))
            sides = (2 * lo * min(scales) + 1, 2 * hi * max(scales) + 1)
            summary[f"{trimap_set}_{kind}"] = {"min": lo, "median": mid, "max": hi,
                                               "kernel_side_at_crop": sides}
            print(f"{trimap_set:8} {kind:9} r {lo:5.1f} / {mid:5.1f} / {hi:5.1f}   "
                  f"kernel side at crop scale {sides[0]:5.1f} .. {sides[1]:5.1f}")

    report = {
        "benchmark": "trimap_widths",
        "command": "python -m benchmarks.trimap_widths " + " ".join(
            sys.argv[1:] if argv is None else argv),
        "crop_size": args.crop_size,
        "crop_choices": choices,
        "rows": rows,
        "summary": summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
