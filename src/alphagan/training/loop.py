"""The AlphaGAN training loop, top to bottom: ``train(config, run_dir, resume=...)``.

Run folder::

    RUN/config.yaml             the resolved config (absolute paths)
    RUN/metrics.jsonl           one JSON row per logged step and per validation
    RUN/tensorboard/            losses, learning rates, sample alphas and composites
    RUN/checkpoints/latest.pt   G, D, optimisers, schedulers, step, RNG states, config
    RUN/checkpoints/best.pt     the same, at the best validation SAD so far
    RUN/generator.safetensors   the latest generator (its weight average when ``ema_decay``
                                is set), for ``alphagan predict --checkpoint``
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from tqdm import tqdm

from alphagan.atomic import remove_stale_temps, write_text_atomic
from alphagan.checkpoint import save_model
from alphagan.config import dump_yaml, to_dict
from alphagan.errors import InputError
from alphagan.files import read_text
from alphagan.inference import predict_alpha
from alphagan.losses import GANLoss, clamp_known
from alphagan.metrics import compute_all
from alphagan.training.build import build_models, build_optimizers, build_schedulers
from alphagan.training.build import CONFIG_SECTION, init_models, state_mismatch
from alphagan.training.config import TrainConfig, check_trainable
from alphagan.training.data import build_train_set, build_val_items, load_val_sample
from alphagan.training.distributed import DistInfo, all_reduce_mean, init_distributed
from alphagan.training.distributed import shutdown_distributed
from alphagan.training.logger import RunLogger
from alphagan.training.sampler import StepSampler
from alphagan.training.state import load_training_state, restore_rng_state, rng_state
from alphagan.training.state import save_training_state
from alphagan.training.step import LossWeights, NonFiniteLoss, gan_step, unwrap

__all__ = ["TrainingError", "train", "validate"]


class TrainingError(InputError):
    """Training stopped (NaN loss, nothing to resume, ...); the message says why and what was kept."""


def _autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast when asked, or on CUDA devices that support it under ``auto``."""
    use_bf16 = precision == "bf16" or (
        precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()
    )
    if not use_bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def validate(generator: nn.Module, items: list[Any], max_side: int | None) -> dict[str, float]:
    """Mean SAD/MSE/Grad/Conn of ``generator`` over full validation images (rank 0 only)."""
    rows = []
    for item in items:
        image, alpha_gt, trimap = load_val_sample(item, max_side)
        rows.append(compute_all(predict_alpha(generator, image, trimap, region="full", tta="none",
                                              tile=None), alpha_gt, trimap))
    return {k: float(np.mean([r[k] for r in rows])) for k in ("sad", "mse", "grad", "conn")}


def _truncate_log(path: Path, last_step: int) -> None:
    """Drop rows logged after the checkpoint we resume from (they will be redone).

    With ``last_step`` 0 (no checkpoint yet) every row goes. A line that is not a JSON object
    (the torn last line of a killed run) is dropped too.
    """
    if not path.exists():
        return
    kept = []
    for line in read_text(path, what="metrics log").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("step", 0), (int, float)) \
                and row.get("step", 0) <= last_step:
            kept.append(line)
    write_text_atomic(path, "".join(line + "\n" for line in kept))


# Files the run writes atomically; a kill -9 mid-write leaves a temporary file beside them.
_RUN_FILES = ("config.yaml", "metrics.jsonl", "generator.safetensors", "checkpoints/latest.pt",
              "checkpoints/best.pt")


def _check_run_dir(run_dir: Path, resume: bool) -> None:
    """Refuse to start a run over another one, or to "resume" a finished run that has no
    ``latest.pt`` (it would retrain from step 0 and overwrite its generator and best.pt)."""
    latest = run_dir / "checkpoints" / "latest.pt"
    if not resume and latest.exists():
        raise TrainingError(f"{run_dir}: already holds a run; pass --resume to continue it, "
                            f"or choose another --out")
    finished = [name for name in ("generator.safetensors", "checkpoints/best.pt")
                if (run_dir / name).exists()]
    if resume and not latest.exists() and finished:
        raise TrainingError(f"{run_dir}: nothing to resume from (no checkpoints/latest.pt), but "
                            f"the folder holds a finished run's files ({', '.join(finished)}); "
                            f"use a new --out")


