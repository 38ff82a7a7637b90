"""One call from Python: ``alphagan.matte(image, trimap) -> alpha``.

``matte`` takes what a user holds (see :mod:`alphagan.convert`), a trimap or a mask, and the
shipped model or a classical baseline, with the command line's defaults
(:mod:`alphagan.defaults`), so ``matte(image, trimap)`` gives the alpha ``alphagan predict``
writes for the same files.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from alphagan import defaults
from alphagan.convert import ImageLike, to_image, to_mask, to_trimap
from alphagan.errors import InputError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["matte", "trimap_for", "pick_device", "load_prepared", "METHODS"]

# "alphagan" (the network) and the classical baselines of alphagan.baselines.
METHODS = ("alphagan", "cf", "knn", "lkm", "rw", "sm")

_MASK_OPTIONS = ("foreground_threshold", "background_threshold", "erode_size")


def pick_device(name: str | None = defaults.DEVICE) -> torch.device:
    """``"auto"`` (or None) -> CUDA if available, then Apple MPS, then CPU; else the named
    device, checked: ``InputError`` with one line when this machine or torch build lacks it."""
    import torch

    text = (name or "auto").strip()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise InputError(
            f"--device {text}: not a device (use auto, cpu, cuda, cuda:N or mps)"
        ) from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"--device {text}: no CUDA device is available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(
                f"--device {text}: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
        return device
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise InputError(f"--device {text}: Apple MPS is not available on this machine")
        return device
    raise InputError(f"--device {text}: not supported (use auto, cpu, cuda, cuda:N or mps)")


@functools.lru_cache(maxsize=4)
def _load_prepared_cached(path: Path, mtime_ns: int, device: str, given: Path) -> nn.Module:
    from alphagan.checkpoint import load_model
    from alphagan.inference import prepare_for_inference

    # ``path`` (resolved) keys the cache; ``given`` is what messages name, as the user wrote it
    return prepare_for_inference(load_model(given, map_location=device))


def load_prepared(model: str | os.PathLike[str] | None = None, device: str | None = None) -> nn.Module:
    """A shipped model's name or a weights file, loaded once per process (cached) and set up
    for inference (:func:`alphagan.inference.prepare_for_inference`), as the CLI runs it."""
    from alphagan.checkpoint import resolve_model

    from alphagan.files import resolved

    given = resolve_model(model)
    path = resolved(given)
    mtime = path.stat().st_mtime_ns if path.exists() else 0
    return _load_prepared_cached(path, mtime, str(pick_device(device)), given)


def trimap_for(
    image_shape: tuple[int, ...],
    trimap: ImageLike | None = None,
    mask: ImageLike | None = None,
    *,
    foreground_threshold: int | None = None,
    background_threshold: int | None = None,
    erode_size: int | None = None,
) -> np.ndarray:
    """The trimap to matte with: ``trimap`` read as it is, or ``mask`` turned into one by
    rembg's convention (:func:`alphagan.trimap.trimap_from_soft_mask`; the three options,
    None for the command line's defaults, :mod:`alphagan.defaults`). Exactly one must be
    given; its height and width must be the image's. Returns float32 HxW {0, 0.5, 1}.
    ``InputError`` also for a mask option given with a trimap (it would be ignored)."""
    from alphagan.trimap import trimap_from_soft_mask, unknown_mask

    if (trimap is None) == (mask is None):
        raise InputError("give either a trimap or a mask (exactly one)")
    given = {name: value for name, value in (("foreground_threshold", foreground_threshold),
                                             ("background_threshold", background_threshold),
                                             ("erode_size", erode_size)) if value is not None}
    if trimap is not None and given:
        raise InputError(f"{', '.join(given)}: only with a mask; a trimap is used as given")
    if trimap is not None:
        # The size is checked first: a wrong file is better named as such than as a trimap
        # that happens to have no grey pixel in it.
        result = to_trimap(trimap, require_unknown=False)
        what = "trimap"
    else:
        result = trimap_from_soft_mask(to_mask(mask), **given)  # type: ignore[arg-type]
        what = "mask"
    if result.shape != tuple(image_shape[:2]):
        raise InputError(
            f"{what} is {result.shape[1]}x{result.shape[0]} but the image is "
            f"{image_shape[1]}x{image_shape[0]} (width x height)"
        )
    if what == "trimap" and not unknown_mask(result).any():
        raise InputError("trimap: has no unknown (grey) pixels, nothing to matte")
    return result


def matte(
    image: ImageLike,
    trimap: ImageLike | None = None,
    *,
    mask: ImageLike | None = None,
    model: nn.Module | str | os.PathLike[str] | None = None,
    method: str = "alphagan",
    device: str | None = None,
    **options: Any,
) -> np.ndarray:
    """Estimate the alpha matte of one image: float32 HxW in [0, 1].

    Args:
        image: a path, a PIL image (any mode), or an HxWx3 / HxWx4 / HxW array: uint8,
            uint16, or float in [0, 1] (:func:`alphagan.convert.to_image`).
        trimap: a path, PIL image, uint8 0/128/255 or float {0, 0.5, 1} HxW array
            (:func:`alphagan.convert.to_trimap`); or give ``mask`` instead.
        mask: a soft or binary mask (grey, bool, or an RGBA file/array whose alpha channel is
            the mask, such as rembg writes) that becomes a trimap by rembg's convention;
            ``foreground_threshold`` (240), ``background_threshold`` (10) and
            ``erode_size`` (10) in ``options`` tune it.
        model: for ``method="alphagan"``: a generator (an ``nn.Module``, used as is), a
            shipped model's name or a ``.safetensors`` path (loaded once per process and
            prepared for inference as the CLI does); None: the shipped model.
        method: ``"alphagan"`` or a classical baseline: ``"cf"``, ``"knn"``, ``"lkm"``,
            ``"rw"``, ``"sm"`` (pymatting).
        device: where to load ``model`` when it is a name or path: ``"auto"`` (default:
            CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda:1"``, ...
        options: :func:`alphagan.predict_alpha`'s inference options (``region``, ``tta``,
            ``precision``, ``tile``, ``max_side``, ``pooling``, ``margin``, ``overlap``),
            defaulting to the command line's (:mod:`alphagan.defaults`); baselines take only
            ``max_side``.

    Returns:
        float32 HxW alpha in [0, 1], exactly 0 / 1 on the trimap's known pixels.

    Raises:
        ValueError: an input that cannot be read unambiguously (the message says what was
            given and what is expected), sizes that differ, a trimap or mask with no unknown
            pixel, an unknown method or option.
    """
    mask_options = {k: options.pop(k) for k in _MASK_OPTIONS if k in options}
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    pixels = to_image(image)
    levels = trimap_for(pixels.shape, trimap, mask, **mask_options)
    if method == "alphagan":
        from alphagan.inference import predict_alpha

        if model is None or isinstance(model, (str, os.PathLike)):
            model = load_prepared(model, device)
        return predict_alpha(model, pixels, levels, **options)
    from alphagan.baselines import estimate_alpha_baseline

    unknown = sorted(set(options) - {"max_side"})
    if unknown:
        raise InputError(
            f"method {method!r} takes only max_side, not {', '.join(unknown)}"
        )
    return estimate_alpha_baseline(method, pixels, levels, **options)
