"""The 70x70 PatchGAN discriminator of pix2pix (``NLayerDiscriminator``)."""

from __future__ import annotations

import torch
from torch import nn

from alphagan.models.layers import NormName, norm_factory

__all__ = ["PatchDiscriminator"]


class PatchDiscriminator(nn.Module):
    """PatchGAN: a map of real/fake logits, each seeing a 70x70 patch (for ``n_layers=3``).

    4x4 convolutions with strides 2 (``n_layers`` times), 1, 1 and channels
    ``base_channels * (1, 2, 4, 8, ...)`` capped at 8x, then 1; no norm on the first layer,
    LeakyReLU(0.2). Input (B, in_channels, H, W): a composite RGB image + the trimap.
    Output (B, 1, H', W') logits; a 320x320 input gives 38x38.
    """

    def __init__(
        self,
        in_channels: int = 4,
        base_channels: int = 64,
        n_layers: int = 3,
        *,
        norm: NormName = "batch",
    ) -> None:
        super().__init__()
        norm_layer = norm_factory(norm)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, base_channels, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(base_channels * prev, base_channels * mult, 4, stride=stride,
                          padding=1, bias=False),
                norm_layer(base_channels * mult),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        layers.append(nn.Conv2d(base_channels * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