def _flat(tree: Any, prefix: str) -> dict[str, Any]:
    """Dotted keys of a nested dict: {"model.generator.encoder_width": 16, ...}."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    return {k: v for key, value in tree.items() for k, v in _flat(value, f"{prefix}.{key}").items()}


def _check_resumable(state: dict[str, Any], config: TrainConfig, generator: nn.Module,
                     discriminator: nn.Module, run_dir: Path) -> None:
    """Refuse, before anything is written, a resume whose config (after --set) does not fit
    the checkpoint: a changed architecture would fail in load_state_dict with a message of
    thousands of characters after RUN/config.yaml had been rewritten, so that every later
    plain --resume failed the same way."""
    for name, module in (("generator", generator), ("discriminator", discriminator)):
        problem = state_mismatch(module, state.get(name) or {})
        if problem is None:
            continue
        before = _flat(state.get("config", {}).get("model", {}), "model")
        now = _flat(to_dict(config.model), "model")
        changed = [f"{key} = {now[key]} (--set or {run_dir / 'config.yaml'}; "
                   f"{before[key]} in the checkpoint)"
                   for key in now if key in before and now[key] != before[key]]
        if changed:
            raise TrainingError(f"{run_dir}: {'; '.join(changed[:3])} changes the architecture "
                                f"of the checkpoint being resumed; start a new --out")
        raise TrainingError(f"{run_dir / 'checkpoints' / 'latest.pt'}: its weights do not fit "
                            f"{CONFIG_SECTION[name]} ({problem})")
    if config.ema_decay is not None and "generator_ema" not in state:
        raise TrainingError(f"{run_dir / 'checkpoints' / 'latest.pt'}: has no weight average, "
                            f"but ema_decay is set; resume with the run's own config")


def _prepare_run_dir(run_dir: Path, config: TrainConfig, info: DistInfo) -> None:
    """Create the folder and write config.yaml: only after every check has passed."""
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        for name in _RUN_FILES:  # only this process writes them now
            remove_stale_temps(run_dir / name)
        write_text_atomic(run_dir / "config.yaml", dump_yaml(config))


def train(config: TrainConfig, run_dir: str | Path, *, resume: bool = False,
          progress: bool = True) -> dict[str, float]:
    """Train AlphaGAN as configured; returns the last logged losses ({} when a resumed run is
    already at ``config.steps``: nothing is trained or written).

    Works as one process (CPU or one GPU) or under ``torchrun`` (one process per device;
    rank 0 alone logs, validates and checkpoints). ``resume`` continues from
    ``RUN/checkpoints/latest.pt`` exactly (same batches, same RNG) when it exists.
    """
    run_dir = Path(run_dir)
    check_trainable(config, int(os.environ.get("WORLD_SIZE", "1")))
    info, device = init_distributed(config.device)
    try:
        return _train(config, run_dir, resume, progress, info, device)
    finally:
        shutdown_distributed()


def _train(config: TrainConfig, run_dir: Path, resume: bool, progress: bool, info: DistInfo,
           device: torch.device) -> dict[str, float]:
    _check_run_dir(run_dir, resume)

    # --- models; the checkpoint or init_from weights are checked against them before
    # anything is written to the run folder ---
    torch.manual_seed(config.seed)  # identical initialisation on every rank
    generator, discriminator = build_models(config.model, verbose=info.is_main)
    latest = run_dir / "checkpoints" / "latest.pt"
    state: dict[str, Any] | None = None
    if resume and latest.exists():
        state = load_training_state(latest, map_location=device)
        _check_resumable(state, config, generator, discriminator, run_dir)
        if state["step"] >= config.steps:
            if info.is_main:
                print(f"{run_dir}: already at step {state['step']} (>= steps {config.steps}); "
                      f"nothing to train (raise --steps to extend the run)", file=sys.stderr)
            return {}
    elif config.model.init_from:
        report = init_models(generator, discriminator, config.model.init_from)
        if info.is_main:
            print(report, file=sys.stderr)
    _prepare_run_dir(run_dir, config, info)
    if info.enabled:
        torch.distributed.barrier()  # rank 0 made the run folder

    # --- optimisers, schedules ---
    if info.enabled and config.model.sync_batchnorm:
        generator = nn.SyncBatchNorm.convert_sync_batchnorm(generator)
        discriminator = nn.SyncBatchNorm.convert_sync_batchnorm(discriminator)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    generator.to(device, memory_format=memory_format).train()
    discriminator.to(device, memory_format=memory_format).train()
    opt_g, opt_d = build_optimizers(generator, discriminator, config.optim)
    sched_g, sched_d = build_schedulers(opt_g, opt_d, config.optim, config.steps)
    # The weight average lives outside DDP: every rank updates its own identical copy.
    ema = (AveragedModel(generator, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay),
                         use_buffers=True) if config.ema_decay is not None else None)

    # --- resume: every piece of state, so no step is lost or repeated ---
    step, best_sad = 0, float("inf")
    if state is not None:
        generator.load_state_dict(state["generator"])
        if ema is not None:
            ema.load_state_dict(state["generator_ema"])
        discriminator.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        sched_g.load_state_dict(state["sched_g"])
        sched_d.load_state_dict(state["sched_d"])
        step, best_sad = state["step"], state.get("best_sad", float("inf"))
        restore_rng_state(state["rng"][min(info.rank, len(state["rng"]) - 1)])
        state = None  # the weights were copied into the modules: free the loaded ones
        if info.is_main:
            _truncate_log(run_dir / "metrics.jsonl", step)
            print(f"resuming {run_dir} from step {step}", file=sys.stderr)
    elif info.is_main:
        if resume:
            print(f"{run_dir}: no checkpoint yet, starting from step 0", file=sys.stderr)
        # Rows a run killed before its first checkpoint logged would otherwise appear twice.
        _truncate_log(run_dir / "metrics.jsonl", 0)

    if info.enabled:
        ddp_args = {"device_ids": [device.index]} if device.type == "cuda" else {}
        generator = DistributedDataParallel(generator, **ddp_args)
        discriminator = DistributedDataParallel(discriminator, **ddp_args)

    # --- data: batches depend only on (seed, step), see StepSampler ---
    train_set = build_train_set(config.data, seed=config.seed, verbose=info.is_main,
                                prior=config.model.generator.prior,
                                prior_scale=config.model.generator.prior_scale)
    sampler = StepSampler(batch_size=config.batch_size, world_size=info.world_size,
                          rank=info.rank, start_step=step, total_steps=config.steps)
    loader = DataLoader(train_set, batch_size=config.batch_size, sampler=sampler,
                        num_workers=config.data.workers, pin_memory=device.type == "cuda",
                        drop_last=True)
    val_items = build_val_items(config.data) if info.is_main else []

    logger = RunLogger(run_dir, enabled=info.is_main, purge_step=step if resume else None)
    gan_loss = GANLoss(config.loss.gan_mode)
    weights = LossWeights(config.loss.w_gan, config.loss.w_alpha, config.loss.w_comp,
                          config.loss.w_lap)
    autocast = _autocast(config.precision, device)

    def checkpoint(name: str) -> None:
        state = {
            "generator": unwrap(generator).state_dict(),
            "discriminator": unwrap(discriminator).state_dict(),
            "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
            "sched_g": sched_g.state_dict(), "sched_d": sched_d.state_dict(),
            "step": step, "best_sad": best_sad, "rng": rng_states,
            "config": to_dict(config),
        }
        if ema is not None:
            state["generator_ema"] = ema.state_dict()
        save_training_state(run_dir / "checkpoints" / f"{name}.pt", state)

    bar = tqdm(total=config.steps, initial=step, disable=not (progress and info.is_main),
               unit="step", dynamic_ncols=True)
    last: dict[str, float] = {}
    window_start, window_samples = time.perf_counter(), 0
    for batch in loader:
        batch = {k: v.to(device, non_blocking=True, memory_format=memory_format)
                 for k, v in batch.items()}
        try:
            out = gan_step(generator, discriminator, opt_g, opt_d, batch, gan_loss=gan_loss,
                           weights=weights, grad_clip=config.optim.grad_clip, autocast=autocast)
        except NonFiniteLoss as exc:
            kept = latest if latest.exists() else "none (no checkpoint was written yet)"
            raise TrainingError(f"step {step + 1}: {exc}; stopping. Last good checkpoint: "
                                f"{kept}") from None
        sched_g.step()
        sched_d.step()
        if ema is not None:
            ema.update_parameters(unwrap(generator))
        step += 1
        window_samples += config.batch_size * info.world_size
        bar.update(1)

        if step % config.log_every == 0 or step == config.steps:
            losses = all_reduce_mean(out.losses, info, device)
            rate = window_samples / max(time.perf_counter() - window_start, 1e-9)
            window_start, window_samples = time.perf_counter(), 0
            last = {"step": step, "world_size": info.world_size, **losses,
                    "lr_g": sched_g.get_last_lr()[0], "lr_d": sched_d.get_last_lr()[0],
                    "samples_per_s": rate}
            logger.log(last)
            bar.set_postfix(g=f"{losses['g']:.3f}", d=f"{losses['d']:.3f}",
                            alpha=f"{losses['g_alpha']:.3f}", sps=f"{rate:.1f}")
        if info.is_main and (step % config.image_every == 0 or step == 1):
            pred = clamp_known(out.alpha, batch["trimap"])
            logger.images(step, {"image": batch["image"], "trimap": batch["trimap"],
                                 "alpha_gt": batch["alpha"], "alpha_pred": pred,
                                 "fake_composite": out.fake})

        is_val = bool(val_items) and (step % config.val_every == 0 or step == config.steps)
        is_val = _broadcast_flag(is_val, info, device)  # only rank 0 has validation items
        is_ckpt = step % config.checkpoint_every == 0 or step == config.steps or is_val
        if is_ckpt:
            rng_states = _gather_rng(info)  # collective: every rank takes part
        shipped = ema.module if ema is not None else unwrap(generator)  # what gets evaluated
        if is_val and info.is_main:
            scores = validate(shipped, val_items, config.val_max_side)
            logger.log({"step": step, "world_size": info.world_size, "split": "val", **scores},
                       prefix="val")
            if scores["sad"] < best_sad:
                best_sad = scores["sad"]
                checkpoint("best")
        if is_ckpt:
            if info.is_main:
                checkpoint("latest")
                save_model(shipped, run_dir / "generator.safetensors",
                           extra_metadata={"step": str(step), "train_config": json.dumps(
                               to_dict(config))})
            if info.enabled:
                torch.distributed.barrier()
    bar.close()
    logger.close()
    return last


def _broadcast_flag(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """Rank 0's decision, on every rank."""
    if not info.enabled:
        return flag
    t = torch.tensor([int(flag)], device=device)
    torch.distributed.broadcast(t, src=0)
    return bool(t.item())


def _gather_rng(info: DistInfo) -> list[dict[str, Any]]:
    """Every rank's RNG state (rank order), so each resumes its own stream."""
    mine = rng_state()
    if not info.enabled:
        return [mine]
    states: list[Any] = [None] * info.world_size
    torch.distributed.all_gather_object(states, mine)
    return states

