"""Score a folder of predicted alphas against ground truth with the DIM metrics.

Files are paired by stem (file name without extension) across the prediction, ground-truth
and trimap folders; every stem must be present in all three.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alphagan.errors import InputError
from alphagan.io import IMAGE_EXTENSIONS, list_images, read_grey
from alphagan.metrics import compute_all
from alphagan.trimap import read_trimap

__all__ = ["EvaluationResult", "evaluate_folders", "format_table"]

METRIC_NAMES = ("sad", "mse", "grad", "conn")


@dataclass
class EvaluationResult:
    """Per-image metrics ``{stem: {"sad", "mse", "grad", "conn"}}`` and their means."""

    per_image: dict[str, dict[str, float]]
    mean: dict[str, float]

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

    Raises ``InputError`` for a missing or empty folder, a stem that is not in all three
    folders (the message lists every such file), two files with one stem in a folder, an
    undecodable file, or files of one stem with different sizes.
    """
    folders = {"pred": Path(pred_dir), "gt": Path(gt_dir), "trimap": Path(trimap_dir)}
    listings = {role: _list_images(folder, role) for role, folder in folders.items()}
    _check_pairing(listings, folders)
    per_image: dict[str, dict[str, float]] = {}
    for stem in sorted(listings["pred"]):
        paths = {role: listing[stem] for role, listing in listings.items()}
        # read_grey keeps 8-bit files as uint8, so the metrics see the exact integers; colour
        # or transparent files (a cut-out given as a prediction) are refused, not misread
        pred = read_grey(paths["pred"], colour="refuse")
        gt = read_grey(paths["gt"], colour="refuse")
        trimap = read_trimap(paths["trimap"])
        if not pred.shape == gt.shape == trimap.shape:
            sizes = ", ".join(
                f"{paths[role]} is {a.shape[1]}x{a.shape[0]}"
                for role, a in (("pred", pred), ("gt", gt), ("trimap", trimap))
            )
            raise InputError(f"image sizes differ (width x height): {sizes}")
        try:
            per_image[stem] = compute_all(pred, gt, trimap)
        except InputError as exc:
            raise InputError(f"{paths['trimap']}: {exc}") from exc
    mean = {k: float(np.mean([scores[k] for scores in per_image.values()])) for k in METRIC_NAMES}
    return EvaluationResult(per_image=per_image, mean=mean)


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


def _list_images(folder: Path, role: str) -> dict[str, Path]:
    """{stem: path} of the image files directly inside ``folder``; refuses an empty folder."""
    found = list_images(folder)
    if not found:
        raise InputError(f"{role} folder {folder} holds no images ({' '.join(IMAGE_EXTENSIONS)})")
    return found


def _check_pairing(listings: dict[str, dict[str, Path]], folders: dict[str, Path]) -> None:
    """Raise ``InputError`` listing every file whose stem is missing from another folder."""
    all_stems = set().union(*listings.values())
    problems = []
    for stem in sorted(all_stems):
        missing = [role for role in listings if stem not in listings[role]]
        if not missing:
            continue
        where = ", ".join(f"the {role} folder {folders[role]}" for role in missing)
        for role, listing in listings.items():
            if stem in listing:
                problems.append(f"  {listing[stem]} ({role}): no {stem}.* in {where}")
    if problems:
        raise InputError(
            f"{len(problems)} file(s) have no counterpart (files are paired by name without "
            "extension):\n" + "\n".join(problems)
        )
