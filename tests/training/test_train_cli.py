"""``alphagan train`` refusals: each bad command is one stderr line, and nothing in the run
folder is written or overwritten by a command that is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from alphagan.cli import main
from alphagan.config import ConfigError, from_dict
from alphagan.errors import InputError
from alphagan.training.config import SourceConfig, TrainConfig, check_trainable
from alphagan.training.data import train_items
from alphagan.training.distributed import pick_device

# Short runs: no validation, a checkpoint at the last step only.
FAST = ["--quiet", "--set", "val_every=1000", "--set", "checkpoint_every=1000"]


def _train(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Exit status and stderr of ``alphagan train ARGS``."""
    capsys.readouterr()
    code = main(["train", *args])
    return code, capsys.readouterr().err


def _one_line_error(err: str, code: str = "error") -> str:
    lines = [line for line in err.splitlines() if line.startswith("alphagan:")]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"alphagan: {code}: "), err
    assert "error: unexpected" not in lines[0], err  # the CLI's wording for a bug
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def finished_run(micro_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-step run of the micro config (tests copy it before changing it)."""
    run = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", "--config", str(micro_config), "--out", str(run), "--steps", "2",
                 *FAST]) == 0
    return run


def _snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*"))
            if p.is_file()}


def _copy(run: Path, to: Path) -> Path:
    import shutil

    shutil.copytree(run, to)
    # config.yaml holds absolute paths of the micro data, not of the run: a copy still works
    return to


def test_resume_that_changes_the_architecture_is_refused_before_writing(
        finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy(finished_run, tmp_path / "run")
    before = _snapshot(run)
    code, err = _train(capsys, "--out", str(run), "--resume", "--steps", "3",
                       "--set", "model.generator.encoder_width=16", *FAST)
    assert code == 1
    line = _one_line_error(err)
    assert "model.generator.encoder_width = 16" in line and "8 in the checkpoint" in line
    assert "changes the architecture" in line and "start a new --out" in line
    assert len(line) < 400  # not torch's list of every mismatched tensor
    assert _snapshot(run) == before  # config.yaml is not rewritten: a plain --resume still works
    code, err = _train(capsys, "--out", str(run), "--resume", "--steps", "3", *FAST)
    assert code == 0, err
    assert "resuming" in err and "from step 2" in err
    assert torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["step"] == 3


def test_init_from_of_another_architecture_is_summarised(
        finished_run: Path, micro_config: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    weights = finished_run / "generator.safetensors"
    out = tmp_path / "tuned"
    code, err = _train(capsys, "--config", str(micro_config), "--out", str(out),
                       "--set", f"model.init_from={weights}",
                       "--set", "model.generator.encoder_width=16", *FAST)
    assert code == 1
    line = _one_line_error(err)
    assert f"{weights}: init_from: its weights do not fit model.generator (0 missing, " \
           f"0 unexpected, " in line
    assert "of another shape, e.g. encoder.conv1.weight)" in line
    assert len(line) < 400
    assert not (out / "config.yaml").exists()  # refused before the run folder is written


@pytest.mark.parametrize(("args", "status", "message"), [
    (["--steps", "-3"], 2, "usage error: --steps must be >= 1, got -3"),
    (["--steps", "0"], 2, "usage error: --steps must be >= 1, got 0"),
    (["--set", "steps=-5"], 1, "error: {config} with --set steps=-5: "
     "steps must be >= 1, got -5"),
    (["--set", "checkpoint_every=0"], 1, "error: {config} with --set checkpoint_every=0: "
     "checkpoint_every must be >= 1, got 0"),
    (["--set", "log_every=0"], 1, "error: {config} with --set log_every=0: "
     "log_every must be >= 1, got 0"),
    (["--set", "data.workers=-1"], 1, "error: {config} with --set data.workers=-1: "
     "data.workers must be >= 0, got -1"),
])
def test_counts_out_of_range_are_refused_before_training(
        micro_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        args: list[str], status: int, message: str) -> None:
    out = tmp_path / "n1"
    code, err = _train(capsys, "--config", str(micro_config), "--out", str(out), "--quiet",
                       *args)
    assert code == status
    assert _one_line_error(err, message.split(":")[0]) == \
        f"alphagan: {message.format(config=micro_config)}"
    assert "done" not in err and not out.exists()


def test_check_trainable_checks_ranges_of_a_config_built_in_python() -> None:
    with pytest.raises(ConfigError, match="log_every must be >= 1, got 0"):
        check_trainable(from_dict(TrainConfig, {"log_every": 0, "batch_size": 2}))


def test_resume_of_a_finished_run_without_latest_is_refused(
        finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy(finished_run, tmp_path / "run")
    (run / "checkpoints" / "latest.pt").unlink()
    before = _snapshot(run)
    code, err = _train(capsys, "--out", str(run), "--resume", *FAST)
    assert code == 1
    line = _one_line_error(err)
    assert "nothing to resume from (no checkpoints/latest.pt)" in line
    assert "generator.safetensors, checkpoints/best.pt" in line and "new --out" in line
    assert _snapshot(run) == before  # the generator, best.pt and metrics are kept


def test_resume_with_another_config_is_a_usage_error(
        finished_run: Path, micro_config: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy(finished_run, tmp_path / "run")
    before = _snapshot(run)
    code, err = _train(capsys, "--out", str(run), "--resume", "--config", str(micro_config),
                       *FAST)
    assert code == 2
    assert _one_line_error(err, "usage error") == (
        f"alphagan: usage error: --resume uses {run / 'config.yaml'}; drop --config or start "
        f"a new --out")
    assert _snapshot(run) == before


def test_resume_of_a_run_already_at_its_steps_says_so(
        finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy(finished_run, tmp_path / "run")
    before = _snapshot(run)
    code, err = _train(capsys, "--out", str(run), "--resume", "--steps", "1", *FAST)
    assert code == 0
    assert f"{run}: already at step 2 (>= steps 1); nothing to train" in err
    assert "done:" not in err
    assert _snapshot(run) == before  # config.yaml keeps the run's own steps


def test_resume_help_says_what_may_change(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--steps and --set may change fields that leave the architecture" in text


def test_missing_cuda_is_a_plain_config_error(
        micro_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="device: the config asks for cuda, but CUDA is not "
                                          "available on this machine"):
        pick_device("cuda", 0)
    with pytest.raises(ConfigError, match="device: 'gpu0' is not a device"):
        pick_device("gpu0", 0)
    code, err = _train(capsys, "--config", str(micro_config), "--out", str(tmp_path / "run"),
                       "--set", "device=cuda:0", *FAST)
    assert code == 1
    assert "CUDA is not available" in _one_line_error(err)
    assert not (tmp_path / "run").exists()


def test_missing_synth_folder_says_to_run_alphagan_synth(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    synth = tmp_path / "runs" / "prior" / "synth"
    src = SourceConfig(layout="folder", alpha_dir=str(synth / "alpha"),
                       fg_dir=str(synth / "fg"))
    with pytest.raises(InputError) as info:
        train_items(src)
    message = str(info.value)
    assert message.startswith(str(Path("runs/prior/synth/alpha")) + ": no such folder")
    assert f"alphagan synth --out {Path('runs/prior/synth')} --count N" in message
    # any other missing folder keeps the plain message
    other = SourceConfig(layout="folder", alpha_dir=str(tmp_path / "mattes"),
                         fg_dir=str(tmp_path / "fg"))
    with pytest.raises(InputError, match="no such folder") as info:
        train_items(other)
    assert "alphagan synth" not in str(info.value)


def test_resume_of_a_folder_without_a_run_says_so(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nonexistent"
    code, err = _train(capsys, "--out", str(missing), "--resume")
    assert code == 2 and not missing.exists()
    assert err.strip() == (f"alphagan: usage error: --resume: {missing} holds no run to resume "
                           f"(no {missing / 'config.yaml'}); give --config FILE to start one")
