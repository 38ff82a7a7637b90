"""Small building blocks shared by the generator and the discriminator."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from torch import nn

__all__ = ["NormName", "norm_factory", "conv_norm_act"]

NormName = Literal["batch", "group", "instance", "none"]


def norm_factory(name: NormName, *, groups: int = 32) -> Callable[[int], nn.Module]:
    """Return a ``channels -> norm module`` builder.

    ``group`` uses ``gcd(groups, channels // 2)`` groups: any width works and every group has
    at least 2 channels, so it also normalises the 1x1 ASPP image-pooling branch at batch size
    1, where BatchNorm sees a single value per channel and fails.
    """
    if name == "batch":
        return nn.BatchNorm2d
    if name == "group":
        return lambda c: nn.GroupNorm(math.gcd(groups, max(c // 2, 1)), c)
    if name == "instance":
        return lambda c: nn.InstanceNorm2d(c, affine=True)
    if name == "none":
        return lambda c: nn.Identity()
    raise ValueError(f"unknown norm {name!r}; expected batch, group, instance or none")


def conv_norm_act(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    *,
    norm_layer: Callable[[int], nn.Module],
    dilation: int = 1,
) -> nn.Sequential:
    """``kernel_size`` conv ("same" padding, no bias) -> norm -> ReLU."""
    padding = dilation * (kernel_size - 1) // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, dilation=dilation,
                  bias=False),
        norm_layer(out_channels),
        nn.ReLU(inplace=True),
    )
