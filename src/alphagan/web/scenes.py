"""Example scenes for the page: pictures the project makes itself, with their trimaps.

``furry-ball`` is the demo's scene (``alphagan.examples``); the others put a procedural
foreground from ``alphagan.synth`` (hair, glass, smoke, nets...) over the example's textured
background. All are deterministic and made on first request (well under a second each).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["SCENES", "scene_png"]

# name -> (title, seed of the synthetic foreground; None for the demo's own scene)
SCENES: dict[str, tuple[str, int | None]] = {
    "furry-ball": ("Furry ball (the demo scene)", None),
    "synthetic-1": ("Synthetic object 1", 1),
    "synthetic-2": ("Synthetic object 2", 2),
}

_SIZE = (480, 640)  # (H, W)


@lru_cache(maxsize=len(SCENES))
def _scene(name: str) -> tuple[np.ndarray, np.ndarray]:
    from alphagan.examples import make_example
    from alphagan.synth import synth_foreground
    from alphagan.trimap import trimap_from_alpha

    seed = SCENES[name][1]
    base = make_example(*_SIZE, seed=0 if seed is None else seed)
    if seed is None:
        return base.image, base.trimap
    fg, alpha = synth_foreground(np.random.default_rng(seed), _SIZE)
    a = alpha[..., None]
    image = (a * fg + (1 - a) * base.background).astype(np.float32)
    return image, trimap_from_alpha(alpha, erode=8, dilate=8)


def scene_png(name: str, kind: str) -> bytes:
    """PNG bytes of scene ``name``'s ``kind`` ("image" or "trimap"); KeyError if unknown."""
    from alphagan.io import encode_png
    from alphagan.trimap import trimap_to_uint8

    if name not in SCENES or kind not in ("image", "trimap"):
        raise KeyError(f"{name}/{kind}")
    image, trimap = _scene(name)
    return encode_png(image if kind == "image" else trimap_to_uint8(trimap))
