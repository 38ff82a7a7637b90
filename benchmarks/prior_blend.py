"""Nested cross-validation of ``prior_blend``: how much of the priors' mean a prior model mixes
into its output (:class:`alphagan.models.GeneratorConfig`, inference only).

A prior model (``prior: cf+knn``) outputs ``w * network + (1 - w) * mean(cf, knn)``. This
scores the weight ``w`` on the 36 cases of ``benchmarks.crossval`` without training anything:
each fold's mattes come from the crossval cache of recipe ``--name`` (its final weights with
``w = 1``, as ``predict`` wrote them) and the cf / knn mattes from the classical cache, so
the blend is made from 8-bit PNGs (at most 1/255 from blending inside the model).

Nested, so that the reported number is not a training number: for each fold k the weight
with the lowest mean SAD over the *other two* folds' cases is picked from the grid, and fold
k is scored with it; the table is the mean of those held-out scores over the 36 cases. The
score of every weight on all folds is printed too, for reference only (for the weight picked
there it is a training number).

    python -m benchmarks.prior_blend --name prior-full-600 \\
        --out benchmarks/results/crossval_prior_blend.json

Several ``--name`` values (the same recipe cross-validated with other seeds) are pooled:
every case counts once per trained network, so the weight is chosen for the recipe rather
than for one lucky or unlucky training run.

``--clip`` scores the network's alpha clamped, pixel by pixel, to the range of the two priors
before the blend. The model (``prior_clip``) clamps each pass of predict's flip TTA before
averaging them, this clamps the cached average: an approximation, checked once end to end
(MODEL_CARD.md: fold 0, Trimap1, SAD 4.37 through ``predict`` against 4.38 here):

    python -m benchmarks.prior_blend --clip --name prior-full-600 prior-seed1-600

``--ensemble`` with several ``--name`` values scores their mean instead of pooling them: for
each case the mean of the runs' mattes (each clamped first with ``--clip``), what a model file
holding those networks as members outputs (:class:`alphagan.models.GeneratorEnsemble`, whose
members each clamp before the mean):

    python -m benchmarks.prior_blend --clip --ensemble --name prior-full-600 prior-seed1-600

``--choose-clip`` makes the clamp part of the nested choice: each held-out fold gets the
(clamp on or off, weight) pair with the lowest SAD on the other two folds (ties: clamp on,
then the larger weight), so whether to clamp is decided by the same cross-validation as the
weight rather than by looking at both on all folds:

    python -m benchmarks.prior_blend --choose-clip --ensemble --name photos-ft-200 \
        photos-ft-200-seed1 photos-ft-200-seed2

``--apply FILE`` then writes into a model file trained on all the scenes (the shipped one)
the weight (with ``--choose-clip`` the clamp and weight) with the lowest SAD over all 36
cases, as a step count chosen by the cross-validation is used to retrain on everything; its
tensors are unchanged.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alphagan.io import read_alpha
from alphagan.metrics import compute_all
from alphagan.trimap import read_trimap
from benchmarks.crossval import FOLDS, ROOT

__all__ = ["Case", "blend_rows", "cached_cases", "nested_choice", "mean_rows"]

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
SCORED = ("sad", "mse", "grad", "conn")
# fold -> choice -> one row per case; a choice is a weight, or (clip, weight) with --choose-clip
Choice = float | tuple[bool, float]
Rows = dict[int, dict[Choice, list[dict[str, float]]]]


@dataclass(frozen=True)
class Case:
    """One scored case of the crossval cache: fold ``fold``, its scene ``stem`` under
    ``trimap_set``; the network's matte (several runs: the mean, each clamped first with
    ``clip``), the cf and knn mattes, the ground truth and the trimap (HxW float32)."""

    fold: int
    trimap_set: str
    stem: str
    network: np.ndarray
    cf: np.ndarray
    knn: np.ndarray
    gt: np.ndarray
    trimap: np.ndarray


def cached_cases(work: Path, name: str | Sequence[str], clip: bool = False) -> Iterator[Case]:
    """Every case (fold x trimap set x scene) of recipe(s) ``name`` in the crossval cache
    ``work``; with ``clip`` each run's matte is clamped to [min, max] of the cf and knn mattes
    before the mean of the runs. ``SystemExit`` naming the missing file and the command that
    makes it."""
    names = [name] if isinstance(name, str) else list(name)
    for k, scenes in enumerate(FOLDS):
        classical = work / "classical" / f"fold{k}"
        for trimap_set in ("Trimap1", "Trimap2"):
            inputs = classical / "inputs" / trimap_set
            for stem in scenes:
                def matte(folder: Path, run: str | None = None) -> np.ndarray:
                    path = folder / "alpha" / f"{stem}.png"
                    if not path.is_file():
                        which = f"--name {run}" if run else "(any recipe; it caches cf / knn)"
                        raise SystemExit(f"{path}: missing; run benchmarks.crossval {which} "
                                         f"first (its cache is in {work})")
                    return read_alpha(path)

                cf = matte(classical / "out" / trimap_set / "cf")
                knn = matte(classical / "out" / trimap_set / "knn")
                networks = [matte(work / n / f"fold{k}" / "out" / trimap_set / "alphagan", n)
                            for n in names]
                if clip:
                    networks = [np.clip(n, np.minimum(cf, knn), np.maximum(cf, knn))
                                for n in networks]
                yield Case(k, trimap_set, stem, np.mean(networks, axis=0), cf, knn,
                           read_alpha(inputs / "gt" / f"{stem}.png"),
                           read_trimap(inputs / "trimaps" / f"{stem}.png"))


def blend_rows(work: Path, name: str | Sequence[str], weights: Sequence[float] = WEIGHTS,
               clip: bool = False) -> Rows:
    """Metrics of every blend weight on every case (fold x scene x trimap set); with ``clip``
    the network's matte is first clamped to [min, max] of the cf and knn mattes. Several
    names: the network's matte is the mean of those runs' (each clamped first)."""
    rows: Rows = {k: {w: [] for w in weights} for k in range(len(FOLDS))}
    for case in cached_cases(work, name, clip):
        prior_mean = 0.5 * (case.cf + case.knn)
        for w in weights:
            rows[case.fold][w].append(
                compute_all(w * case.network + (1 - w) * prior_mean, case.gt, case.trimap))
    return rows


def mean_rows(rows: list[dict[str, float]]) -> dict[str, float]:
    return {m: float(np.mean([r[m] for r in rows])) for m in SCORED}


def nested_choice(rows: Rows, metric: str = "sad") -> dict[int, Choice]:
    """For each fold, the choice (weight, or (clip, weight)) with the lowest mean ``metric``
    over the other folds' cases (ties: the larger weight, i.e. more of the network; with
    (clip, weight) pairs the clamp first)."""
    chosen = {}
    for k in rows:
        others = [j for j in rows if j != k]
        weights = sorted(rows[k], reverse=True)
        chosen[k] = min(weights, key=lambda w: mean_rows(
            [row for j in others for row in rows[j][w]])[metric])
    return chosen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", nargs="+", default=["prior-full-600"],
                        help="the crossval recipe's name; several (the same recipe trained "
                             "with other seeds) are pooled: each case counts once per name")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "crossval",
                        help="benchmarks.crossval's cache of mattes (default: %(default)s)")
    parser.add_argument("--out", type=Path, help="write the table and choices as JSON here")
    parser.add_argument("--clip", action="store_true",
                        help="clamp the network's matte to the priors' range first (prior_clip)")
    parser.add_argument("--choose-clip", action="store_true",
                        help="choose the clamp (on / off) with the weight, per held-out fold")
    parser.add_argument("--ensemble", action="store_true",
                        help="score the mean of the named runs' mattes (an ensemble of their "
                             "networks) instead of pooling them")
    parser.add_argument("--apply", type=Path, metavar="FILE",
                        help="set prior_blend in this model file to the weight chosen on all "
                             "folds (and prior_clip to --clip, or to the clamp chosen on all "
                             "folds with --choose-clip)")
    args = parser.parse_args(argv)
    if args.clip and args.choose_clip:
        parser.error("--clip and --choose-clip exclude each other (--choose-clip tries both)")
    rows: Rows = {}
    clips = (True, False) if args.choose_clip else (args.clip,)
    # pooled: every fold's cases, once per trained network; or once, for their ensemble
    for name in [args.name] if args.ensemble else args.name:
        for clip in clips:
            for k, by_weight in blend_rows(args.work, name, clip=clip).items():
                for w, cases in by_weight.items():
                    key: Choice = (clip, w) if args.choose_clip else w
                    rows.setdefault(k, {}).setdefault(key, []).extend(cases)
    chosen = nested_choice(rows)
    held_out = [row for k, w in chosen.items() for row in rows[k][w]]
    nested = mean_rows(held_out)
    keys = sorted(rows[0], reverse=True)
    every = {label(c): mean_rows([row for k in rows for row in rows[k][c]]) for c in keys}
    print("choice per held-out fold (lowest SAD on the other two):",
          ", ".join(f"fold {k}: {label(w)}" for k, w in chosen.items()))
    print("| blend | SAD | MSE | Grad | Conn |\n|---|---:|---:|---:|---:|")
    print(f"| nested (held-out folds) | {nested['sad']:.2f} | {nested['mse']:.4f} | "
          f"{nested['grad']:.2f} | {nested['conn']:.2f} |")
    for w, m in every.items():
        name = w if args.choose_clip else f"w = {w}"
        print(f"| {name} on all folds (reference) | {m['sad']:.2f} | {m['mse']:.4f} | "
              f"{m['grad']:.2f} | {m['conn']:.2f} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        per_fold = {str(k): {"chosen": label(w) if args.choose_clip else w,
                             **mean_rows(rows[k][w])}
                    for k, w in chosen.items()}
        recipe = args.name[0] if len(args.name) == 1 else args.name
        clip_field = "chosen per fold" if args.choose_clip else args.clip
        args.out.write_text(json.dumps({"recipe": recipe, "clip": clip_field,
                                        "ensemble": args.ensemble,
                                        "weights": list(WEIGHTS),
                                        "chosen": per_fold, "nested": nested,
                                        "every_weight_all_folds": every}, indent=2) + "\n")
    if args.apply:
        best = min(keys, key=lambda c: every[label(c)]["sad"])
        clip, weight = best if isinstance(best, tuple) else (args.clip, best)
        apply_blend(args.apply, weight, clip=clip)
        print(f"{args.apply}: prior_blend = {weight}, prior_clip = {clip}")


def label(choice: Choice) -> str:
    """The JSON key of a choice: ``0.75`` (a weight, as before --choose-clip existed), or
    ``clamp, w = 0.75`` / ``no clamp, w = 0.75`` for (clip, weight)."""
    if isinstance(choice, tuple):
        return f"{'clamp' if choice[0] else 'no clamp'}, w = {choice[1]}"
    return str(choice)


def apply_blend(path: Path, weight: float, clip: bool = False) -> None:
    """Rewrite the model file at ``path`` (one generator or an ensemble: every member) with
    ``prior_blend = weight`` and ``prior_clip = clip``, same tensors and training metadata
    (atomically)."""
    import dataclasses

    from alphagan.checkpoint import free_metadata, load_model, save_model
    from alphagan.models import AlphaGANGenerator, GeneratorEnsemble

    model = load_model(path)
    config = dataclasses.replace(model.config, prior_blend=weight, prior_clip=clip)
    blended = (GeneratorEnsemble(config, len(model.members))
               if isinstance(model, GeneratorEnsemble) else AlphaGANGenerator(config))
    blended.load_state_dict(model.state_dict())
    save_model(blended, path, extra_metadata=free_metadata(path))


if __name__ == "__main__":
    main()
