"""Nested cross-validation of ``alpha_snap``: alphas within ``t`` of 0 or 1 set to 0 or 1
(:class:`alphagan.models.GeneratorConfig`, inference only), scored on the 36 cases of
``benchmarks.crossval`` without training anything.

A matting network's alpha is rarely exactly 0 or 1 where the truth is (pure background or
foreground inside the unknown region): a small residue over many pixels adds up in SAD. Here
the matte of the crossval cache of ``--name`` (several names: the mean of those runs'
mattes, an ensemble; each clamped to the priors' range first with ``--clip``, what the shipped
``prior_clip`` does) is snapped with each threshold of the grid: ``a < t -> 0``,
``a > 1 - t -> 1``. Nested as ``benchmarks.prior_blend``: for each fold the threshold with the
lowest mean SAD over the other two folds' cases (ties: the smaller one) is picked and the fold
is scored with it. The same is done to the cf matte, for reference (the issue's comparison is
pymatting's cf as it is).

Decision rule, written (and committed) before any nested score of it was seen: the shipped
model gets ``alpha_snap`` only if, on the clamped 3-seed ensemble, the nested SAD is at least
0.03 below the unsnapped nested SAD (4.67), and nested MSE, Grad and Conn are each at most 1%
above the unsnapped ones (0.0159 / 6.85 / 4.26), and it stays lower than cf on all four. The
shipped threshold is then the one with the lowest SAD over all 36 cases. Disclosure: before
this rule, a one-off look at the whole 36 cases (training numbers) gave SAD 4.58 / 4.56 / 4.64
for t = 0.02 / 0.05 / 0.1.

    python -m benchmarks.alpha_snap --clip --name prior-full-600 prior-seed1-600 \\
        prior-seed2-600 --out benchmarks/results/crossval_alpha_snap.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from alphagan.metrics import compute_all
from benchmarks.crossval import ROOT
from benchmarks.prior_blend import Rows, cached_cases, mean_rows

__all__ = ["THRESHOLDS", "snap", "nested_snap"]

THRESHOLDS = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1)


def snap(alpha: np.ndarray, threshold: float) -> np.ndarray:
    """``alpha`` (any shape, float in [0, 1]) with values below ``threshold`` set to 0 and
    above ``1 - threshold`` set to 1; ``threshold`` in [0, 0.5)."""
    out = alpha.copy()
    out[alpha < threshold] = 0.0
    out[alpha > 1.0 - threshold] = 1.0
    return out


def nested_snap(rows: Rows) -> dict[int, float]:
    """For each fold, the threshold with the lowest mean SAD over the other folds' cases
    (ties: the smaller threshold, i.e. less post-processing)."""
    chosen = {}
    for k in rows:
        others = [j for j in rows if j != k]
        chosen[k] = min(sorted(rows[k]), key=lambda t: mean_rows(
            [row for j in others for row in rows[j][t]])["sad"])
    return chosen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", nargs="+", default=["prior-full-600"],
                        help="crossval recipe name(s); several: their ensemble (mean matte)")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "crossval")
    parser.add_argument("--clip", action="store_true",
                        help="clamp each run's matte to the priors' range first (prior_clip)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    rows: dict[str, Rows] = {"network": {}, "cf": {}}
    for case in cached_cases(args.work, args.name, args.clip):
        for which, matte in (("network", case.network), ("cf", case.cf)):
            by_t = rows[which].setdefault(case.fold, {t: [] for t in THRESHOLDS})
            for t in THRESHOLDS:
                by_t[t].append(compute_all(snap(matte, t), case.gt, case.trimap))
    report: dict[str, object] = {"recipe": args.name, "clip": args.clip,
                                 "thresholds": list(THRESHOLDS)}
    print("| matte | thresholds per held-out fold | SAD | MSE | Grad | Conn |")
    print("|---|---|---:|---:|---:|---:|")
    for which, by_fold in rows.items():
        chosen = nested_snap(by_fold)
        plain = mean_rows([row for k in by_fold for row in by_fold[k][0.0]])
        nested = mean_rows([row for k, t in chosen.items() for row in by_fold[k][t]])
        every = {str(t): mean_rows([row for k in by_fold for row in by_fold[k][t]])
                 for t in THRESHOLDS}
        picks = ", ".join(str(chosen[k]) for k in sorted(chosen))
        for label, m in ((f"{which}, no snap", plain), (f"{which}, nested snap", nested)):
            print(f"| {label} | {picks if 'nested' in label else '-'} | {m['sad']:.2f} | "
                  f"{m['mse']:.4f} | {m['grad']:.2f} | {m['conn']:.2f} |")
        report[which] = {"plain": plain, "nested": nested,
                         "chosen": {str(k): {"threshold": t, **mean_rows(by_fold[k][t])}
                                    for k, t in chosen.items()},
                         "every_threshold_all_folds": every}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
