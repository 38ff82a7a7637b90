"""TEMPORARY stand-in for ``alphagan.matte`` / ``alphagan.load_model(None)`` (issue 10).

Deleted when that work is merged; it follows the promised contract closely enough for the
server and its tests to be built against it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from alphagan.errors import InputError


def load_model(name: str | None = None, device: str = "cpu") -> Any:
    from alphagan.checkpoint import default_checkpoint, load_model as _load
    from alphagan.inference import prepare_for_inference

    path = default_checkpoint() if name is None else name
    return prepare_for_inference(_load(path, map_location=device))


def _grey(img: Image.Image) -> np.ndarray:
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        return np.asarray(img.convert("RGBA"))[:, :, 3]
    return np.asarray(img.convert("L"))


def mask_trimap(mask: Image.Image, *, erode_size: int = 10, foreground_threshold: int = 240,
                background_threshold: int = 10) -> np.ndarray:
    import cv2

    m = _grey(mask)
    fg = m > foreground_threshold
    bg = m < background_threshold
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (erode_size, erode_size))
    fg = cv2.erode(fg.astype(np.uint8), k) > 0
    bg = cv2.erode(bg.astype(np.uint8), k) > 0
    tri = np.full(m.shape, 0.5, np.float32)
    tri[fg] = 1
    tri[bg] = 0
    if not (tri == 0.5).any():
        raise InputError("mask: gives no unknown pixels")
    return tri


def as_trimap(trimap: Image.Image) -> np.ndarray:
    from alphagan.trimap import trimap_from_array

    return trimap_from_array(np.asarray(trimap.convert("L")), name="trimap")


def as_image(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB")).astype(np.float32) / 255.0


def matte(image: np.ndarray, trimap: np.ndarray, *, model: Any = None,
          method: str = "alphagan") -> np.ndarray:
    if image.shape[:2] != trimap.shape:
        raise InputError(f"trimap is {trimap.shape[1]}x{trimap.shape[0]} but the image is "
                         f"{image.shape[1]}x{image.shape[0]}")
    if method == "alphagan":
        from alphagan.inference import predict_alpha

        return predict_alpha(model, image, trimap, region="unknown", tta="flip")
    from alphagan.baselines import estimate_alpha_baseline

    return estimate_alpha_baseline(method, image, trimap)
