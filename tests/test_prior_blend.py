"""benchmarks.prior_blend: blends of cached mattes, and the nested choice of the weight."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alphagan.io import write_png
from alphagan.metrics import compute_all
from alphagan.trimap import trimap_to_uint8
from benchmarks.crossval import FOLDS
from benchmarks.prior_blend import blend_rows, nested_choice


def row(sad: float) -> dict[str, float]:
    return {"sad": sad, "mse": 0.0, "grad": 0.0, "conn": 0.0}


def test_nested_choice_never_looks_at_the_held_out_fold() -> None:
    # weight 0.5 is best on folds 0 and 1, weight 1.0 on fold 2 (by far)
    rows = {0: {0.5: [row(1.0)], 1.0: [row(2.0)]},
            1: {0.5: [row(1.0)], 1.0: [row(2.0)]},
            2: {0.5: [row(9.0)], 1.0: [row(0.0)]}}
    # fold 2 held out: folds 0+1 pick 0.5, although 1.0 would score fold 2 better
    # fold 0 held out: folds 1+2 average 5.0 for 0.5 and 1.0 for 1.0 -> 1.0
    assert nested_choice(rows) == {0: 1.0, 1: 1.0, 2: 0.5}
    # a tie goes to the larger weight (more of the network)
    tie = {k: {0.5: [row(1.0)], 1.0: [row(1.0)]} for k in range(3)}
    assert nested_choice(tie) == {0: 1.0, 1: 1.0, 2: 1.0}


@pytest.mark.parametrize("clip", [False, True])
def test_blend_rows_score_the_weighted_mean_of_the_cached_mattes(tmp_path: Path,
                                                                  clip: bool) -> None:
    rng = np.random.default_rng(1)
    stem, trimap_set, k = FOLDS[0][0], "Trimap1", 0
    expected = {}
    for fold_k, scenes in enumerate(FOLDS):
        for ts in ("Trimap1", "Trimap2"):
            for s in scenes:
                inputs = tmp_path / "classical" / f"fold{fold_k}" / "inputs" / ts
                gt = rng.integers(0, 256, (16, 20)).astype(np.uint8)
                trimap = np.full((16, 20), 0.5, np.float32)
                trimap[:3], trimap[-3:] = 0.0, 1.0
                write_png(inputs / "gt" / f"{s}.png", gt)
                write_png(inputs / "trimaps" / f"{s}.png", trimap_to_uint8(trimap))
                mattes = {}
                for method, folder in (("cf", tmp_path / "classical" / f"fold{fold_k}" / "out"),
                                       ("knn", tmp_path / "classical" / f"fold{fold_k}" / "out"),
                                       ("alphagan", tmp_path / "r" / f"fold{fold_k}" / "out")):
                    mattes[method] = rng.integers(0, 256, (16, 20)).astype(np.uint8)
                    write_png(folder / ts / method / "alpha" / f"{s}.png", mattes[method])
                if (fold_k, ts, s) == (k, trimap_set, stem):
                    network = mattes["alphagan"]
                    if clip:  # by hand: each pixel into [lower, higher] of the two priors
                        low = np.where(mattes["cf"] < mattes["knn"], mattes["cf"], mattes["knn"])
                        high = np.where(mattes["cf"] > mattes["knn"], mattes["cf"], mattes["knn"])
                        network = np.where(network < low, low, np.where(network > high, high,
                                                                        network))
                        assert (network != mattes["alphagan"]).any()
                    blend = (0.25 * network / 255.0
                             + 0.75 * (mattes["cf"] / 255.0 + mattes["knn"] / 255.0) / 2)
                    expected = compute_all(blend, gt / 255.0, trimap)
    rows = blend_rows(tmp_path, "r", weights=(0.25, 1.0), clip=clip)
    assert len(rows[0][0.25]) == 2 * len(FOLDS[0])
    got = rows[k][0.25][0]  # the first case of fold 0 is (Trimap1, first scene)
    for metric, value in expected.items():
        assert got[metric] == pytest.approx(value, rel=1e-5, abs=1e-9)


def test_apply_blend_rewrites_the_config_and_keeps_the_tensors(tmp_path: Path) -> None:
    import dataclasses

    import torch

    from alphagan.checkpoint import load_model, read_metadata, save_model
    from alphagan.models import AlphaGANGenerator
    from benchmarks.prior_blend import apply_blend
    from tests.helpers import TINY_CONFIG

    torch.manual_seed(0)
    model = AlphaGANGenerator(dataclasses.replace(TINY_CONFIG, prior="cf+knn"))
    path = save_model(model, tmp_path / "m.safetensors", extra_metadata={"step": "600"})
    apply_blend(path, 0.5, clip=True)
    loaded = load_model(path)
    assert loaded.config.prior_blend == 0.5 and loaded.config.prior_clip
    assert read_metadata(path)["step"] == "600"
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name])

    # an ensemble file: every member gets the setting, tensors and metadata kept
    from alphagan.checkpoint import save_ensemble

    other = AlphaGANGenerator(loaded.config)  # another network (new random weights)
    other_path = save_model(other, tmp_path / "m2.safetensors", extra_metadata={"step": "600"})
    ens = save_ensemble([other_path, path], tmp_path / "ens.safetensors")
    apply_blend(ens, 0.75, clip=False)
    loaded = load_model(ens)
    assert [m.config.prior_blend for m in loaded.members] == [0.75, 0.75]
    assert not any(m.config.prior_clip for m in loaded.members)
    assert read_metadata(ens)["member0.step"] == "600" and read_metadata(ens)["members"] == "2"
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.members[1].state_dict()[name])


def test_several_names_are_pooled_case_by_case(tmp_path: Path) -> None:
    """--name r r2: every case counts once per recipe run, so each weight's score over all
    folds is the mean of the two runs' scores (equal case counts)."""
    import json
    import shutil

    from benchmarks.prior_blend import main, mean_rows

    test_blend_rows_score_the_weighted_mean_of_the_cached_mattes(tmp_path, False)  # run "r"
    shutil.copytree(tmp_path / "r", tmp_path / "r2")
    rng = np.random.default_rng(7)
    for path in (tmp_path / "r2").rglob("*.png"):
        write_png(path, rng.integers(0, 256, (16, 20)).astype(np.uint8))
    out = tmp_path / "pooled.json"
    main(["--name", "r", "r2", "--work", str(tmp_path), "--out", str(out)])
    pooled = json.loads(out.read_text())
    assert pooled["recipe"] == ["r", "r2"]
    one, two = blend_rows(tmp_path, "r"), blend_rows(tmp_path, "r2")
    for w in (0.0, 1.0):
        each = [mean_rows([row for k in rows for row in rows[k][w]]) for rows in (one, two)]
        for metric in ("sad", "mse", "grad", "conn"):
            assert pooled["every_weight_all_folds"][str(w)][metric] == pytest.approx(
                (each[0][metric] + each[1][metric]) / 2, rel=1e-9)


