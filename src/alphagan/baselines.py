"""Classical matting baselines from pymatting, with the package's array conventions."""

from __future__ import annotations

import numpy as np

from alphagan.trimap import clamp_to_trimap

__all__ = ["BASELINE_METHODS", "estimate_alpha_baseline"]

# CLI name -> pymatting function name.
BASELINE_METHODS = {
    "cf": "estimate_alpha_cf",  # closed-form matting (Levin et al. 2008)
    "knn": "estimate_alpha_knn",  # KNN matting (Chen et al. 2013)
    "lkm": "estimate_alpha_lkm",  # large-kernel matting (He et al. 2010)
    "rw": "estimate_alpha_rw",  # random-walk matting (Grady et al. 2005)
    "sm": "estimate_alpha_sm",  # shared matting (Gastal and Oliveira 2010)
}

_LKM_RADIUS = 10  # pymatting's default kernel radius for large-kernel matting


def estimate_alpha_baseline(method: str, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """Alpha from a classical method: image HxWx3 and trimap HxW {0,0.5,1} -> HxW in [0,1].

    Known regions come back exactly 0/1 (as for the network), so the two compare fairly.
    """
    if method not in BASELINE_METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(BASELINE_METHODS)}")
    if method == "lkm" and min(trimap.shape) < 4 * _LKM_RADIUS + 1:
        # pymatting's nested box filters would fail with a bare AssertionError deep inside
        raise ValueError(f"lkm needs an image of at least {4 * _LKM_RADIUS + 1} pixels a side")
    import pymatting  # slow to import (numba); only when a baseline actually runs

    fn = getattr(pymatting, BASELINE_METHODS[method])
    alpha = fn(image.astype(np.float64), trimap.astype(np.float64))
    return clamp_to_trimap(alpha, trimap)
