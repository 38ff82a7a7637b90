"""Architecture invariants of the AlphaGAN generator (what the paper implies)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from alphagan.models import AlphaGANGenerator, GeneratorConfig, ResNetEncoder
from tests.helpers import TINY_CONFIG


def test_default_is_the_paper_model() -> None:
    cfg = GeneratorConfig()
    assert cfg.encoder_layers == (3, 4, 6, 3)  # ResNet-50
    assert cfg.dilations == (2, 4)
    assert cfg.image_skip


def test_encoder_output_stride_8_and_dilation_in_every_block() -> None:
    enc = ResNetEncoder().eval()
    with torch.no_grad():
        feats = enc(torch.rand(1, 4, 320, 320))
    assert feats.stem.shape == (1, 64, 160, 160)
    assert feats.layer1.shape == (1, 256, 80, 80)
    assert feats.out.shape == (1, 2048, 40, 40)  # 320 / 8
    for name, rate in (("layer3", 2), ("layer4", 4)):
        blocks = getattr(enc, name)
        assert len(blocks) == {"layer3": 6, "layer4": 3}[name]
        for block in blocks:  # every block, not only the first (a past reimplementation bug)
            assert block.conv2.dilation == (rate, rate)
            assert block.conv2.padding == (rate, rate)
            assert block.conv2.stride == (1, 1)
        assert blocks[0].downsample[0].stride == (1, 1)


def test_first_pool_returns_indices() -> None:
    enc = ResNetEncoder()
    assert enc.maxpool.return_indices


@pytest.mark.parametrize("size", [(37, 53), (64, 64), (33, 8), (5, 7)])
def test_output_size_equals_input_size(size: tuple[int, int]) -> None:
    g = AlphaGANGenerator(TINY_CONFIG).eval()
    h, w = size
    with torch.no_grad():
        alpha = g(torch.rand(2, 3, h, w), torch.rand(2, 1, h, w))
    assert alpha.shape == (2, 1, h, w)
    assert float(alpha.min()) >= 0.0 and float(alpha.max()) <= 1.0


def test_default_generator_odd_size_and_range() -> None:
    g = AlphaGANGenerator().eval()
    with torch.no_grad():
        alpha = g(torch.rand(1, 3, 45, 61), torch.full((1, 1, 45, 61), 0.5))
    assert alpha.shape == (1, 1, 45, 61)
    assert torch.isfinite(alpha).all()
    assert float(alpha.min()) >= 0.0 and float(alpha.max()) <= 1.0


@pytest.mark.parametrize("norm", ["batch", "group"])
def test_default_generator_gradients_are_finite(norm: str) -> None:
    g = AlphaGANGenerator(norm=norm).train()
    image, trimap = torch.rand(2, 3, 48, 40), torch.rand(2, 1, 48, 40)
    g(image, trimap).mean().backward()
    grads = [p.grad for p in g.parameters()]
    assert all(gr is not None and torch.isfinite(gr).all() for gr in grads)
    # every layer takes part: the decoder, ASPP and first conv all receive gradient
    assert float(g.encoder.conv1.weight.grad.abs().sum()) > 0
    assert float(g.head.weight.grad.abs().sum()) > 0


def test_group_norm_trains_at_batch_size_one() -> None:
    g = AlphaGANGenerator(TINY_CONFIG, norm="group").train()
    out = g(torch.rand(1, 3, 32, 32), torch.rand(1, 1, 32, 32))
    out.mean().backward()


def test_unpooling_uses_the_encoder_indices() -> None:
    """The decoder's 1/4 -> 1/2 step puts values back where the max-pool found its maxima."""
    g = AlphaGANGenerator(TINY_CONFIG).eval()
    captured: dict[str, torch.Tensor] = {}

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        captured["decode2_in"] = inputs[0]

    g.decode2.register_forward_hook(hook)
    with torch.no_grad():
        feats = g.encoder(torch.rand(1, 4, 32, 32))
        g(torch.rand(1, 3, 32, 32), torch.rand(1, 1, 32, 32))
    unpooled = captured["decode2_in"][:, : g.encoder.stem_channels]  # (1, C0, 16, 16)
    assert unpooled.shape[-2:] == feats.stem.shape[-2:]
    # 3x3/2 pooling of 16x16 -> 8x8: at most 64 non-zero positions per channel survive
    assert int((unpooled[0, 0] != 0).sum()) <= 64


def test_image_is_concatenated_before_final_convs() -> None:
    g = AlphaGANGenerator(TINY_CONFIG)
    c1 = TINY_CONFIG.decoder_channels[2]
    assert g.refine[0][0].in_channels == c1 + 4
    assert isinstance(g.upconv[0], nn.ConvTranspose2d)


def test_known_parameter_count_of_the_paper_encoder() -> None:
    # torchvision resnet50 has 25,557,032 parameters; minus fc (2048*1000 + 1000) and plus
    # the trimap filters of conv1 (64*1*7*7) gives the 4-channel encoder.
    enc = ResNetEncoder()
    assert sum(p.numel() for p in enc.parameters()) == 25_557_032 - 2_049_000 + 3_136
