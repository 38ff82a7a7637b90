"""Load ImageNet ResNet-50 weights (a torchvision ``resnet50`` state_dict file) into the encoder.

Nothing is downloaded: the user passes the path of a file saved with
``torch.save(torchvision.models.resnet50(weights=...).state_dict(), path)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from alphagan.errors import InputError
from alphagan.models.generator import AlphaGANGenerator

__all__ = ["BackboneLoadReport", "load_backbone_weights", "adapt_first_conv"]


@dataclass
class BackboneLoadReport:
    """What :func:`load_backbone_weights` did.

    ``loaded``: encoder keys that received weights; ``unused``: file keys that went nowhere
    (``fc.*``, BatchNorm statistics when the model uses GroupNorm, ...); ``missing``: encoder
    keys the file did not provide (they keep their random initialisation).
    """

    loaded: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def adapt_first_conv(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """Widen a (C_out, 3, k, k) RGB filter bank to ``in_channels`` inputs.

    The RGB filters are copied unchanged and the extra (trimap) channels get zero filters
    (DIM's rule), so at initialisation the network sees the image exactly as ImageNet
    pretraining did.
    """
    if weight.ndim != 4 or weight.shape[1] != 3:
        raise ValueError(f"expected an RGB conv weight (C,3,k,k), got {tuple(weight.shape)}")
    if in_channels < 3:
        raise ValueError(f"in_channels must be >= 3, got {in_channels}")
    extra = weight.new_zeros(weight.shape[0], in_channels - 3, *weight.shape[2:])
    return torch.cat([weight, extra], dim=1)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    from alphagan.files import MAX_MODEL_BYTES, open_regular

    with open_regular(path, MAX_MODEL_BYTES, what="weights file") as (handle, _):
        try:
            # weights_only: tensors and plain values only, a crafted pickle runs no code
            obj = torch.load(handle, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a non-checkpoint file
            raise InputError(f"{path}: not a PyTorch state_dict file, or holds objects other "
                             f"than tensors ({type(exc).__name__})") from None
    # Accept the common wrappers ({"state_dict": ...}, {"model": ...}) and DDP's "module." prefix.
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError(f"{path}: does not hold a state_dict (a mapping of names to tensors)")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def load_backbone_weights(generator: AlphaGANGenerator, path: str | Path) -> BackboneLoadReport:
    """Copy a torchvision ResNet-50 state_dict into ``generator.encoder`` in place.

    ``conv1.weight`` (64,3,7,7) is widened to 4 input channels with zero trimap filters;
    ``fc.*`` and any key without a same-shaped encoder parameter are reported as unused.
    Raises :class:`InputError` when the file is unreadable or matches no encoder weight
    (e.g. it is not a ResNet-50 state_dict, or the encoder is not ResNet-50 shaped).
    """
    path = Path(path)
    source = _read_state_dict(path)
    target = generator.encoder.state_dict()
    report = BackboneLoadReport()
    update: dict[str, torch.Tensor] = {}
    for key, value in source.items():
        if key == "conv1.weight" and key in target and value.ndim == 4 and value.shape[1] == 3:
            value = adapt_first_conv(value, target[key].shape[1])
        if key in target and target[key].shape == value.shape:
            update[key] = value.to(target[key].dtype)
        else:
            report.unused.append(key)
    if not update:
        raise InputError(
            f"{path}: no tensor matches the encoder (is it a torchvision resnet50 state_dict, "
            f"and is the generator ResNet-50 shaped?)"
        )
    shape_mismatch = [k for k in report.unused if k in target]
    if shape_mismatch:
        raise InputError(
            f"{path}: {len(shape_mismatch)} tensors have the wrong shape for this encoder, "
            f"e.g. {shape_mismatch[0]}: {tuple(source[shape_mismatch[0]].shape)} vs "
            f"{tuple(target[shape_mismatch[0]].shape)}"
        )
    generator.encoder.load_state_dict(update, strict=False)
    report.loaded = sorted(update)
    report.missing = sorted(set(target) - set(update))
    return report
