"""Losses against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from alphagan.losses import (
    EPS,
    GANLoss,
    alpha_prediction_loss,
    clamp_known,
    composition_loss,
    laplacian_loss,
    laplacian_pyramid,
    make_composites,
)


def t(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)[None, None]


PRED = t([[0.2, 0.5], [1.0, 0.0]])
GT = t([[0.0, 0.5], [0.0, 0.0]])
TRIMAP = t([[0.5, 0.5], [1.0, 0.5]])  # (1,0) is known foreground: its error must not count


def test_alpha_loss_hand_computed() -> None:
    # unknown pixels: |0.2-0| -> sqrt(0.04 + 1e-12), two exact ones -> sqrt(1e-12) = 1e-6
    expected = (math.sqrt(0.04 + EPS**2) + 2 * EPS) / 3
    assert alpha_prediction_loss(PRED, GT, TRIMAP).item() == pytest.approx(expected, rel=1e-12)


def test_composition_loss_hand_computed() -> None:
    fg = torch.zeros(1, 3, 2, 2, dtype=torch.float64)
    fg[:, 0] = 1.0  # red foreground
    bg = torch.zeros(1, 3, 2, 2, dtype=torch.float64)
    bg[:, 2] = 0.5  # half-blue background
    # pixel (0,0): composites differ by 0.2*(F-B) = (0.2, 0, -0.1); others identical.
    # Mean over 3 unknown pixels x 3 channels of sqrt(d^2 + eps^2):
    expected = (math.sqrt(0.04 + EPS**2) + math.sqrt(0.01 + EPS**2) + 7 * EPS) / 9
    got = composition_loss(PRED, GT, fg, bg, TRIMAP).item()
    assert got == pytest.approx(expected, rel=1e-12)


def test_losses_without_unknown_pixels_are_zero_not_nan() -> None:
    trimap = t([[0.0, 1.0], [1.0, 0.0]])
    assert alpha_prediction_loss(PRED, GT, trimap).item() == 0.0


def test_gan_loss_values() -> None:
    zeros = torch.zeros(1, 1, 3, 3)
    vanilla = GANLoss("vanilla")
    assert vanilla(zeros, True).item() == pytest.approx(math.log(2))
    assert vanilla(torch.full((1, 1, 2, 2), 2.0), False).item() == pytest.approx(
        math.log(1 + math.exp(2.0))
    )
    lsgan = GANLoss("lsgan")
    half = torch.full((1, 1, 2, 2), 0.5)
    assert lsgan(half, True).item() == pytest.approx(0.25)
    assert lsgan(torch.full((1, 1, 2, 2), 0.25), False).item() == pytest.approx(0.0625)
    with pytest.raises(ValueError):
        GANLoss("wgan")


def test_clamp_known_and_composites_share_f_and_b() -> None:
    pred = torch.tensor([[[[0.3, 0.6], [0.7, 0.2]]]], requires_grad=True)
    trimap = torch.tensor([[[[0.0, 0.5], [1.0, 0.5]]]])
    clamped = clamp_known(pred, trimap)
    assert clamped.tolist() == [[[[0.0, pytest.approx(0.6)], [1.0, pytest.approx(0.2)]]]]
    clamped.sum().backward()
    assert pred.grad.tolist() == [[[[0.0, 1.0], [0.0, 1.0]]]]  # gradient only where unknown

    fg, bg = torch.rand(1, 3, 2, 2), torch.rand(1, 3, 2, 2)
    gt = torch.tensor([[[[0.0, 0.6], [1.0, 0.2]]]])
    real, fake = make_composites(fg, bg, gt, pred.detach(), trimap)
    # a perfect prediction in the unknown region gives a fake identical to the real one
    assert torch.allclose(real, fake)
    assert torch.allclose(real, gt * fg + (1 - gt) * bg)


def test_batch_loss_is_the_mean_of_sample_losses() -> None:
    """What makes a DDP split of the batch give the same gradients as one process."""
    pred, gt = torch.rand(2, 1, 6, 6), torch.rand(2, 1, 6, 6)
    trimap = torch.full((2, 1, 6, 6), 0.5)
    trimap[0, :, :4] = 1.0  # the two samples have different unknown areas
    whole = alpha_prediction_loss(pred, gt, trimap)
    halves = [alpha_prediction_loss(pred[i : i + 1], gt[i : i + 1], trimap[i : i + 1])
              for i in range(2)]
    assert whole.item() == pytest.approx((halves[0] + halves[1]).item() / 2, rel=1e-6)


# --- Laplacian loss ----------------------------------------------------------------------------


def test_laplacian_pyramid_sums_back_and_blurs_a_constant_to_itself() -> None:
    torch.manual_seed(0)
    for size in ((1, 1, 32, 32), (2, 1, 37, 21)):  # odd sizes too
        x = torch.rand(size, dtype=torch.float64)
        pyramid = laplacian_pyramid(x, levels=4)
        assert len(pyramid) == 4
        rebuilt = pyramid[-1]
        for band in reversed(pyramid[:-1]):  # collapse: upsample, add the band
            up = torch.zeros_like(band)
            up[..., ::2, ::2] = rebuilt * 4.0
            kernel = torch.outer(*(torch.tensor([1, 4, 6, 4, 1.0], dtype=x.dtype),) * 2) / 256
            up = torch.nn.functional.conv2d(
                torch.nn.functional.pad(up, (2, 2, 2, 2), mode="reflect"), kernel.view(1, 1, 5, 5))
            rebuilt = band + up
        assert torch.allclose(rebuilt, x, atol=1e-12)
    # the binomial kernel sums to 1: a constant has zero band-pass levels
    flat = laplacian_pyramid(torch.full((1, 1, 16, 16), 0.3, dtype=torch.float64), levels=3)
    assert all(level.abs().max() < 1e-12 for level in flat[:-1])
    assert torch.allclose(flat[-1], torch.full_like(flat[-1], 0.3))


def test_laplacian_loss_hand_computed_and_known_regions_clamped() -> None:
    trimap = torch.full((1, 1, 16, 16), 0.5)
    gt = torch.zeros(1, 1, 16, 16)
    # a constant offset c: only the coarsest level differs (by c), weighted 2^(L-1), / L
    c, levels = 0.25, 3
    loss = laplacian_loss(gt + c, gt, trimap, levels=levels)
    assert math.isclose(float(loss), (2 ** (levels - 1)) * c / levels, rel_tol=1e-5)
    # where the trimap is known the prediction is set to the trimap first: no loss there
    known = torch.zeros(1, 1, 16, 16)  # all background, gt 0
    assert float(laplacian_loss(torch.rand(1, 1, 16, 16), gt, known)) == 0.0
    # identical maps: zero
    assert float(laplacian_loss(gt + 0.4, gt + 0.4, trimap)) < 1e-7
