"""Atrous Spatial Pyramid Pooling (DeepLabv3), laid out like torchvision's."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from alphagan.models.layers import conv_norm_act

__all__ = ["ASPP", "ASPPPooling"]


class ASPPPooling(nn.Module):
    """Image-level branch: global average pool -> 1x1 conv -> norm -> ReLU -> broadcast."""

    def __init__(
        self, in_channels: int, out_channels: int, *, norm_layer: Callable[[int], nn.Module]
    ) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv = conv_norm_act(in_channels, out_channels, 1, norm_layer=norm_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(self.pool(x))  # (B, C, 1, 1)
        return y.expand(-1, -1, x.shape[-2], x.shape[-1])


class ASPP(nn.Module):
    """A 1x1 branch, one 3x3 atrous branch per rate, image pooling; concat -> 1x1 projection.

    Args:
        in_channels: channels of the encoder output.
        rates: atrous rates of the 3x3 branches (DeepLab uses 12/24/36 at output stride 8).
        out_channels: channels of every branch and of the projection.
        dropout: dropout after the projection (DeepLab's 0.5 regularises segmentation; matting
            reimplementations commonly use none).
    """

    def __init__(
        self,
        in_channels: int,
        *,
        rates: Sequence[int] = (12, 24, 36),
        out_channels: int = 256,
        norm_layer: Callable[[int], nn.Module] = nn.BatchNorm2d,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        branches: list[nn.Module] = [
            conv_norm_act(in_channels, out_channels, 1, norm_layer=norm_layer)
        ]
        for rate in rates:
            branches.append(
                conv_norm_act(in_channels, out_channels, 3, dilation=rate, norm_layer=norm_layer)
            )
        branches.append(ASPPPooling(in_channels, out_channels, norm_layer=norm_layer))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(
            conv_norm_act(len(branches) * out_channels, out_channels, 1, norm_layer=norm_layer),
            nn.Dropout(dropout),
        )
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([branch(x) for branch in self.convs], dim=1))

