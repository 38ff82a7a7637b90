"""The GAN step: the adversarial term is live, and a tiny generator learns a real crop."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from alphagan.losses import GANLoss
from alphagan.metrics import sad
from alphagan.models import AlphaGANGenerator, PatchDiscriminator
from alphagan.training.step import LossWeights, NonFiniteLoss, gan_step
from tests.helpers import ALPHAMATTING, TINY_CONFIG, requires_alphamatting


def random_batch(n: int = 2, size: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    alpha = torch.rand(n, 1, size, size, generator=g)
    trimap = torch.full((n, 1, size, size), 0.5)
    trimap[..., :4, :] = 0.0
    trimap[..., -4:, :] = 1.0
    trimap[1:, :, :, :9] = 0.0  # samples differ in unknown area (matters for DDP equivalence)
    fg, bg = torch.rand(n, 3, size, size, generator=g), torch.rand(n, 3, size, size, generator=g)
    return {"image": alpha * fg + (1 - alpha) * bg, "fg": fg, "bg": bg, "alpha": alpha,
            "trimap": trimap}


def models(seed: int = 0) -> tuple[AlphaGANGenerator, PatchDiscriminator]:
    torch.manual_seed(seed)
    return (AlphaGANGenerator(TINY_CONFIG, norm="group"),
            PatchDiscriminator(base_channels=8, n_layers=2, norm="group"))


def grads(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in module.parameters() if p.grad is not None])


def test_adversarial_term_alone_moves_the_generator() -> None:
    g, d = models()
    opt_g, opt_d = torch.optim.Adam(g.parameters(), 1e-3), torch.optim.Adam(d.parameters(), 1e-3)
    before = [p.detach().clone() for p in g.parameters()]
    out = gan_step(g, d, opt_g, opt_d, random_batch(), gan_loss=GANLoss(),
                   weights=LossWeights(gan=1.0, alpha=0.0, comp=0.0))
    adv = grads(g)
    assert torch.isfinite(adv).all() and adv.abs().sum() > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, g.parameters()))
    assert out.losses["g"] == pytest.approx(out.losses["g_gan"])
    # and it is a different direction from the reconstruction losses' gradient
    g2, d2 = models()
    gan_step(g2, d2, torch.optim.Adam(g2.parameters()), torch.optim.Adam(d2.parameters()),
             random_batch(), gan_loss=GANLoss(), weights=LossWeights(gan=0.0),
             step_optimizers=False)
    cos = torch.nn.functional.cosine_similarity(adv, grads(g2), dim=0)
    assert abs(float(cos)) < 0.99


def test_laplacian_weight_adds_its_loss() -> None:
    """w_lap > 0: g_lap is logged and g is the weighted sum with it."""
    from alphagan.losses import laplacian_loss

    g, d = models()
    batch = random_batch()
    weights = LossWeights(gan=0.1, alpha=1.0, comp=1.0, lap=2.0)
    out = gan_step(g, d, torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters()),
                   batch, gan_loss=GANLoss(), weights=weights, step_optimizers=False)
    losses = out.losses
    expected = 0.1 * losses["g_gan"] + losses["g_alpha"] + losses["g_comp"] + 2.0 * losses["g_lap"]
    assert losses["g"] == pytest.approx(expected, rel=1e-5)
    assert losses["g_lap"] == pytest.approx(
        float(laplacian_loss(out.alpha, batch["alpha"], batch["trimap"])), rel=1e-5)
    assert "g_lap" not in gan_step(g, d, torch.optim.Adam(g.parameters()),
                                   torch.optim.Adam(d.parameters()), batch, gan_loss=GANLoss(),
                                   step_optimizers=False).losses


def test_discriminator_learns_to_separate_real_and_fake() -> None:
    g, d = models()
    opt_g = torch.optim.Adam(g.parameters(), 0.0)  # freeze G: a fixed "fake" distribution
    opt_d = torch.optim.Adam(d.parameters(), 2e-3)
    batch = random_batch(n=2, size=32, seed=1)
    first = gan_step(g, d, opt_g, opt_d, batch, gan_loss=GANLoss()).losses["d"]
    for _ in range(30):
        last = gan_step(g, d, opt_g, opt_d, batch, gan_loss=GANLoss()).losses["d"]
    assert last < 0.5 * first


def test_non_finite_loss_stops_before_any_update() -> None:
    g, d = models()
    opt_g, opt_d = torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters())
    batch = random_batch()
    batch["fg"][0, 0, 10, 10] = float("nan")
    before = [p.detach().clone() for p in d.parameters()]
    with pytest.raises(NonFiniteLoss, match="nan"):
        gan_step(g, d, opt_g, opt_d, batch, gan_loss=GANLoss())
    assert all(torch.equal(a, b) for a, b in zip(before, d.parameters()))


@requires_alphamatting
def test_tiny_generator_learns_a_real_crop() -> None:
    """Few hundred steps on one 64x64 crop of a real photo: SAD must fall far below untrained."""
    from alphagan.inference import predict_alpha
    from alphagan.io import read_alpha, read_image
    from alphagan.trimap import read_trimap

    stem = "GT02"
    image = read_image(ALPHAMATTING / "input_training_lowres" / f"{stem}.png")
    gt = read_alpha(ALPHAMATTING / "gt_training_lowres" / f"{stem}.png")
    trimap = read_trimap(ALPHAMATTING / "trimap_training_lowres" / "Trimap1" / f"{stem}.png")
    ys, xs = np.nonzero(trimap == 0.5)
    cy, cx = int(np.median(ys)), int(np.median(xs))
    window = np.s_[cy - 32 : cy + 32, cx - 32 : cx + 32]
    image, gt, trimap = image[window], gt[window], trimap[window]
    assert (trimap == 0.5).mean() > 0.2

    torch.manual_seed(0)
    cfg = dataclasses.replace(TINY_CONFIG, norm="group")
    g = AlphaGANGenerator(cfg)
    d = PatchDiscriminator(base_channels=8, n_layers=2, norm="group")
    untrained = sad(predict_alpha(g, image, trimap), gt, trimap)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    alpha_t = t(gt)[None, None]
    batch = {"image": t(image.transpose(2, 0, 1))[None], "alpha": alpha_t,
             "trimap": t(trimap)[None, None], "fg": t(image.transpose(2, 0, 1))[None],
             "bg": torch.zeros(1, 3, 64, 64)}
    opt_g = torch.optim.Adam(g.parameters(), 3e-3)
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    for _ in range(300):
        gan_step(g, d, opt_g, opt_d, batch, gan_loss=GANLoss(),
                 weights=LossWeights(gan=0.05, alpha=1.0, comp=1.0))
    trained = sad(predict_alpha(g, image, trimap), gt, trimap)
    # measured: untrained ~0.4, trained ~0.03 (SAD in thousands of 8-bit units, 64x64 crop)
    print(f"untrained SAD {untrained:.4f}, trained {trained:.4f}")
    assert trained < 0.25 * untrained, (untrained, trained)
