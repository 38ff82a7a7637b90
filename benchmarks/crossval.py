"""Leave-scenes-out cross-validation of a training recipe against the classical methods.

The quality figures of the README and the model card come from this command. The 18
alphamatting.com scenes in ``../shared/data/alphamatting`` are split into 3 fixed folds of 6
(each mixes hair, plush, hard and transparent or see-through objects). For each fold:

1. the procedural training set is rebuilt with the fold's high-resolution alpha shapes left
   out (``alphagan synth --exclude``), when the recipe uses one;
2. the recipe (``--config`` plus ``--set`` overrides) trains from scratch with the fold's
   scenes excluded everywhere: their photos (``exclude`` of every alphamatting source), their
   alpha shapes (step 1), the foreground cache (a folder of the fold's own), no validation
   set and no ``model.init_from`` (both could carry the scored scenes into the choice) but
   ``--init-from NAME``, the same fold's run of recipe NAME, for a fine-tuning recipe;
3. the checkpoint scored is fixed in advance: the run's final ``generator.safetensors`` (its
   weight average when the recipe sets ``ema_decay``), never one picked by a score;
4. the fold's scenes are matted with ``alphagan predict`` (its defaults) and the classical
   methods (``alphagan baseline``) with both user trimaps and scored with ``alphagan evaluate``.

The JSON (``--out``) holds per fold, per trimap set and per method SAD / MSE / Grad / Conn /
seconds per image, and the means over folds. Classical results do not depend on the recipe
and are cached in the work folder, as are each recipe's finished trainings and scores: an
interrupted run continues (unfinished trainings resume from their last checkpoint), and
running it again with more ``--methods`` adds only those. Delete ``--work``/NAME to redo.

    python -m benchmarks.crossval --config configs/alphagan_light.yaml --steps 3000 \\
        --set data.augment=strong --name light+strong --out benchmarks/results/cv_strong.json

``--ensemble NAME ...`` trains nothing: each fold is scored with the ensemble of those
recipes' finished runs on it (``alphagan ensemble``), as the shipped model combines seeds.
Method ``alphagan-1pass`` is ``predict --tta none`` (no flip test-time augmentation):

    python -m benchmarks.crossval --ensemble photos-ft-200 photos-ft-200-seed1 \\
        photos-ft-200-seed2 --name ens-photos-ft-200 --methods alphagan,alphagan-1pass,cf \\
        --out benchmarks/results/crossval_ensemble_tta.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SCENES = DATA / "alphamatting"
ALPHA_SHAPES = DATA / "alphamatting_highres" / "gt"

# Hair: GT04 GT08 GT09 GT27; plush and fur: GT05 GT07 GT10 GT12 GT14 GT15 GT17 GT20 GT22;
# hard or leafy: GT01 GT18 GT21; see-through: GT02 (wicker ball), GT25 (mesh pencil cup).
FOLDS: tuple[tuple[str, ...], ...] = (
    ("GT01", "GT04", "GT05", "GT10", "GT14", "GT25"),
    ("GT02", "GT07", "GT08", "GT12", "GT17", "GT21"),
    ("GT09", "GT15", "GT18", "GT20", "GT22", "GT27"),
)
METRICS = ("sad", "mse", "grad", "conn", "seconds")


def fold_config(base: dict[str, Any], scenes: tuple[str, ...], *, synth_dir: Path | None,
                cache_dir: Path, steps: int | None, base_dir: Path) -> dict[str, Any]:
    """The recipe ``base`` (a parsed training YAML) with ``scenes`` excluded everywhere.

    Every ``alphamatting`` source gets ``exclude: scenes`` (and loses any ``names`` list), every
    ``folder`` source whose ``fg_dir`` ends in ``synth/fg`` is pointed at ``synth_dir`` (built
    without the scenes' alpha shapes), relative paths are made absolute against ``base_dir``,
    validation and ``model.init_from`` are removed, the foreground cache goes to ``cache_dir``.
    (``alphagan train`` resolves relative paths against its working directory: pass that.)
    Raises ``ValueError`` when a synth source exists but ``synth_dir`` is None.
    """
    config = json.loads(json.dumps(base))  # a deep copy of plain data
    data = config.setdefault("data", {})

    def absolute(path: str) -> str:
        p = Path(path)
        return str(p if p.is_absolute() else (base_dir / p).resolve())

    sources = []
    for source in data.get("train", []):
        source = dict(source)
        if source.get("layout") == "alphamatting":
            source.pop("names", None)
            source["exclude"] = list(scenes)
        if source.get("layout") == "folder" and str(source.get("fg_dir", "")).rstrip(
                "/").endswith("synth/fg"):
            if synth_dir is None:
                raise ValueError("the recipe trains on a procedural set (a folder source "
                                 "ending in synth/fg): give --synth-count > 0")
            source["fg_dir"], source["alpha_dir"] = str(synth_dir / "fg"), str(synth_dir /
                                                                               "alpha")
        for key in ("root", "fg_dir", "alpha_dir", "image_dir"):
            if isinstance(source.get(key), str):
                source[key] = absolute(source[key])
        sources.append(source)
    data["train"] = sources
    # real photos (data.photos) are alphamatting scenes too: the fold's are excluded
    data["photos"] = [{**photo, "exclude": list(scenes), "root": absolute(photo["root"])}
                      for photo in data.get("photos", [])]
    if not data["photos"]:
        del data["photos"]
    data["backgrounds"] = [absolute(b) for b in data.get("backgrounds", [])]
    data["val"] = None
    data["fg_cache_dir"] = str(cache_dir)
    config.setdefault("model", {})["init_from"] = None
    if steps is not None:
        config["steps"] = steps
    return config


def _cli(*args: str) -> None:
    """Run ``python -m alphagan ARGS`` in a child process (its own threads and memory)."""
    cmd = [sys.executable, "-m", "alphagan", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get(
        "PYTHONPATH", "")}
    if subprocess.run(cmd, cwd=ROOT, env=env).returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")


def train_fold(base: dict[str, Any], base_dir: Path, k: int, work: Path, *, steps: int | None,
               overrides: list[str], synth_count: int, shared: Path,
               init_from: str | None = None) -> Path:
    """Train the recipe without fold ``k``'s scenes; returns the generator file to score.

    The procedural set depends only on (fold, count) and is shared by recipes in ``shared``.
    ``init_from``: a fine-tuning recipe starts from the final checkpoint (G and D) of this
    recipe's run on the same fold (trained without the fold's scenes too).
    """
    scenes = FOLDS[k]
    fold_dir = work / f"fold{k}"
    synth_dir = None
    if synth_count > 0:
        synth_dir = shared / "synth" / f"fold{k}-{synth_count}"
        _cli("synth", "--out", str(synth_dir), "--count", str(synth_count), "--seed", "0",
             "--alpha-shapes", str(ALPHA_SHAPES), "--exclude", ",".join(scenes))
    config = fold_config(base, scenes, synth_dir=synth_dir, cache_dir=fold_dir / "fg_cache",
                         steps=steps, base_dir=base_dir)
    if init_from is not None:
        start = shared / init_from / f"fold{k}" / "run" / "checkpoints" / "latest.pt"
        if not (shared / init_from / f"fold{k}" / "trained").exists() or not start.is_file():
            raise SystemExit(f"{start}: no finished run of --init-from {init_from} on fold "
                             f"{k}; cross-validate that recipe first")
        config["model"]["init_from"] = str(start)
    fold_dir.mkdir(parents=True, exist_ok=True)
    config_path = fold_dir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    run = fold_dir / "run"
    generator = run / "generator.safetensors"
    done = fold_dir / "trained"  # written once the run has finished
    # What the run was trained with: reusing a finished run (or resuming one) under the same
    # --name but another recipe would score the wrong model.
    recipe = hashlib.sha256(json.dumps([config, overrides], sort_keys=True).encode()).hexdigest()
    marker = fold_dir / "recipe.sha256"
    if marker.exists() and marker.read_text().strip() != recipe:
        raise SystemExit(f"{fold_dir} holds a run of another recipe (config or --set differ); "
                         f"delete it or choose another --name")
    if done.exists() and generator.exists():
        return generator
    marker.write_text(recipe + "\n")
    if (run / "checkpoints" / "latest.pt").exists():  # the run's own config.yaml holds the sets
        _cli("train", "--out", str(run), "--resume")
    else:
        _cli("train", "--config", str(config_path), "--out", str(run),
             *[a for o in overrides for a in ("--set", o)])
    if not generator.exists():
        raise SystemExit(f"{run}: training wrote no generator.safetensors")
    done.write_text(f"{generator}\n")
    return generator


def ensemble_fold(k: int, members: list[str], work: Path, shared: Path) -> Path:
    """Fold ``k``'s ensemble of the final generators of the crossval recipes ``members``
    (``alphagan ensemble``, written once under ``work``): what a model file made of those
    recipes' networks would score, each trained without the fold's scenes.
    ``SystemExit`` naming the first member without a finished run on the fold."""
    generators = []
    for name in members:
        generator = shared / name / f"fold{k}" / "run" / "generator.safetensors"
        if not (shared / name / f"fold{k}" / "trained").exists() or not generator.is_file():
            raise SystemExit(f"{generator}: no finished run of recipe {name} on fold {k}; "
                             f"cross-validate that recipe first")
        generators.append(generator)
    target = work / f"fold{k}" / "ensemble.safetensors"
    wanted = "\n".join(str(g) for g in generators) + "\n"
    marker = work / f"fold{k}" / "ensemble.members"
    if target.is_file() and marker.is_file() and marker.read_text() == wanted:
        return target
    if marker.is_file() and marker.read_text() != wanted:
        raise SystemExit(f"{work / f'fold{k}'} holds an ensemble of other runs; delete it or "
                         f"choose another --name")
    target.parent.mkdir(parents=True, exist_ok=True)
    _cli("ensemble", *map(str, generators), "--out", str(target))
    marker.write_text(wanted)
    return target


def score_fold(k: int, methods: list[str], checkpoint: Path | None, work: Path,
               shared: Path, threads: int | None) -> dict[str, dict[str, dict[str, float]]]:
    """``{method: {trimap set: means}}`` for fold ``k``; classical results are cached in
    ``shared`` (they do not depend on the recipe), the recipe's own under ``work``."""
    from benchmarks.model_card import run as model_card_run

    results: dict[str, dict[str, dict[str, float]]] = {}
    cache = shared / "classical" / f"fold{k}.json"
    cached = json.loads(cache.read_text()) if cache.exists() else {}
    ours_cache = work / f"fold{k}" / "scores.json"  # the recipe's own, reused once scored
    if checkpoint is not None and ours_cache.exists():
        cached.update(json.loads(ours_cache.read_text()))
    for method in methods:
        if method in cached:
            results[method] = cached[method]
            continue
        ours = method.startswith("alphagan")
        raw = model_card_run(list(FOLDS[k]), [method], str(checkpoint) if ours else None,
                             (work if ours else shared / "classical") / f"fold{k}", threads)
        results[method] = {t: {m: r[m] for m in METRICS} for (t, _), r in raw.items()}
        target = ours_cache if ours else cache
        stored = json.loads(target.read_text()) if target.exists() else {}
        stored[method] = results[method]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(stored, indent=2) + "\n")
    return results


