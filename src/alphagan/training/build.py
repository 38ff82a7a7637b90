"""Build models, optimisers and LR schedules from a :class:`TrainConfig`."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from torch import nn

from alphagan.errors import InputError
from alphagan.models import (
    AlphaGANGenerator,
    GeneratorEnsemble,
    PatchDiscriminator,
    load_backbone_weights,
)
from alphagan.training.config import ModelConfig, OptimConfig

__all__ = ["build_models", "build_optimizers", "build_schedulers", "init_models", "lr_factor",
           "state_mismatch"]

# Where each network's architecture is configured, for messages.
CONFIG_SECTION = {
    "generator": "model.generator",
    "discriminator": "the discriminator (model.disc_channels/disc_layers/disc_norm)",
}


def build_models(config: ModelConfig, *, verbose: bool = True) -> tuple[AlphaGANGenerator,
                                                                         PatchDiscriminator]:
    """The generator (with ImageNet backbone weights if configured) and the discriminator."""
    generator = AlphaGANGenerator(config.generator)
    if config.backbone_weights:
        report = load_backbone_weights(generator, config.backbone_weights)
        if verbose:
            print(f"backbone: loaded {len(report.loaded)} tensors from "
                  f"{config.backbone_weights}; unused: {', '.join(report.unused) or 'none'}",
                  file=sys.stderr)
    discriminator = PatchDiscriminator(
        in_channels=4, base_channels=config.disc_channels, n_layers=config.disc_layers,
        norm=config.disc_norm,
    )
    return generator, discriminator


def state_mismatch(module: nn.Module, state: dict[str, torch.Tensor]) -> str | None:
    """None when ``state`` loads into ``module`` strictly; else a short summary such as
    "2 missing, 0 unexpected, 5 of another shape, e.g. encoder.conv1.weight".

    torch's own message lists every key (thousands of characters for a ResNet); users need
    the counts and one example."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    reshaped = [k for k in expected if k in state
                and tuple(getattr(state[k], "shape", ())) != tuple(expected[k].shape)]
    if not (missing or unexpected or reshaped):
        return None
    example = (reshaped or missing or unexpected)[0]
    return (f"{len(missing)} missing, {len(unexpected)} unexpected, {len(reshaped)} of another "
            f"shape, e.g. {example}")


def init_models(generator: nn.Module, discriminator: nn.Module, path: str) -> str:
    """Load fine-tuning weights into G (and D); returns a one-line report.

    ``path`` is a training checkpoint (``.pt``: G and D) or a generator ``.safetensors``
    (G only; D keeps its random init). Architectures must match the config exactly.
    """
    from alphagan.checkpoint import load_model
    from alphagan.training.state import load_training_state

    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: init_from: no such file")
    if file.suffix == ".safetensors":
        model = load_model(file)
        if isinstance(model, GeneratorEnsemble):
            raise InputError(f"{file}: init_from: an ensemble of {len(model.members)} "
                             f"generators; give one member's file")
        states = {"generator": model.state_dict()}
    else:
        state = load_training_state(file)
        states = {k: state[k] for k in ("generator", "discriminator") if k in state}
        if "generator" not in states:
            raise InputError(f"{file}: init_from: not a training checkpoint (no 'generator')")
    for name, module in (("generator", generator), ("discriminator", discriminator)):
        if name not in states:
            continue
        problem = state_mismatch(module, states[name])
        if problem is not None:
            raise InputError(f"{file}: init_from: its weights do not fit {CONFIG_SECTION[name]} "
                             f"({problem})")
        module.load_state_dict(states[name])
    return f"init_from: {file} ({' and '.join(states)})"


def build_optimizers(generator: nn.Module, discriminator: nn.Module,
                     config: OptimConfig) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr_g, betas=config.betas,
                             weight_decay=config.weight_decay)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr_d, betas=config.betas,
                             weight_decay=config.weight_decay)
    return opt_g, opt_d


def lr_factor(step: int, total_steps: int, config: OptimConfig) -> float:
    """Multiplier of the initial LR after ``step`` iterations (warm-up, then the schedule).

    Stepped per iteration, never per epoch (an earlier reimplementation's 500-epoch warm-up
    trained at a tiny LR throughout).
    """
    if config.warmup_steps and step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return 1.0
    span = max(1, total_steps - config.warmup_steps)
    progress = min(1.0, max(0.0, (step - config.warmup_steps) / span))
    floor = config.min_lr_ratio
    if config.schedule == "cosine":
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    return floor + (1 - floor) * (1 - progress) ** 0.9  # poly, DeepLab's power 0.9


def build_schedulers(opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                     config: OptimConfig, total_steps: int
                     ) -> tuple[torch.optim.lr_scheduler.LambdaLR, torch.optim.lr_scheduler.LambdaLR]:
    def fn(step: int) -> float:
        return lr_factor(step, total_steps, config)

    return (torch.optim.lr_scheduler.LambdaLR(opt_g, fn),
            torch.optim.lr_scheduler.LambdaLR(opt_d, fn))
