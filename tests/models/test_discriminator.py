"""The PatchGAN discriminator: output size and its 70x70 receptive field."""

from __future__ import annotations

import torch

from alphagan.models import PatchDiscriminator


def test_320_input_gives_38x38_logits() -> None:
    d = PatchDiscriminator()
    assert d(torch.rand(2, 4, 320, 320)).shape == (2, 1, 38, 38)


def test_layout_matches_pix2pix() -> None:
    convs = [m for m in PatchDiscriminator().modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]
    assert all(c.kernel_size == (4, 4) for c in convs)
    assert convs[0].in_channels == 4


def test_gradient_footprint_is_70x70() -> None:
    """One output logit depends on exactly a 70x70 window of the input."""
    d = PatchDiscriminator().eval()  # eval: BatchNorm uses running stats, no cross-pixel mixing
    x = torch.rand(1, 4, 160, 160, requires_grad=True)
    out = d(x)  # (1, 1, 18, 18)
    out[0, 0, 9, 9].backward()
    touched = x.grad.abs().sum(dim=(0, 1)) > 0
    rows = torch.nonzero(touched.any(dim=1)).flatten()
    cols = torch.nonzero(touched.any(dim=0)).flatten()
    assert int(rows.max() - rows.min() + 1) == 70
    assert int(cols.max() - cols.min() + 1) == 70
    # Back through the layers (k=4, padding 1): output i sees layer-4 rows i-1..i+2, layer-3
    # rows i-2..i+4, then each stride-2 layer maps [a, b] to [2a-1, 2b+2]: input 8i-23..8i+46.
    assert int(rows.min()) == 8 * 9 - 23 and int(cols.min()) == 8 * 9 - 23


def test_n_layers_changes_footprint() -> None:
    d = PatchDiscriminator(n_layers=2).eval()
    x = torch.rand(1, 4, 96, 96, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    touched = x.grad.abs().sum(dim=(0, 1)) > 0
    rows = torch.nonzero(touched.any(dim=1)).flatten()
    assert int(rows.max() - rows.min() + 1) == 34  # the 2-layer net earlier ports used
