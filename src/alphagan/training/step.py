"""One AlphaGAN training iteration: update D on real vs fake composites, then G.

The batch is a dict of tensors (B,C,S,S): ``image``, ``fg``, ``bg`` (RGB in [0,1]),
``alpha`` and ``trimap`` ({0, 0.5, 1}), and ``prior`` (B,K,S,S) for a generator built with
a classical prior (:mod:`alphagan.prior`). The real composite is rebuilt here from the same
``fg``, ``bg`` and ``alpha`` that the fake one uses.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from alphagan.losses import GANLoss, alpha_prediction_loss, composition_loss, laplacian_loss
from alphagan.losses import make_composites

__all__ = [
    "LossWeights",
    "NonFiniteLoss",
    "StepOutput",
    "gan_step",
    "set_requires_grad",
    "unwrap",
]


@dataclass(frozen=True)
class LossWeights:
    gan: float = 1.0
    alpha: float = 1.0
    comp: float = 1.0
    lap: float = 0.0


@dataclass
class StepOutput:
    losses: dict[str, float]  # d_real, d_fake, d, g_gan, g_alpha, g_comp, g (+ g_lap)
    alpha: torch.Tensor  # (B,1,S,S) prediction (known regions not clamped), detached
    fake: torch.Tensor  # (B,3,S,S) fake composite, detached


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper (or the module itself)."""
    return getattr(module, "module", module)


def _clip(module: nn.Module, max_norm: float | None) -> None:
    if max_norm is not None:
        torch.nn.utils.clip_grad_norm_(module.parameters(), max_norm)


class NonFiniteLoss(FloatingPointError):
    """A loss became NaN or infinite; raised before any optimiser step uses it."""


def _check_finite(name: str, loss: torch.Tensor) -> None:
    if not torch.isfinite(loss.detach()).all():
        raise NonFiniteLoss(f"{name} is {float(loss.detach())}")


def gan_step(
    generator: nn.Module,
    discriminator: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    batch: dict[str, torch.Tensor],
    *,
    gan_loss: GANLoss,
    weights: LossWeights = LossWeights(),
    grad_clip: float | None = None,
    autocast: contextlib.AbstractContextManager | None = None,
    step_optimizers: bool = True,
) -> StepOutput:
    """Update D, then G, on one batch; returns the losses as floats.

    D's real and fake inputs go through it in one forward pass (concatenated on the batch
    axis): DistributedDataParallel synchronises gradients once per forward/backward pair.
    G's adversarial term goes through the unwrapped D with D frozen, so no D gradient is
    made or synchronised there. ``step_optimizers=False`` leaves the gradients in place
    without stepping (used by the gradient-equivalence test).
    """
    amp = autocast or contextlib.nullcontext()
    trimap, alpha_gt, fg, bg = batch["trimap"], batch["alpha"], batch["fg"], batch["bg"]
    with amp:
        alpha_pred = generator(batch["image"], trimap, batch.get("prior"))  # (B,1,S,S)
    alpha_pred = alpha_pred.float()
    real, fake = make_composites(fg, bg, alpha_gt, alpha_pred, trimap)  # (B,3,S,S) each

    # --- D: maximise log D(real) + log(1 - D(fake)) ---
    set_requires_grad(discriminator, True)
    opt_d.zero_grad(set_to_none=True)
    n = real.shape[0]
    with amp:
        logits = discriminator(torch.cat([torch.cat([real, trimap], 1),
                                          torch.cat([fake.detach(), trimap], 1)], 0))
    logits = logits.float()
    d_real, d_fake = gan_loss(logits[:n], True), gan_loss(logits[n:], False)
    loss_d = 0.5 * (d_real + d_fake)
    _check_finite("discriminator loss", loss_d)
    loss_d.backward()
    _clip(discriminator, grad_clip)
    if step_optimizers:
        opt_d.step()

    # --- G: fool D, and match alpha and composite ---
    set_requires_grad(discriminator, False)
    opt_g.zero_grad(set_to_none=True)
    with amp:
        g_logits = unwrap(discriminator)(torch.cat([fake, trimap], 1))
    g_gan = gan_loss(g_logits.float(), True)
    g_alpha = alpha_prediction_loss(alpha_pred, alpha_gt, trimap)
    g_comp = composition_loss(alpha_pred, alpha_gt, fg, bg, trimap)
    loss_g = weights.gan * g_gan + weights.alpha * g_alpha + weights.comp * g_comp
    g_lap = None
    if weights.lap:
        g_lap = laplacian_loss(alpha_pred, alpha_gt, trimap)
        loss_g = loss_g + weights.lap * g_lap
    _check_finite("generator loss", loss_g)
    loss_g.backward()
    _clip(generator, grad_clip)
    if step_optimizers:
        opt_g.step()
    set_requires_grad(discriminator, True)

    losses = {"d_real": d_real, "d_fake": d_fake, "d": loss_d, "g_gan": g_gan,
              "g_alpha": g_alpha, "g_comp": g_comp, "g": loss_g}
    if g_lap is not None:
        losses["g_lap"] = g_lap
    return StepOutput({k: float(v.detach()) for k, v in losses.items()},
                      alpha_pred.detach(), fake.detach())
