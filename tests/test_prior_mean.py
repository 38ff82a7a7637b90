"""benchmarks.prior_mean: the per-pixel mean of cached classical mattes, scored per fold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alphagan.io import write_png
from alphagan.metrics import compute_all
from alphagan.trimap import trimap_to_uint8
from benchmarks.crossval import FOLDS
from benchmarks.prior_mean import prior_mean_fold


@pytest.mark.parametrize("combine", ["mean", "better"])
def test_the_mean_of_the_cached_mattes_is_scored(tmp_path: Path, combine: str) -> None:
    rng = np.random.default_rng(0)
    fold = tmp_path / "classical" / "fold1"
    expected: dict[str, list[dict[str, float]]] = {}
    for trimap_set in ("Trimap1", "Trimap2"):
        for stem in FOLDS[1]:
            gt = rng.integers(0, 256, (24, 32)).astype(np.uint8)
            trimap = np.full((24, 32), 0.5, np.float32)
            trimap[:4], trimap[-4:] = 0.0, 1.0
            mattes = {m: rng.integers(0, 256, (24, 32)).astype(np.uint8) for m in ("cf", "knn")}
            inputs = fold / "inputs" / trimap_set
            write_png(inputs / "gt" / f"{stem}.png", gt)
            write_png(inputs / "trimaps" / f"{stem}.png", trimap_to_uint8(trimap))
            for m, a in mattes.items():
                write_png(fold / "out" / trimap_set / m / "alpha" / f"{stem}.png", a)
            mean = (mattes["cf"].astype(np.float32) + mattes["knn"]) / 2 / 255
            if combine == "better":  # by hand: the one nearer the truth, pixel by pixel
                cf, knn, truth = (a.astype(np.float32) / 255 for a in (mattes["cf"],
                                                                        mattes["knn"], gt))
                # ties (equal integer distances) go to cf, whatever float rounding says
                cf_err = np.abs(mattes["cf"].astype(int) - gt)
                knn_err = np.abs(mattes["knn"].astype(int) - gt)
                mean = np.where(cf_err <= knn_err, cf, knn)
            expected.setdefault(trimap_set, []).append(compute_all(mean, gt / 255.0, trimap))
    cached = {m: {t: {"sad": 0, "mse": 0, "grad": 0, "conn": 0, "seconds": s}
                  for t in ("Trimap1", "Trimap2")} for m, s in (("cf", 1.5), ("knn", 2.0))}
    (tmp_path / "classical" / "fold1.json").write_text(json.dumps(cached))

    result = prior_mean_fold(1, tmp_path, combine=combine)
    for trimap_set, rows in expected.items():
        for metric in ("sad", "mse", "grad", "conn"):
            want = np.mean([r[metric] for r in rows])
            assert result[trimap_set][metric] == pytest.approx(want, rel=1e-6)
        assert result[trimap_set]["seconds"] == 3.5  # both solvers run
