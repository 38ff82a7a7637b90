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


@pytest.mark.slow
def test_one_fold_end_to_end(tmp_path: Path) -> None:
    """The command as a user runs it (tiny recipe, 2 steps, fold 0, alphagan and cf): the run
    never saw the fold's scenes, and every scene is scored with both trimaps."""
    if not SCENES.is_dir():
        pytest.skip(f"{SCENES}: the alphamatting.com scenes are not here")
    from benchmarks.crossval import main

    out = tmp_path / "cv.json"
    main(["--config", str(ROOT / "configs" / "tiny.yaml"), "--steps", "2", "--folds", "0",
          "--methods", "alphagan,cf", "--synth-count", "0", "--work", str(tmp_path / "work"),
          "--name", "tiny", "--out", str(out), "--threads", "1"])
    import json

    result = json.loads(out.read_text())
    run_config = yaml.safe_load((tmp_path / "work" / "tiny" / "fold0" / "run" /
                                 "config.yaml").read_text())
    assert set(run_config["data"]["train"][0]["exclude"]) == set(FOLDS[0])
    assert run_config["steps"] == 2 and run_config["data"]["val"] is None
    fold = result["folds"][0]
    assert fold["scenes"] == list(FOLDS[0])
    for method in ("alphagan", "cf"):
        assert set(fold["results"][method]) == {"Trimap1", "Trimap2"}
        assert all(r["sad"] > 0 for r in fold["results"][method].values())
    # A 2-step network is far from closed-form; the table would show it.
    assert result["mean"]["alphagan"]["sad"] > result["mean"]["cf"]["sad"]
    # Same --name, another recipe: refused rather than scoring the old run as the new one.
    with pytest.raises(SystemExit, match="another recipe"):
        main(["--config", str(ROOT / "configs" / "tiny.yaml"), "--steps", "3", "--folds", "0",
              "--methods", "alphagan", "--synth-count", "0", "--work", str(tmp_path / "work"),
              "--name", "tiny", "--out", str(out)])


def test_fold_config_keeps_the_fold_out_of_the_training_photos(tmp_path: Path) -> None:
    base = yaml.safe_load((ROOT / "configs" / "alphagan_prior_photos.yaml").read_text())
    derived = fold_config(base, FOLDS[1], synth_dir=tmp_path / "synth",
                          cache_dir=tmp_path / "cache", steps=None, base_dir=ROOT)
    path = tmp_path / "fold.yaml"
    path.write_text(yaml.safe_dump(derived))
    config = load_config(path)
    assert [s.trimap_set for s in config.data.photos] == ["Trimap1", "Trimap2"]
    assert all(set(s.exclude) == set(FOLDS[1]) and Path(s.root).is_absolute()
               for s in config.data.photos)
    assert config.data.photo_fraction == 0.5 and config.model.init_from is None


def test_ensemble_fold_combines_the_finished_runs_of_the_fold(tmp_path: Path) -> None:
    """--ensemble: fold k's model is the ensemble of the named recipes' final generators on
    fold k (members in the given order, the tensors unchanged); it is built once, refused for
    a run that has not finished and for another member list under the same --name."""
    import torch

    from alphagan.checkpoint import load_model, save_model
    from alphagan.models import AlphaGANGenerator
    from benchmarks.crossval import ensemble_fold
    from tests.helpers import TINY_CONFIG

    shared = tmp_path / "crossval"
    networks = {}
    for seed, name in enumerate(("r", "r-seed1", "r-seed2")):
        torch.manual_seed(seed)
        networks[name] = AlphaGANGenerator(TINY_CONFIG)
        run = shared / name / "fold1" / "run"
        run.mkdir(parents=True)
        save_model(networks[name], run / "generator.safetensors")
        if name != "r-seed2":
            (run.parent / "trained").write_text("done\n")
    work = shared / "ens"
    path = ensemble_fold(1, ["r-seed1", "r"], work, shared)
    model = load_model(path)
    assert len(model.members) == 2
    for member, name in zip(model.members, ("r-seed1", "r")):
        for key, tensor in networks[name].state_dict().items():
            assert torch.equal(member.state_dict()[key], tensor)
    built = path.stat().st_mtime_ns
    assert ensemble_fold(1, ["r-seed1", "r"], work, shared).stat().st_mtime_ns == built
    with pytest.raises(SystemExit, match="other runs"):
        ensemble_fold(1, ["r", "r-seed1"], work, shared)
    with pytest.raises(SystemExit, match=r"r-seed2/fold1/run/generator.safetensors: no finished"):
        ensemble_fold(1, ["r", "r-seed2"], tmp_path / "ens2", shared)
