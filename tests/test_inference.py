"""predict_alpha, foreground estimation, cut-outs and composites."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alphagan.foreground import (
    checkerboard,
    composite_onto,
    cutout,
    estimate_foreground,
    fit_background,
    parse_color,
)
from alphagan.inference import predict_alpha
from alphagan.models import AlphaGANGenerator
from tests.helpers import TINY_CONFIG

# One plain pass over the whole image (the defaults crop to the unknown region and add a
# mirrored pass, which a stand-in model without a context radius cannot do).
PLAIN = dict(region="full", tta="none", tile=None)


class ConstantModel(torch.nn.Module):
    """Predicts 0.3 everywhere; records what it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.seen: list[tuple[tuple[int, ...], bool]] = []

    def forward(self, image: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
        self.seen.append((tuple(image.shape), self.training))
        return torch.full_like(trimap, 0.3) * self.scale


def test_known_regions_are_clamped_exactly_and_unknown_kept() -> None:
    model = ConstantModel().train()
    trimap = np.array([[0, 0.5, 1], [1, 0.5, 0]], np.float32)
    alpha = predict_alpha(model, np.random.rand(2, 3, 3).astype(np.float32), trimap, **PLAIN)
    assert alpha.dtype == np.float32
    assert alpha.tolist() == [[0.0, pytest.approx(0.3), 1.0], [1.0, pytest.approx(0.3), 0.0]]
    assert model.seen == [((1, 3, 2, 3), False)]  # ran in eval mode, no resizing
    assert model.training  # the caller's mode is restored


def test_accepts_uint8_images_and_checks_sizes() -> None:
    model = ConstantModel()
    img8 = np.full((4, 5, 3), 255, np.uint8)
    assert predict_alpha(model, img8, np.full((4, 5), 0.5, np.float32), **PLAIN).shape == (4, 5)
    with pytest.raises(ValueError, match="5x4 but trimap is 6x4"):
        predict_alpha(model, img8, np.full((4, 6), 0.5, np.float32), **PLAIN)
    with pytest.raises(ValueError, match=r"shape \(4, 5, 2\)"):
        predict_alpha(model, np.zeros((4, 5, 2)), np.zeros((4, 5)), **PLAIN)


def test_real_generator_any_size_no_grad_state() -> None:
    g = AlphaGANGenerator(TINY_CONFIG)
    image = np.random.rand(31, 45, 3).astype(np.float32)
    trimap = np.full((31, 45), 0.5, np.float32)
    alpha = predict_alpha(g, image, trimap)
    assert alpha.shape == (31, 45) and 0 <= alpha.min() and alpha.max() <= 1
    assert all(p.grad is None for p in g.parameters())


def test_foreground_recovers_a_known_composite() -> None:
    rng = np.random.default_rng(0)
    h, w = 40, 50
    fg = np.broadcast_to(np.array([0.9, 0.2, 0.1], np.float32), (h, w, 3))
    bg = np.broadcast_to(np.array([0.1, 0.3, 0.8], np.float32), (h, w, 3))
    alpha = np.clip(rng.random((h, w)), 0, 1).astype(np.float32)
    image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    est = estimate_foreground(image, alpha)
    visible = alpha > 0.3
    assert np.abs(est[visible] - fg[visible]).mean() < 0.02


def test_cutout_composite_and_colours() -> None:
    fg = np.full((2, 2, 3), 0.8, np.float32)
    alpha = np.array([[0.0, 0.25], [1.0, 0.5]], np.float32)
    rgba = cutout(fg, alpha)
    assert rgba.shape == (2, 2, 4) and np.array_equal(rgba[..., 3], alpha)
    assert np.array_equal(rgba[..., :3], fg)  # straight, not premultiplied
    comp = composite_onto(fg, alpha, (0.0, 0.0, 1.0))
    assert comp[0, 1].tolist() == pytest.approx([0.2, 0.2, 0.2 + 0.75])
    assert parse_color("#00ff00") == (0.0, 1.0, 0.0)
    assert parse_color("#f00") == (1.0, 0.0, 0.0)
    assert parse_color("0,0,255") == (0.0, 0.0, 1.0)
    assert parse_color(" White ") == (1.0, 1.0, 1.0)
    for bad in ("chartreuse-ish", "#12345", "1,2", "0,0,256"):
        with pytest.raises(ValueError):
            parse_color(bad)


def test_background_image_covers_and_crops() -> None:
    bg = np.zeros((10, 40, 3), np.float32)
    bg[:, 15:25] = 1.0  # a bright centre stripe
    fitted = fit_background(bg, 20, 20)
    assert fitted.shape == (20, 20, 3)
    assert fitted[:, 10].mean() == pytest.approx(1.0)  # the centre stays centred
    assert checkerboard(4, 6, square=2)[0, 0, 0] != checkerboard(4, 6, square=2)[0, 2, 0]
