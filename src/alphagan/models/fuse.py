"""Fold inference-mode BatchNorm into the convolution before it.

In eval mode a BatchNorm is a per-channel affine map, ``y = (x - mean) / sqrt(var + eps) * g
+ b``; applied to a convolution's output it can be merged into that convolution's weight and
bias, which removes one full pass over every feature map. GroupNorm and InstanceNorm compute
statistics from the input, so they cannot be folded and are left alone.
"""

from __future__ import annotations

import copy
import re

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["fold_batchnorm"]

_CONVS = (nn.Conv2d, nn.ConvTranspose2d)
_NUMBERED_CONV = re.compile(r"conv(\d+)")


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Return a copy of ``model`` with each BatchNorm2d folded into the conv that feeds it.

    The input is not modified. Folded pairs are found two ways, both of which hold only when
    the BatchNorm's sole input is that convolution's output:

    - inside an ``nn.Sequential``, a ``Conv2d`` / ``ConvTranspose2d`` immediately followed by a
      ``BatchNorm2d`` (``conv_norm_act`` blocks, the transposed-conv block, ``downsample``,
      the PatchGAN's layers);
    - in any other module, torchvision's naming convention ``conv<k>`` / ``bn<k>`` (the ResNet
      stem ``conv1/bn1`` and the Bottleneck's three pairs), whose ``forward`` computes
      ``bn<k>(conv<k>(x))``, and the pairs a module lists in its ``fold_pairs`` attribute
      (the EfficientNet-Lite blocks' ``_expand_conv/_bn0`` ...).

    The folded conv gains a bias; the BatchNorm becomes ``nn.Identity`` so module names (and
    the generator's ``forward``) are unchanged. Outputs match the unfolded model up to
    float32 rounding (about 1e-6 relative).

    Raises:
        ValueError: if ``model`` is in training mode (batch statistics cannot be folded).
    """
    if model.training:
        raise ValueError("fold_batchnorm needs an eval-mode model: call model.eval() first")
    folded = copy.deepcopy(model)
    for module in list(folded.modules()):
        if isinstance(module, nn.Sequential):
            names = list(module._modules)
            pairs = list(zip(names, names[1:]))
        else:
            pairs = [
                (name, f"bn{m.group(1)}")
                for name in module._modules
                if (m := _NUMBERED_CONV.fullmatch(name)) and f"bn{m.group(1)}" in module._modules
            ] + [p for p in getattr(module, "fold_pairs", ()) if p[0] in module._modules]
        for conv_name, bn_name in pairs:
            _fold_pair(module, conv_name, bn_name)
    return folded


def _fold_pair(parent: nn.Module, conv_name: str, bn_name: str) -> None:
    conv = parent._modules[conv_name]
    bn = parent._modules[bn_name]
    if not (isinstance(conv, _CONVS) and type(bn) is nn.BatchNorm2d):
        return
    if bn.running_mean is None or bn.running_var is None:
        return  # track_running_stats=False: normalises with batch statistics even in eval
    transpose = isinstance(conv, nn.ConvTranspose2d)
    if bn.num_features != conv.out_channels:
        return
    parent._modules[conv_name] = fuse_conv_bn_eval(conv, bn, transpose=transpose)
    parent._modules[bn_name] = nn.Identity()
