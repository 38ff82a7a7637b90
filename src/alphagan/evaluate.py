"""Score a folder of predicted alphas against ground truth with the DIM metrics.

Files are paired by stem (file name without extension) across the prediction, ground-truth
and trimap folders. Every prediction with a ground truth and a trimap is scored; the
ground-truth and trimap folders may hold more (a benchmark's full set), and predictions
without a counterpart are listed, not scored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alphagan.errors import InputError
from alphagan.io import IMAGE_EXTENSIONS, read_grey, scan_images, shared_stem_problems
from alphagan.metrics import compute_all
from alphagan.trimap import read_trimap, unknown_mask

__all__ = ["EvaluationResult", "evaluate_folders", "format_table"]

METRIC_NAMES = ("sad", "mse", "grad", "conn")


@dataclass
class EvaluationResult:
    """Per-image metrics ``{stem: {"sad", "mse", "grad", "conn"}}`` and their means."""

    per_image: dict[str, dict[str, float]]
    mean: dict[str, float]
    # one line per prediction that was not scored (no ground truth or no trimap)
    unmatched: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """``{"mean": {metric: value}, "per_image": {stem: {metric: value}}}``, plain floats."""
        return {
            "mean": {k: float(self.mean[k]) for k in METRIC_NAMES},
            "per_image": {
                stem: {k: float(scores[k]) for k in METRIC_NAMES}
                for stem, scores in sorted(self.per_image.items())
            },
        }


def evaluate_folders(
    pred_dir: str | os.PathLike[str],
    gt_dir: str | os.PathLike[str],
    trimap_dir: str | os.PathLike[str],
) -> EvaluationResult:
    """Score every prediction in ``pred_dir`` against ``gt_dir`` inside ``trimap_dir``'s trimaps.

    Images: .png .jpg .jpeg .bmp .tif .tiff .webp (any case); other files are ignored. Alphas
    are read as stored (8-bit, 16-bit, grey/RGB/palette); trimaps go through
    :func:`alphagan.trimap.read_trimap` (near levels snapped, non-trimaps refused). ``per_image`` is keyed by stem, in sorted order.

    Predictions that cannot be scored are listed in ``unmatched``, one line each naming the
    file and why: no ground truth or trimap of their stem, two files sharing a stem in a
    folder, an undecodable or colour file, files of one stem with different sizes, a trimap
    without unknown pixels. The rest are scored; extra ground truths and trimaps are ignored.
    Raises ``InputError`` for a missing or empty folder, or no prediction that can be scored.
    """
    folders = {"pred": Path(pred_dir), "gt": Path(gt_dir), "trimap": Path(trimap_dir)}
    shared: list[str] = []
    listings = {role: _list_images(folder, role, shared) for role, folder in folders.items()}
    unmatched = shared + _unmatched(listings, folders)
    scorable = [s for s in sorted(listings["pred"])
                if s in listings["gt"] and s in listings["trimap"]]
    if not scorable:
        raise InputError(
            f"no prediction in {folders['pred']} has both a ground truth in {folders['gt']} "
            f"and a trimap in {folders['trimap']} (files are paired by name without extension)"
        )
    per_image: dict[str, dict[str, float]] = {}
    for stem in scorable:
        paths = {role: listing[stem] for role, listing in listings.items()}
        try:
            per_image[stem] = _score(paths)
        except InputError as exc:  # this prediction is not scored; the others are
            unmatched.append(" ".join(str(exc).split()))
    if not per_image:
        # every reason, not only the first: each may need its own fix
        raise InputError(f"no prediction in {folders['pred']} could be scored "
                         f"({len(unmatched)} problem(s)): {'; '.join(unmatched)}")
    mean = {k: float(np.mean([scores[k] for scores in per_image.values()])) for k in METRIC_NAMES}
    return EvaluationResult(per_image=per_image, mean=mean, unmatched=unmatched)


def _score(paths: dict[str, Path]) -> dict[str, float]:
    """The four metrics of one stem; InputError naming the file that prevents it."""
    # read_grey keeps 8-bit files as uint8, so the metrics see the exact integers; colour or
    # transparent files (a cut-out given as a prediction) are refused, not misread
    pred = read_grey(paths["pred"], colour="refuse")
    gt = read_grey(paths["gt"], colour="refuse")
    trimap = read_trimap(paths["trimap"], require_unknown=False)
    if not unknown_mask(trimap).any():  # the metrics cover the unknown region only
        raise InputError(f"{paths['trimap']}: has no unknown (grey) pixels, nothing to score")
    if not pred.shape == gt.shape == trimap.shape:
        sizes = ", ".join(
            f"{paths[role]} is {a.shape[1]}x{a.shape[0]}"
            for role, a in (("pred", pred), ("gt", gt), ("trimap", trimap))
        )
        raise InputError(f"{paths['pred']}: image sizes differ (width x height): {sizes}")
    try:
        return compute_all(pred, gt, trimap)
    except InputError as exc:
        raise InputError(f"{paths['trimap']}: {exc}") from exc


def format_table(result: EvaluationResult) -> str:
    """A fixed-width table: one row per image (sorted by stem), then the mean row."""
    width = max([len("image"), len("mean"), *(len(stem) for stem in result.per_image)])
    header = f"{'image':<{width}} {'SAD':>10} {'MSE':>10} {'Grad':>10} {'Conn':>10}"
    rule = "-" * len(header)

    def row(name: str, s: dict[str, float]) -> str:
        return (
            f"{name:<{width}} {s['sad']:>10.2f} {s['mse']:>10.5f} "
            f"{s['grad']:>10.2f} {s['conn']:>10.2f}"
        )

    rows = [row(stem, result.per_image[stem]) for stem in sorted(result.per_image)]
    return "\n".join([header, rule, *rows, rule, row("mean", result.mean)])


def _list_images(folder: Path, role: str, shared: list[str]) -> dict[str, Path]:
    """{stem: path} of the image files directly inside ``folder``; refuses an empty folder.
    Files sharing a stem are left out and described in ``shared``."""
    found, duplicates = scan_images(folder)
    shared += shared_stem_problems(duplicates)
    if not found and not duplicates:
        raise InputError(f"{role} folder {folder} holds no images ({' '.join(IMAGE_EXTENSIONS)})")
    return found


def _unmatched(listings: dict[str, dict[str, Path]], folders: dict[str, Path]) -> list[str]:
    """One line per prediction whose stem is missing from the ground-truth or trimap folder."""
    lines = []
    for stem, path in sorted(listings["pred"].items()):
        missing = [role for role in ("gt", "trimap") if stem not in listings[role]]
        if missing:
            where = " and ".join(f"the {role} folder {folders[role]}" for role in missing)
            lines.append(f"{path}: no {stem}.* in {where}")
    return lines
