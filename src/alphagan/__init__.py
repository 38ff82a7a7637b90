"""alphagan: natural image matting with AlphaGAN (Lutz, Amplianitis, Smolic, BMVC 2018).

One call: ``alphagan.matte(image, trimap)`` (or ``mask=``) -> alpha, float32 HxW in [0,1],
with the shipped model (``alphagan.load_model()``) and the command line's defaults.

Conventions inside: image float32 HxWx3 RGB in [0,1]; trimap HxW in {0, 0.5, 1}; alpha
float32 HxW in [0,1]. Public functions accept what users hold (paths, PIL images, uint8 /
uint16 / float arrays, RGBA, 0/128/255 trimaps) through :mod:`alphagan.convert`. Submodules
are imported on first use, so ``import alphagan`` stays light (no torch, no pymatting/numba
until needed).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS = {
    "InputError": "alphagan.errors",
    "matte": "alphagan.matting",
    "AlphaGANGenerator": "alphagan.models",
    "GeneratorConfig": "alphagan.models",
    "GeneratorEnsemble": "alphagan.models",
    "PatchDiscriminator": "alphagan.models",
    "load_backbone_weights": "alphagan.models",
    "save_model": "alphagan.checkpoint",
    "load_model": "alphagan.checkpoint",
    "save_ensemble": "alphagan.checkpoint",
    "predict_alpha": "alphagan.inference",
    "estimate_foreground": "alphagan.foreground",
    "cutout": "alphagan.foreground",
    "composite_onto": "alphagan.foreground",
    "estimate_alpha_baseline": "alphagan.baselines",
    "read_image": "alphagan.io",
    "read_alpha": "alphagan.io",
    "read_mask": "alphagan.io",
    "write_png": "alphagan.io",
    "read_trimap": "alphagan.trimap",
    "trimap_from_alpha": "alphagan.trimap",
    "trimap_from_mask": "alphagan.trimap",
    "trimap_from_soft_mask": "alphagan.trimap",
    "to_image": "alphagan.convert",
    "to_alpha": "alphagan.convert",
    "to_mask": "alphagan.convert",
    "to_trimap": "alphagan.convert",
    "to_color": "alphagan.convert",
    "sad": "alphagan.metrics",
    "mse": "alphagan.metrics",
    "gradient_error": "alphagan.metrics",
    "connectivity_error": "alphagan.metrics",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    # submodules (alphagan.metrics, alphagan.prior, ...) as attributes, as after an import
    if not name.startswith("_") and importlib.util.find_spec(f"alphagan.{name}") is not None:
        return importlib.import_module(f"alphagan.{name}")
    raise AttributeError(f"module 'alphagan' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # for type checkers and IDEs; never executed
    from alphagan.baselines import estimate_alpha_baseline
    from alphagan.checkpoint import load_model, save_ensemble, save_model
    from alphagan.errors import InputError
    from alphagan.foreground import composite_onto, cutout, estimate_foreground
    from alphagan.inference import predict_alpha
    from alphagan.convert import to_alpha, to_color, to_image, to_mask, to_trimap
    from alphagan.io import read_alpha, read_image, read_mask, write_png
    from alphagan.matting import matte
    from alphagan.metrics import connectivity_error, gradient_error, mse, sad
    from alphagan.models import AlphaGANGenerator, GeneratorConfig, GeneratorEnsemble
    from alphagan.models import PatchDiscriminator
    from alphagan.models import load_backbone_weights
    from alphagan.trimap import read_trimap, trimap_from_alpha, trimap_from_mask
    from alphagan.trimap import trimap_from_soft_mask
