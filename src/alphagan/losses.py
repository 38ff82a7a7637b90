"""AlphaGAN losses: alpha prediction, composition, adversarial, Laplacian; the composite builders.

Tensors: alpha and trimap (B,1,H,W), images (B,3,H,W) in [0,1]; the trimap is encoded as
{0, 0.5, 1} and "unknown" means 0 < t < 1.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "EPS",
    "unknown_region",
    "clamp_known",
    "composite",
    "make_composites",
    "alpha_prediction_loss",
    "composition_loss",
    "laplacian_pyramid",
    "laplacian_loss",
    "GANLoss",
]

EPS = 1e-6


def unknown_region(trimap: torch.Tensor) -> torch.Tensor:
    """Float mask (B,1,H,W): 1 where the trimap is unknown (0 < t < 1), else 0."""
    return ((trimap > 0) & (trimap < 1)).to(trimap.dtype)


def clamp_known(alpha: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
    """Set known regions of ``alpha`` to the trimap's 0/1; gradients flow in the unknown region."""
    alpha = torch.where(trimap >= 1, torch.ones_like(alpha), alpha)
    return torch.where(trimap <= 0, torch.zeros_like(alpha), alpha)


def composite(fg: torch.Tensor, bg: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """``alpha * F + (1 - alpha) * B``: fg, bg (B,3,H,W), alpha (B,1,H,W) -> (B,3,H,W)."""
    return alpha * fg + (1 - alpha) * bg


def make_composites(
    fg: torch.Tensor,
    bg: torch.Tensor,
    alpha_gt: torch.Tensor,
    alpha_pred: torch.Tensor,
    trimap: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and fake composites from the *same* F and B tensors.

    Real: ``a_gt F + (1-a_gt) B``; fake: the predicted alpha (known regions clamped to the
    trimap) with the same F and B. Building both from one set of tensors in one step means
    the discriminator cannot tell them apart by resampling or file artefacts (a mistake of
    earlier reimplementations). Returns (real, fake), each (B,3,H,W).
    """
    real = composite(fg, bg, alpha_gt)
    fake = composite(fg, bg, clamp_known(alpha_pred, trimap))
    return real, fake


def _masked_charbonnier(diff: torch.Tensor, mask: torch.Tensor, eps: float) -> torch.Tensor:
    """``sqrt(diff^2 + eps^2)`` averaged over each sample's masked elements, then over the batch.

    Per-sample averaging makes the loss of a batch the mean of its samples' losses, so a
    batch split across processes (DDP averages gradients) gives the same gradient as the
    whole batch in one process.
    """
    mask = mask.expand_as(diff)
    per_pixel = torch.sqrt(diff.square() + eps * eps) * mask
    dims = tuple(range(1, diff.ndim))
    # clamp_min: a sample whose trimap has no unknown pixel contributes 0, not NaN.
    per_sample = per_pixel.sum(dim=dims) / mask.sum(dim=dims).clamp_min(1.0)
    return per_sample.mean()


def alpha_prediction_loss(
    alpha_pred: torch.Tensor, alpha_gt: torch.Tensor, trimap: torch.Tensor, eps: float = EPS
) -> torch.Tensor:
    """DIM's alpha loss: ``sqrt((a_p - a_g)^2 + eps^2)`` averaged over unknown pixels
    (per sample, then over the batch)."""
    return _masked_charbonnier(alpha_pred - alpha_gt, unknown_region(trimap), eps)


def composition_loss(
    alpha_pred: torch.Tensor,
    alpha_gt: torch.Tensor,
    fg: torch.Tensor,
    bg: torch.Tensor,
    trimap: torch.Tensor,
    eps: float = EPS,
) -> torch.Tensor:
    """DIM's composition loss on RGB, averaged over unknown pixels and the 3 channels.

    Compares ``a_p F + (1-a_p) B`` with ``a_g F + (1-a_g) B`` (same F, B).
    """
    diff = composite(fg, bg, alpha_pred) - composite(fg, bg, alpha_gt)
    return _masked_charbonnier(diff, unknown_region(trimap), eps)


def _gaussian_5x5(like: torch.Tensor) -> torch.Tensor:
    """The 5x5 binomial kernel ``[1 4 6 4 1]^T [1 4 6 4 1] / 256`` as a (1,1,5,5) filter."""
    taps = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=like.dtype, device=like.device)
    return (torch.outer(taps, taps) / 256.0).view(1, 1, 5, 5)


def laplacian_pyramid(x: torch.Tensor, levels: int = 5) -> list[torch.Tensor]:
    """Burt and Adelson's Laplacian pyramid of a (B,1,H,W) map, finest level first.

    Each level is ``g - up(down(g))`` with ``down`` = 5x5 binomial blur (reflect padding)
    then every second pixel, ``up`` = zero insertion then the same blur times 4; the last
    entry is the coarsest blurred map. Sums back to ``x`` exactly (telescoping), whatever
    the size (odd sizes are handled by cropping the upsampled map).
    """
    kernel = _gaussian_5x5(x)
    pyramid = []
    current = x
    for _ in range(levels - 1):
        if min(current.shape[-2:]) < 3:  # reflect padding needs 3 pixels a side
            break
        down = F.conv2d(F.pad(current, (2, 2, 2, 2), mode="reflect"), kernel)[..., ::2, ::2]
        up = torch.zeros_like(current)
        up[..., ::2, ::2] = down * 4.0
        up = F.conv2d(F.pad(up, (2, 2, 2, 2), mode="reflect"), kernel)
        pyramid.append(current - up)
        current = down
    pyramid.append(current)
    return pyramid


def laplacian_loss(alpha_pred: torch.Tensor, alpha_gt: torch.Tensor, trimap: torch.Tensor,
                   levels: int = 5) -> torch.Tensor:
    """Laplacian loss: ``sum_i 2^i mean|L_i(a_p) - L_i(a_g)|`` over the pyramid levels, /levels.

    Hou and Liu ("Context-Aware Image Matting for Simultaneous Foreground and Alpha
    Estimation", ICCV 2019) and FBA Matting (Forte and Pitie 2020) use it to penalise errors
    at every scale, not only per pixel: it is what the Gradient metric sees. The prediction's
    known regions are set to the trimap's 0/1 first (as the output is), so only the unknown
    region and its surroundings contribute; the mean is over each level's pixels (per sample,
    then over the batch, as the other losses).
    """
    pred = laplacian_pyramid(clamp_known(alpha_pred, trimap), levels)
    true = laplacian_pyramid(alpha_gt, levels)
    total = alpha_pred.new_zeros(())
    for level, (p, t) in enumerate(zip(pred, true)):
        total = total + (2.0**level) * (p - t).abs().mean()
    return total / len(pred)


class GANLoss(nn.Module):
    """Adversarial loss on discriminator logits; hides the real/fake target bookkeeping.

    ``mode="vanilla"``: binary cross-entropy with logits (the paper's
    ``log D(x) + log(1 - D(C(G(x))))``, G trained with the non-saturating target "real").
    ``mode="lsgan"``: least squares on the raw outputs (targets 1 and 0).
    Call ``loss(logits, target_is_real)``; the mean is over every patch of the map.
    """

    def __init__(self, mode: Literal["vanilla", "lsgan"] = "vanilla") -> None:
        super().__init__()
        if mode not in ("vanilla", "lsgan"):
            raise ValueError(f"unknown GAN mode {mode!r}; expected 'vanilla' or 'lsgan'")
        self.mode = mode

    def forward(self, logits: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        target = torch.full_like(logits, 1.0 if target_is_real else 0.0)
        if self.mode == "vanilla":
            return F.binary_cross_entropy_with_logits(logits, target)
        return F.mse_loss(logits, target)
