"""benchmarks.crossval: the folds and the leave-scenes-out training configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alphagan.training.config import load_config
from benchmarks.crossval import FOLDS, fold_config, markdown, summarize

ROOT = Path(__file__).resolve().parents[1]
SCENES = ROOT.parent / "shared" / "data" / "alphamatting" / "input_training_lowres"


def test_folds_partition_the_18_scenes() -> None:
    flat = [s for fold in FOLDS for s in fold]
    assert len(FOLDS) == 3 and all(len(f) == 6 for f in FOLDS)
    assert len(set(flat)) == 18
    if SCENES.is_dir():
        assert set(flat) == {p.stem for p in SCENES.glob("GT*.png")}


@pytest.mark.parametrize("k", range(3))
def test_fold_config_keeps_the_fold_out_of_everything(k: int, tmp_path: Path) -> None:
    base = yaml.safe_load((ROOT / "configs" / "alphagan_light.yaml").read_text())
    base["model"]["init_from"] = "runs/light/checkpoints/latest.pt"  # trained on every scene
    synth = tmp_path / "synth"
    derived = fold_config(base, FOLDS[k], synth_dir=synth, cache_dir=tmp_path / "cache",
                          steps=7, base_dir=ROOT)
    path = tmp_path / "fold.yaml"
    path.write_text(yaml.safe_dump(derived))
    config = load_config(path)  # what alphagan train will read
    real = [s for s in config.data.train if s.layout == "alphamatting"]
    assert real and all(set(s.exclude) == set(FOLDS[k]) and not s.names for s in real)
    folders = [s for s in config.data.train if s.layout == "folder"]
    assert [s.fg_dir for s in folders] == [str(synth / "fg")]
    assert config.data.val is None and config.model.init_from is None
    assert config.data.fg_cache_dir == str(tmp_path / "cache")
    assert config.steps == 7
    assert all(Path(b).is_absolute() for b in config.data.backgrounds)
    assert base["model"]["init_from"] == "runs/light/checkpoints/latest.pt"  # input untouched
    with pytest.raises(ValueError, match="synth"):
        fold_config(base, FOLDS[k], synth_dir=None, cache_dir=tmp_path, steps=None,
                    base_dir=ROOT)


def test_summary_weighs_every_fold_and_trimap_equally() -> None:
    def row(v: float) -> dict[str, float]:
        return {"sad": v, "mse": v / 100, "grad": 2 * v, "conn": v, "seconds": 1.0}

    folds = [{"results": {"alphagan": {"Trimap1": row(1), "Trimap2": row(3)},
                          "cf": {"Trimap1": row(2), "Trimap2": row(2)}}},
             {"results": {"alphagan": {"Trimap1": row(5), "Trimap2": row(7)},
                          "cf": {"Trimap1": row(4), "Trimap2": row(4)}}}]
    summary = summarize(folds)
    assert summary["alphagan"]["sad"] == pytest.approx(4.0)  # (1 + 3 + 5 + 7) / 4
    assert summary["cf"]["grad"] == pytest.approx(6.0)
    table = markdown(summary, "recipe")
    assert "| recipe | 4.00 | 0.0400 | 8.00 | 4.00 | 1.00 |" in table
