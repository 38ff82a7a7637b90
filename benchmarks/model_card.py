"""The model card's quality table: a generator vs the classical baselines on held-out scenes.

Runs ``alphagan predict`` (the shipped model, or ``--checkpoint``) and ``alphagan baseline``
for each method on the chosen alphamatting.com scenes with both user trimaps, scores every
run with ``alphagan evaluate``, and prints a Markdown table (SAD, MSE, Grad, Conn, seconds
per image). Seconds are wall time of the whole command (model load and PNG I/O included)
divided by the number of images.

    python -m benchmarks.model_card --scenes GT02,GT08,GT14,GT25 [--checkpoint CKPT]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from alphagan.cli import main as cli

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "alphamatting"


def _link_scenes(work: Path, scenes: list[str], trimap_set: str) -> dict[str, Path]:
    """Folders holding only the chosen scenes (symlinks), as the CLI pairs by stem."""
    dirs = {k: work / "inputs" / trimap_set / k for k in ("images", "trimaps", "gt")}
    sources = {"images": DATA / "input_training_lowres",
               "trimaps": DATA / "trimap_training_lowres" / trimap_set,
               "gt": DATA / "gt_training_lowres"}
    for kind, folder in dirs.items():
        folder.mkdir(parents=True, exist_ok=True)
        for stem in scenes:
            link = folder / f"{stem}.png"
            if not link.exists():
                link.symlink_to(sources[kind] / f"{stem}.png")
    return dirs


def run(scenes: list[str], methods: list[str], checkpoint: str | None, work: Path,
        threads: int | None) -> dict:
    results: dict = {}
    for trimap_set in ("Trimap1", "Trimap2"):
        dirs = _link_scenes(work, scenes, trimap_set)
        for method in methods:
            out = work / "out" / trimap_set / method
            io_args = ["--image-dir", str(dirs["images"]), "--trimap-dir", str(dirs["trimaps"]),
                       "--out", str(out), "--outputs", "alpha", "--overwrite", "--quiet"]
            if method.startswith("alphagan"):  # alphagan-1pass: without the flip TTA
                args = ["predict", *io_args, *(["--tta", "none"] if method.endswith("1pass")
                                               else [])]
                if checkpoint:
                    args += ["--checkpoint", checkpoint]
                if threads:
                    args += ["--threads", str(threads)]
            else:
                args = ["baseline", "--method", method, *io_args]
            start = time.perf_counter()
            if cli(args) != 0:
                raise SystemExit(f"{method} failed on {trimap_set}")
            seconds = (time.perf_counter() - start) / len(scenes)
            scores = work / "scores" / f"{trimap_set}_{method}.json"
            if cli(["evaluate", "--pred-dir", str(out / "alpha"), "--gt-dir", str(dirs["gt"]),
                    "--trimap-dir", str(dirs["trimaps"]), "--json", str(scores)]) != 0:
                raise SystemExit(f"evaluate failed for {method} on {trimap_set}")
            data = json.loads(scores.read_text())
            results[(trimap_set, method)] = {**data["mean"], "seconds": seconds,
                                             "per_image": data["per_image"]}
    return results


def markdown(results: dict) -> str:
    lines = ["| trimap | method | SAD | MSE | Grad | Conn | s/image |",
             "|---|---|---|---|---|---|---|"]
    for (trimap_set, method), r in results.items():
        lines.append(f"| {trimap_set} | {method} | {r['sad']:.2f} | {r['mse']:.4f} | "
                     f"{r['grad']:.2f} | {r['conn']:.2f} | {r['seconds']:.2f} |")
    for method in dict.fromkeys(m for _, m in results):  # mean over both trimaps
        rows = [r for (_, m), r in results.items() if m == method]
        mean = {k: sum(r[k] for r in rows) / len(rows) for k in ("sad", "mse", "grad", "conn",
                                                                  "seconds")}
        lines.append(f"| both | {method} | {mean['sad']:.2f} | {mean['mse']:.4f} | "
                     f"{mean['grad']:.2f} | {mean['conn']:.2f} | {mean['seconds']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", default="GT02,GT08,GT14,GT25")
    parser.add_argument("--methods", default="alphagan,cf,knn,lkm",
                        help="alphagan = predict's defaults, alphagan-1pass = --tta none, "
                             "or baseline methods")
    parser.add_argument("--checkpoint", help="generator file (default: the shipped model)")
    parser.add_argument("--work", type=Path, default=Path("benchmarks/results/model_card"))
    parser.add_argument("--threads", type=int)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/model_card.json"))
    args = parser.parse_args()
    results = run(args.scenes.split(","), args.methods.split(","), args.checkpoint, args.work,
                  args.threads)
    table = markdown(results)
    print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(
        {f"{t}/{m}": r for (t, m), r in results.items()}, indent=2) + "\n")


if __name__ == "__main__":
    main()
