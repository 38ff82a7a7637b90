"""The numba kernel of :mod:`alphagan.knn_matting`, in its own module so that numba (a
dependency of pymatting) is imported only when a KNN solve runs, and the compiled kernel is
cached on disk (numba falls back to a per-user cache folder where the package's is read-only).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def symmetric_counts(neighbours: np.ndarray, x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out += (S + S^T) x`` for ``S[i, j]`` = how often j is listed in row i of the (N, K)
    neighbour table, in one pass over the table: row i gathers ``x`` at its neighbours, and
    each neighbour j receives ``x[i]`` (row j of ``S^T``). Returns ``out`` (N,) float64."""
    count, k = neighbours.shape
    for i in range(count):
        gathered = 0.0
        for c in range(k):
            j = neighbours[i, c]
            gathered += x[j]
            out[j] += x[i]
        out[i] += gathered
    return out
