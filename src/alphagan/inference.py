"""Run a generator on NumPy images: ``predict_alpha(model, image, trimap) -> alpha``."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from alphagan.trimap import known_bg, known_fg

__all__ = ["predict_alpha", "as_float_image", "check_pair"]


def as_float_image(array: np.ndarray, *, channels: int | None) -> np.ndarray:
    """uint8/uint16/float array -> float32 in [0,1]; ``channels`` None means 2-D (HxW)."""
    array = np.asarray(array)
    if channels is None and array.ndim != 2:
        raise ValueError(f"expected an HxW array, got shape {array.shape}")
    if channels is not None and (array.ndim != 3 or array.shape[2] != channels):
        raise ValueError(f"expected an HxWx{channels} array, got shape {array.shape}")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"expected a uint8, uint16 or float array, got {array.dtype}")
    return np.clip(array, 0.0, 1.0).astype(np.float32, copy=False)


def check_pair(image: np.ndarray, trimap: np.ndarray) -> None:
    """Raise ValueError unless image (H,W,3) and trimap (H,W) have the same H and W."""
    if image.shape[:2] != trimap.shape[:2]:
        raise ValueError(
            f"image is {image.shape[1]}x{image.shape[0]} but trimap is "
            f"{trimap.shape[1]}x{trimap.shape[0]} (width x height)"
        )


def predict_alpha(model: nn.Module, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """Estimate the alpha matte of one image.

    Args:
        model: a generator taking ``(image (1,3,H,W) in [0,1], trimap (1,1,H,W))``.
        image: HxWx3 RGB, float in [0,1] (uint8/uint16 are scaled).
        trimap: HxW in {0, 0.5, 1} (0 background, 1 foreground, 0.5 unknown).

    Returns:
        float32 HxW alpha in [0,1], exactly 0/1 in the known regions of the trimap.
        Any size works: the model pads internally, nothing is resized.
    """
    image = as_float_image(image, channels=3)
    trimap = np.asarray(trimap, dtype=np.float32)
    if trimap.ndim != 2:
        raise ValueError(f"expected an HxW trimap, got shape {trimap.shape}")
    check_pair(image, trimap)
    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
            t = torch.from_numpy(np.ascontiguousarray(trimap))[None, None]
            alpha = model(x.to(device), t.to(device))[0, 0].float().cpu().numpy()
    finally:
        model.train(was_training)
    alpha = np.clip(alpha, 0.0, 1.0)
    alpha[known_bg(trimap)] = 0.0
    alpha[known_fg(trimap)] = 1.0
    return alpha
