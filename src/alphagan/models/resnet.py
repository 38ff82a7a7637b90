"""A dilated ResNet encoder in plain torch, with torchvision's parameter names.

The names (``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer1.0.downsample.0`` ...) match
``torchvision.models.resnet50`` so a torchvision state_dict loads directly (see
:mod:`alphagan.models.backbone`). Unlike torchvision's ``replace_stride_with_dilation``,
which leaves the first block of a dilated stage at the previous rate, every block of a
dilated stage here uses that stage's rate (DeepLab's convention, and the AlphaGAN paper's).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import nn

__all__ = ["Bottleneck", "ResNetEncoder", "EncoderFeatures"]

NormLayer = Callable[[int], nn.Module]


class Bottleneck(nn.Module):
    """torchvision's ResNet bottleneck (stride on the 3x3 conv, "ResNet v1.5")."""

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        width: int,
        *,
        stride: int = 1,
        dilation: int = 1,
        norm_layer: NormLayer,
    ) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = norm_layer(width)
        self.conv2 = nn.Conv2d(
            width, width, 3, stride=stride, padding=dilation, dilation=dilation, bias=False
        )
        self.bn2 = norm_layer(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = norm_layer(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                norm_layer(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class EncoderFeatures(NamedTuple):
    """What the decoder needs from the encoder.

    ``stem`` (B, C0, H/2, W/2) after conv1+bn1+relu; ``indices`` the max-pool indices for
    unpooling; ``layer1`` (B, 4*C0, H/4, W/4); ``out`` the last stage (B, 32*C0, H/8, W/8).
    """

    stem: torch.Tensor
    indices: torch.Tensor
    layer1: torch.Tensor
    out: torch.Tensor


class ResNetEncoder(nn.Module):
    """ResNet trunk with output stride 8: layer3 and layer4 dilated instead of strided.

    Args:
        layers: blocks per stage; ``(3, 4, 6, 3)`` is ResNet-50.
        in_channels: input channels of ``conv1`` (4: RGB + trimap).
        base_width: channels of the stem; stage ``i`` has ``base_width * 2**i`` bottleneck
            width and 4x that many output channels (64 is ResNet-50).
        dilations: dilation of layer3 and layer4 (2, 4 gives output stride 8).
        norm_layer: ``channels -> module`` factory (BatchNorm2d or a GroupNorm builder).
    """

    first_conv = "conv1.weight"  # widened to 4 input channels when ImageNet weights load

    def __init__(
        self,
        *,
        layers: Sequence[int] = (3, 4, 6, 3),
        in_channels: int = 4,
        base_width: int = 64,
        dilations: tuple[int, int] = (2, 4),
        norm_layer: NormLayer = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"layers must have 4 stages, got {tuple(layers)}")
        self.stem_channels = base_width
        self.conv1 = nn.Conv2d(in_channels, base_width, 7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(base_width)
        self.relu = nn.ReLU(inplace=True)
        # Indices are kept so the decoder can max-unpool (the AlphaGAN decoder's 1/4 -> 1/2 step).
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1, return_indices=True)
        widths = [base_width * 2**i for i in range(4)]
        strides_dilations = [(1, 1), (2, 1), (1, dilations[0]), (1, dilations[1])]
        channels = base_width
        for i, (n_blocks, width, (stride, dilation)) in enumerate(
            zip(layers, widths, strides_dilations), start=1
        ):
            blocks = []
            for b in range(n_blocks):
                blocks.append(
                    Bottleneck(
                        channels,
                        width,
                        stride=stride if b == 0 else 1,
                        dilation=dilation,
                        norm_layer=norm_layer,
                    )
                )
                channels = width * Bottleneck.expansion
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        self.layer1_channels = widths[0] * Bottleneck.expansion
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> EncoderFeatures:
        stem = self.relu(self.bn1(self.conv1(x)))  # (B, C0, H/2, W/2)
        pooled, indices = self.maxpool(stem)  # (B, C0, H/4, W/4)
        l1 = self.layer1(pooled)  # (B, 4*C0, H/4, W/4)
        out = self.layer4(self.layer3(self.layer2(l1)))  # (B, 32*C0, H/8, W/8)
        return EncoderFeatures(stem, indices, l1, out)
