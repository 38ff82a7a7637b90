"""The training loop end to end on a micro dataset: run folder, exact resume, SIGKILL, NaN,
and a 2-process torchrun."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from alphagan.cli import main
from alphagan.training.config import load_config
from alphagan.training.loop import TrainingError, train


def read_rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_run_folder_contents(tmp_path: Path, micro_config: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", "--config", str(micro_config), "--out", str(run), "--quiet"]) == 0
    assert {p.name for p in run.iterdir()} >= {"config.yaml", "metrics.jsonl", "checkpoints",
                                               "tensorboard", "generator.safetensors"}
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"latest.pt", "best.pt"}
    rows = read_rows(run)
    train_rows = [r for r in rows if r.get("split") != "val"]
    assert [r["step"] for r in train_rows] == [1, 2, 3, 4, 5, 6]
    assert all(r["world_size"] == 1 for r in rows)
    assert {"d", "g", "g_gan", "g_alpha", "g_comp", "lr_g"} <= set(train_rows[0])
    val_rows = [r for r in rows if r.get("split") == "val"]
    assert [r["step"] for r in val_rows] == [3, 6]
    assert {"sad", "mse", "grad", "conn"} <= set(val_rows[0])
    state = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert state["step"] == 6 and {"opt_g", "opt_d", "sched_g", "sched_d", "rng"} <= set(state)
    # the exported generator works with predict
    out = tmp_path / "pred"
    assert main(["predict", "--checkpoint", str(run / "generator.safetensors"), "--image",
                 str(micro_config.parent / "val_image" / "s0.png"), "--trimap",
                 str(micro_config.parent / "val_trimap" / "s0.png"), "--out", str(out),
                 "--outputs", "alpha"]) == 0
    assert (out / "alpha" / "s0.png").is_file()
    # a second plain run into the same folder is refused, not silently mixed
    assert main(["train", "--config", str(micro_config), "--out", str(run), "--quiet"]) == 1


@pytest.mark.parametrize("augment", ["dim", "strong"])
def test_resume_continues_exactly(tmp_path: Path, micro_config: Path, augment: str) -> None:
    # A constant LR (after warm-up): the interruption below is a shorter run, and a cosine
    # schedule's shape depends on the total number of steps.
    options = ["optim.schedule=constant", f"data.augment={augment}"]
    config = load_config(micro_config, options)
    train(config, tmp_path / "straight", progress=False)
    interrupted = tmp_path / "interrupted"
    train(load_config(micro_config, [*options, "steps=4"]), interrupted, progress=False)
    train(config, interrupted, resume=True, progress=False)
    a = torch.load(tmp_path / "straight" / "checkpoints" / "latest.pt", weights_only=True)
    b = torch.load(interrupted / "checkpoints" / "latest.pt", weights_only=True)
    for key in a["generator"]:
        torch.testing.assert_close(a["generator"][key], b["generator"][key], rtol=0, atol=1e-6)
    steps = [r["step"] for r in read_rows(interrupted) if r.get("split") != "val"]
    assert steps == [1, 2, 3, 4, 5, 6]  # nothing lost, nothing repeated


def test_sigkill_then_resume(tmp_path: Path, micro_config: Path) -> None:
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "alphagan", "train", "--config", str(micro_config), "--out",
           str(run), "--quiet", "--set", "steps=400", "--set", "checkpoint_every=5",
           "--set", "val_every=1000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = run / "checkpoints" / "latest.pt"
    deadline = time.time() + 120
    while not latest.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert latest.exists()
    resume = [*cmd[:4], "--out", str(run), "--quiet", "--resume"]  # the run's own config
    done = subprocess.run([*resume, "--set", "steps=12"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    # a run killed past step 12 is already done: it says so and trains nothing
    resumed_from = int(re.search(r"(?:from|already at) step (\d+)", done.stderr)[1])
    assert resumed_from > 0
    state = torch.load(latest, weights_only=True)
    assert state["step"] == max(12, resumed_from)
    steps = [r["step"] for r in read_rows(run) if r.get("split") != "val"]
    assert steps == sorted(set(steps))  # no duplicate rows after the resume


def test_nan_loss_stops_with_a_clear_message(tmp_path: Path, micro_config: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import alphagan.training.loop as loop

    real_step, calls = loop.gan_step, {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise loop.NonFiniteLoss("generator loss is nan")
        return real_step(*args, **kwargs)

    monkeypatch.setattr(loop, "gan_step", flaky)
    with pytest.raises(TrainingError, match=r"step 4: generator loss is nan.*latest\.pt"):
        train(load_config(micro_config), tmp_path / "run", progress=False)
    state = torch.load(tmp_path / "run" / "checkpoints" / "latest.pt", weights_only=True)
    assert state["step"] == 3  # the last good checkpoint (validation at 3 also saves) is kept


def test_torchrun_two_processes(tmp_path: Path, micro_config: Path) -> None:
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "alphagan", "train", "--config", str(micro_config), "--out", str(run),
         "--quiet", "--set", "steps=4"],
        capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = read_rows(run)
    assert rows and all(r["world_size"] == 2 for r in rows)
    assert [r["step"] for r in rows if r.get("split") != "val"] == [1, 2, 3, 4]


def _generator_weights(path: Path) -> dict[str, torch.Tensor]:
    from alphagan.checkpoint import load_model
    return load_model(path).state_dict()


def test_ema_decay_one_keeps_the_first_step_and_resumes(tmp_path: Path,
                                                        micro_config: Path) -> None:
    # decay 1: the average is a copy of the weights after the first update, never moved
    # again; so generator.safetensors must equal a 1-step run's generator.
    one = tmp_path / "one"
    train(load_config(micro_config, ["steps=1"]), one, progress=False)
    run = tmp_path / "ema"
    train(load_config(micro_config, ["steps=4", "ema_decay=1.0"]), run, progress=False)
    train(load_config(micro_config, ["ema_decay=1.0"]), run, resume=True, progress=False)
    first, ema = _generator_weights(one / "generator.safetensors"), \
        _generator_weights(run / "generator.safetensors")
    for key in first:
        torch.testing.assert_close(ema[key], first[key], rtol=0, atol=0)
    raw = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["generator"]
    assert any(not torch.equal(raw[k], first[k]) for k in first)  # training did move on


def test_ema_decay_zero_follows_the_weights(tmp_path: Path, micro_config: Path) -> None:
    run = tmp_path / "ema0"
    train(load_config(micro_config, ["ema_decay=0.0"]), run, progress=False)
    raw = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["generator"]
    ema = _generator_weights(run / "generator.safetensors")
    for key in raw:
        torch.testing.assert_close(ema[key], raw[key], rtol=0, atol=0)


def test_init_from_checkpoint_and_generator_file(tmp_path: Path, micro_config: Path) -> None:
    from alphagan.errors import InputError
    from alphagan.training.build import build_models, init_models

    base = tmp_path / "base"
    train(load_config(micro_config), base, progress=False)
    state = torch.load(base / "checkpoints" / "latest.pt", weights_only=True)
    config = load_config(micro_config)
    g, d = build_models(config.model, verbose=False)
    d_random = {k: v.clone() for k, v in d.state_dict().items()}
    init_models(g, d, str(base / "generator.safetensors"))  # G only
    for key, value in state["generator"].items():
        torch.testing.assert_close(g.state_dict()[key], value, rtol=0, atol=0)
    assert all(torch.equal(d.state_dict()[k], v) for k, v in d_random.items())
    init_models(g, d, str(base / "checkpoints" / "latest.pt"))  # G and D
    for key, value in state["discriminator"].items():
        torch.testing.assert_close(d.state_dict()[key], value, rtol=0, atol=0)
    other, _ = build_models(load_config(micro_config, [
        "model.generator.encoder_width=16"]).model, verbose=False)
    # counts and one example, not torch's list of every key
    with pytest.raises(InputError, match=r"base.*init_from: its weights do not fit model\."
                       r"generator \(0 missing, 0 unexpected, \d+ of another shape, e\.g\. "):
        init_models(other, d, str(base / "checkpoints" / "latest.pt"))
    with pytest.raises(InputError, match="no such file"):
        init_models(g, d, str(tmp_path / "missing.pt"))

    # through train(): with zero learning rates (and GroupNorm: no running statistics) a
    # fine-tuning run must end exactly where it started
    tuned = tmp_path / "tuned"
    train(load_config(micro_config, [f"model.init_from={base / 'checkpoints' / 'latest.pt'}",
                                     "optim.lr_g=0", "optim.lr_d=0", "steps=2"]),
          tuned, progress=False)
    after = torch.load(tuned / "checkpoints" / "latest.pt", weights_only=True)
    for key, value in state["generator"].items():
        torch.testing.assert_close(after["generator"][key], value, rtol=0, atol=0)


@pytest.mark.slow
def test_restart_after_a_kill_before_the_first_checkpoint(tmp_path: Path,
                                                          micro_config: Path) -> None:
    """A run killed after logging but before its first checkpoint: the log rows, a torn last
    line and a half-written temporary checkpoint are left. Restarting must log every step
    once, clean the temporary file, and a torn line must not stop ``--resume``."""
    run = tmp_path / "run"
    args = ["train", "--config", str(micro_config), "--out", str(run), "--quiet",
            "--set", "checkpoint_every=100", "--set", "val_every=100", "--steps", "2"]
    assert main(args) == 0
    resume = ["train", "--out", str(run), "--quiet", "--resume"]  # the run's own config.yaml
    for path in (run / "checkpoints").iterdir():  # as if killed before it was written
        path.unlink()
    (run / "generator.safetensors").unlink()  # written after latest.pt: not there either
    stale = run / "checkpoints" / ".latest.0badc0de.tmp.pt"
    stale.write_bytes(b"half a checkpoint")
    with (run / "metrics.jsonl").open("a") as log:
        log.write('{"step": 3, "g": 0.')  # torn by the kill
    assert main([*resume, "--steps", "3"]) == 0
    steps = [r["step"] for r in read_rows(run) if r.get("split") != "val"]
    assert steps == [1, 2, 3]
    assert not stale.exists()
    with (run / "metrics.jsonl").open("a") as log:
        log.write('{"step": 4, "g"')  # torn again, now after a checkpoint at step 3
    assert main([*resume, "--steps", "4"]) == 0
    steps = [r["step"] for r in read_rows(run) if r.get("split") != "val"]
    assert steps == [1, 2, 3, 4]