def mean_over(rows: list[dict[str, float]]) -> dict[str, float]:
    return {m: sum(r[m] for r in rows) / len(rows) for m in METRICS}


def summarize(folds: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per method: the mean over folds and both trimap sets (each case weighs the same)."""
    methods = folds[0]["results"].keys()
    return {m: mean_over([r for f in folds for r in f["results"][m].values()]) for m in methods}


def markdown(summary: dict[str, dict[str, float]], label: str) -> str:
    lines = ["| recipe / method | SAD | MSE | Grad | Conn | s/image |",
             "|---|---:|---:|---:|---:|---:|"]
    for method, r in summary.items():
        name = label if method == "alphagan" else method
        lines.append(f"| {name} | {r['sad']:.2f} | {r['mse']:.4f} | {r['grad']:.2f} | "
                     f"{r['conn']:.2f} | {r['seconds']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "alphagan_light.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="training config override, as for alphagan train")
    parser.add_argument("--steps", type=int, help="training steps (default: the config's)")
    parser.add_argument("--name", default="alphagan", help="the recipe's label in the table")
    parser.add_argument("--folds", default="0,1,2")
    parser.add_argument("--methods", default="alphagan,cf,knn,lkm",
                        help="alphagan = the fold's model with predict's defaults, "
                             "alphagan-1pass = the same with --tta none; others are "
                             "alphagan baseline methods")
    parser.add_argument("--synth-count", type=int, default=300,
                        help="procedural foregrounds per fold (0: the recipe uses none)")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "crossval")
    parser.add_argument("--ensemble", nargs="+", metavar="NAME",
                        help="train nothing: score each fold's ensemble of these finished "
                             "recipes' final generators (e.g. one recipe's seeds)")
    parser.add_argument("--init-from", metavar="NAME",
                        help="fine-tune: each fold starts from the final checkpoint of the "
                             "crossval recipe NAME on that fold (never from one that saw it)")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" /
                        "crossval.json")
    args = parser.parse_args(argv)
    if args.ensemble and (args.set or args.steps or args.init_from):
        parser.error("--ensemble trains nothing: --set, --steps and --init-from do not apply")
    if not SCENES.is_dir():
        raise SystemExit(f"{SCENES}: not found (the scenes live in ../shared/data)")
    base = yaml.safe_load(args.config.read_text())
    work = args.work / args.name
    methods = args.methods.split(",")
    folds = []
    for k in (int(f) for f in args.folds.split(",")):
        checkpoint = None
        if args.ensemble and any(m.startswith("alphagan") for m in methods):
            checkpoint = ensemble_fold(k, args.ensemble, work, args.work)
        elif any(m.startswith("alphagan") for m in methods):
            checkpoint = train_fold(base, ROOT, k, work, steps=args.steps, overrides=args.set,
                                    synth_count=args.synth_count, shared=args.work,
                                    init_from=args.init_from)
        results = score_fold(k, methods, checkpoint, work, args.work, args.threads)
        folds.append({"fold": k, "scenes": list(FOLDS[k]), "results": results})
        print(f"fold {k} ({', '.join(FOLDS[k])}):\n"
              f"{markdown(summarize(folds[-1:]), args.name)}\n", flush=True)
    summary = summarize(folds)
    print(f"mean over folds {args.folds}, both trimaps:\n{markdown(summary, args.name)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "recipe": args.name, "config": None if args.ensemble else str(args.config),
        "overrides": args.set,
        "steps": args.steps, "init_from": args.init_from, "ensemble": args.ensemble,
        "checkpoint_rule": "final generator.safetensors",
        "folds": folds, "mean": summary,
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
