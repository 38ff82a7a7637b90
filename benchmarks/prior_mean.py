"""The classical priors' mean on the cross-validation cases: what a prior model starts from.

A generator with ``prior: cf+knn`` (:mod:`alphagan.prior`) returns, untrained, the mean of
the closed-form and KNN alphas (its head starts at zero). This scores that mean on the same
36 cases as ``benchmarks.crossval`` (3 folds x 6 scenes x 2 user trimaps), from the cf and
knn mattes crossval caches (computed here when missing), so the table shows what training
adds. The mattes are the 8-bit PNGs ``alphagan baseline`` wrote (the model sees float
priors: a difference of at most 1/255 per pixel). No choice is made on these scenes.

    python -m benchmarks.prior_mean --out benchmarks/results/crossval_prior_mean.json

``--combine better`` scores instead, pixel by pixel, whichever of the two mattes is closer to
the ground truth: not a method (it reads the truth) but the bound of anything that only
chooses between the two priors per pixel (a gate, ``prior_head: gate``, or any mix of them):

    python -m benchmarks.prior_mean --combine better --out benchmarks/results/crossval_prior_better.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from alphagan.io import read_alpha
from alphagan.metrics import compute_all
from alphagan.trimap import read_trimap
from benchmarks.crossval import FOLDS, METRICS, ROOT, markdown, score_fold, summarize

__all__ = ["prior_mean_fold"]


COMBINES = ("mean", "better")


def prior_mean_fold(k: int, work: Path, methods: tuple[str, ...] = ("cf", "knn"),
                    combine: str = "mean") -> dict[str, dict[str, float]]:
    """``{trimap set: mean metrics}`` of the per-pixel mean of ``methods`` on fold ``k``
    (``combine="better"``: per pixel the matte closest to the ground truth)."""
    classical = score_fold(k, list(methods), None, work, work, None)  # cached or computed
    fold = work / "classical" / f"fold{k}"
    results: dict[str, dict[str, float]] = {}
    for trimap_set in ("Trimap1", "Trimap2"):
        rows = []
        for stem in FOLDS[k]:
            inputs = fold / "inputs" / trimap_set
            mattes = np.stack([read_alpha(fold / "out" / trimap_set / m / "alpha" /
                                          f"{stem}.png") for m in methods])
            gt = read_alpha(inputs / "gt" / f"{stem}.png")
            if combine == "better":
                # rounded: equal 8-bit distances tie (the first method wins), float noise aside
                nearest = np.round(np.abs(mattes - gt), 6).argmin(axis=0)
                mean = np.take_along_axis(mattes, nearest[None], axis=0)[0]
            else:
                mean = mattes.mean(axis=0)
            trimap = read_trimap(inputs / "trimaps" / f"{stem}.png")
            rows.append(compute_all(mean, gt, trimap))
        seconds = sum(classical[m][trimap_set]["seconds"] for m in methods)
        results[trimap_set] = {**{m: sum(r[m] for r in rows) / len(rows)
                                  for m in METRICS if m != "seconds"}, "seconds": seconds}
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "crossval")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--combine", choices=COMBINES, default="mean",
                        help="mean of cf and knn, or per pixel the one closer to the truth "
                             "(a bound, not a method)")
    args = parser.parse_args(argv)
    name = ("mean of cf and knn" if args.combine == "mean"
            else "per pixel the better of cf and knn (reads the truth)")
    folds = [{"fold": k, "scenes": list(FOLDS[k]),
              "results": {name: prior_mean_fold(k, args.work, combine=args.combine)}}
             for k in range(len(FOLDS))]
    summary = summarize(folds)
    print(markdown(summary, name))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"recipe": name, "folds": folds, "mean": summary},
                                       indent=2) + "\n")


if __name__ == "__main__":
    main()