def test_an_ensemble_scores_the_mean_of_the_runs_clamped_mattes(tmp_path: Path) -> None:
    """--ensemble --clip: per case, each run's matte clamped to the priors' range, then the
    mean of the runs (what a GeneratorEnsemble of their networks outputs)."""
    import shutil

    from alphagan.io import read_alpha
    from alphagan.trimap import read_trimap

    test_blend_rows_score_the_weighted_mean_of_the_cached_mattes(tmp_path, False)  # run "r"
    shutil.copytree(tmp_path / "r", tmp_path / "r2")
    rng = np.random.default_rng(3)
    for path in (tmp_path / "r2").rglob("*.png"):
        write_png(path, rng.integers(0, 256, (16, 20)).astype(np.uint8))
    stem, ts = FOLDS[0][0], "Trimap1"
    classical = tmp_path / "classical" / "fold0"
    cf, knn = (read_alpha(classical / "out" / ts / m / "alpha" / f"{stem}.png")
               for m in ("cf", "knn"))
    low, high = np.minimum(cf, knn), np.maximum(cf, knn)
    runs = [read_alpha(tmp_path / r / "fold0" / "out" / ts / "alphagan" / "alpha" / f"{stem}.png")
            for r in ("r", "r2")]
    clamped = [np.where(a < low, low, np.where(a > high, high, a)) for a in runs]
    assert not np.array_equal(clamped[0], clamped[1])
    expected = compute_all((clamped[0] + clamped[1]) / 2,
                           read_alpha(classical / "inputs" / ts / "gt" / f"{stem}.png"),
                           read_trimap(classical / "inputs" / ts / "trimaps" / f"{stem}.png"))
    rows = blend_rows(tmp_path, ["r", "r2"], weights=(1.0,), clip=True)
    assert len(rows[0][1.0]) == 2 * len(FOLDS[0])  # each case once, not once per run
    for metric, value in expected.items():
        assert rows[0][1.0][0][metric] == pytest.approx(value, rel=1e-5, abs=1e-9)


def test_choose_clip_picks_clamp_and_weight_on_the_other_folds(tmp_path: Path) -> None:
    """--choose-clip: each held-out fold is scored with the (clamp, weight) pair that has the
    lowest mean SAD on the other two folds, recomputed here from blend_rows with and without
    the clamp."""
    import json

    from benchmarks.prior_blend import main, mean_rows

    test_blend_rows_score_the_weighted_mean_of_the_cached_mattes(tmp_path, False)  # run "r"
    by_clip = {c: blend_rows(tmp_path, "r", clip=c) for c in (True, False)}
    pairs = [(c, w) for c in (True, False) for w in sorted(by_clip[c][0], reverse=True)]

    def sad(folds: list[int], pair: tuple[bool, float]) -> float:
        return mean_rows([r for j in folds for r in by_clip[pair[0]][j][pair[1]]])["sad"]

    out = tmp_path / "choice.json"
    main(["--choose-clip", "--name", "r", "--work", str(tmp_path), "--out", str(out)])
    result = json.loads(out.read_text())
    held_out = []
    for k in range(len(FOLDS)):
        others = [j for j in range(len(FOLDS)) if j != k]
        best = min(pairs, key=lambda p: sad(others, p))
        name = f"{'clamp' if best[0] else 'no clamp'}, w = {best[1]}"
        assert result["chosen"][str(k)]["chosen"] == name
        held_out += by_clip[best[0]][k][best[1]]
    assert result["nested"]["sad"] == pytest.approx(mean_rows(held_out)["sad"], rel=1e-9)
    assert len(result["every_weight_all_folds"]) == 10  # 2 clamps x 5 weights
    with pytest.raises(SystemExit):  # both flags: a usage error
        main(["--clip", "--choose-clip", "--name", "r", "--work", str(tmp_path)])
