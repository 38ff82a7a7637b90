"""KNN matting (Chen, Li and Tang, TPAMI 2013) exactly as pymatting solves it, assembled faster.

pymatting's ``estimate_alpha_knn`` builds its KNN Laplacian from a list of (row, column)
pairs in COO form and then adds the trimap constraints as another sparse matrix: on an
800x500 photo that assembly (sorting ~24 M entries, twice) takes longer than the neighbour
search and the conjugate-gradient solve together. Here the matrix is never formed: every
pixel has the same number of neighbours, so each product with it is one pass over the
(N, K) neighbour table (a numba kernel), with the row normalisation and the constraint
diagonal applied to the result. The linear system, the neighbour
search (pymatting's k-d tree), the solver (pymatting's conjugate gradients, Jacobi
preconditioner) and their parameters are pymatting's own: the alphas agree with
``pymatting.estimate_alpha_knn`` to rounding (tests/test_knn_matting.py).

The system (pymatting ``knn_laplacian`` + ``make_linear_system``): ``W = S + S^T`` where
``S[i, j]`` counts j among the ``n_neighbors`` nearest neighbours of pixel i in the feature
space (r, g, b, w x, w y) (one search per (k, w) pair, coordinates in [0, 1]);
``L = I - D^-1 W`` with ``D`` the row sums of ``W``; solve ``(L + lambda C) alpha = lambda f``
with ``C`` the known pixels and ``f`` the known foreground.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse

__all__ = ["estimate_alpha_knn"]


def _neighbours(image: np.ndarray, n_neighbors: tuple[int, ...],
                distance_weights: tuple[float, ...],
                pixel_pitch: float | None = None) -> list[np.ndarray]:
    """One (H*W, k) int64 table per (k, weight) pair: the indices of each pixel's k nearest
    neighbours (itself included) from one k-d tree search, features built as pymatting does
    (``pixel_pitch``: see :func:`estimate_alpha_knn`). Kept apart, not concatenated, which
    would copy ~100 MB at 800x500 for nothing: the solver takes the list."""
    from pymatting.util.kdtree import knn  # numba: imported only when a solve runs

    height, width = image.shape[:2]
    count = height * width
    red, green, blue = image.reshape(-1, 3).T
    if pixel_pitch is None:  # pymatting: each axis spans [0, 1]
        x = np.tile(np.linspace(0, 1, width), height)
        y = np.repeat(np.linspace(0, 1, height), width)
    else:
        x = np.tile(np.arange(width) * pixel_pitch, height)
        y = np.repeat(np.arange(height) * pixel_pitch, width)
    found = []
    for k, weight in zip(n_neighbors, distance_weights):
        features = np.stack([red, green, blue, weight * x, weight * y], axis=1,
                            out=np.zeros((count, 5), dtype=np.float32))
        found.append(np.ascontiguousarray(knn(features, features, k=k)[1], np.int64))
    return found


def _table(neighbours: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """One (N, K) table from :func:`_neighbours`' list (or a table as it is)."""
    return np.concatenate(neighbours, axis=1) if isinstance(neighbours, list) else neighbours


def _system(neighbours: np.ndarray | list[np.ndarray], known: np.ndarray,
            lambda_value: float) -> scipy.sparse.csr_matrix:
    """``L + lambda C`` in CSR from the (N, K) neighbour table and the (N,) known mask: the
    explicit matrix, equal entry by entry to pymatting's; the solver uses :func:`_operator`,
    which applies the same matrix without forming it (the tests compare the two)."""
    neighbours = _table(neighbours)
    count, k = neighbours.shape
    columns = neighbours.ravel()
    pairs = scipy.sparse.csr_matrix(
        (np.ones(count * k), columns, np.arange(0, count * k + 1, k)), shape=(count, count))
    weights = (pairs + pairs.T.tocsr()).tocsr()  # sums repeated pairs, as COO -> CSR does
    weights.sum_duplicates()
    per_row = np.diff(weights.indptr)
    row_sums = k + np.bincount(columns, minlength=count)  # row i of S + S^T
    weights.data *= -np.repeat(1.0 / row_sums, per_row)  # -D^-1 W
    # every pixel is its own nearest neighbour, so each row already holds its diagonal entry
    rows = np.repeat(np.arange(count), per_row)
    on_diagonal = weights.indices == rows
    weights.data[on_diagonal] += 1.0 + lambda_value * known
    return weights


def _operator(neighbours: np.ndarray | list[np.ndarray], known: np.ndarray,
              lambda_value: float) -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray]:
    """``x -> (L + lambda C) x`` without forming ``W = S + S^T``, and the system's diagonal.

    Forming ``W`` in CSR (a transpose and a sum over ~12 M entries at 800x500) allocates
    ~0.5 GB and took 4.9 s of predict on GT01 in session 9's profile (scipy's ``csr_tocsc``
    and ``csr_plus_csr``), longer than the whole conjugate-gradient solve; one pass over the neighbour table per product
    (``alphagan._knn_kernel``, numba) costs about what a product with ``W`` costs. Same system as
    :func:`_system`; only the order of the floating-point sums differs.
    """
    from alphagan._knn_kernel import symmetric_counts

    tables = [np.ascontiguousarray(t) for t in
              (neighbours if isinstance(neighbours, list) else [neighbours])]
    count = tables[0].shape[0]
    # row i of S + S^T: its K entries, plus how often i is listed by other rows
    row_sums = sum(t.shape[1] + np.bincount(t.ravel(), minlength=count) for t in tables)
    inverse_row_sums = 1.0 / row_sums
    constraints = lambda_value * known
    # W's diagonal is 2 S_ii: S_ii counts the searches that list the pixel among its own
    # neighbours (each does: it is its own nearest neighbour)
    pixels = np.arange(count)[:, None]
    self_counts = sum((t == pixels).sum(axis=1) for t in tables)
    diagonal = 1.0 - 2.0 * self_counts * inverse_row_sums + constraints
    scratch = np.empty(count)

    def apply(x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, np.float64)
        scratch[:] = 0.0
        for table in tables:
            symmetric_counts(table, x, scratch)  # adds (S_t + S_t^T) x
        return x + constraints * x - scratch * inverse_row_sums

    return apply, diagonal


def estimate_alpha_knn(image: np.ndarray, trimap: np.ndarray, *,
                       n_neighbors: tuple[int, ...] = (20, 10),
                       distance_weights: tuple[float, ...] = (2.0, 0.1),
                       lambda_value: float = 100.0,
                       pixel_pitch: float | None = None) -> np.ndarray:
    """KNN matting alpha, (H, W) float64 in [0, 1], equal to ``pymatting.estimate_alpha_knn``.

    Args:
        image: (H, W, 3) float RGB in [0, 1].
        trimap: (H, W) float; >= 0.9 is known foreground, <= 0.1 known background
            (pymatting's ``trimap_split``), anything else unknown.
        n_neighbors, distance_weights, lambda_value: pymatting's defaults.
        pixel_pitch: the coordinate step between neighbouring pixels in the feature space.
            ``None`` (pymatting) spans [0, 1] along each axis, ``1 / (W - 1)`` across and
            ``1 / (H - 1)`` down, so how far apart two pixels look depends on the image's
            size. Training crops pass the pitch of the photos the model is used on, so
            that their prior has the character the full-photo prior has at inference.

    Raises ``ValueError`` (pymatting's solver) when conjugate gradients do not converge.
    """
    from pymatting.solver.cg import cg

    height, width = trimap.shape
    flat = trimap.ravel()
    foreground = flat >= 0.9
    known = foreground | (flat <= 0.1)
    neighbours = _neighbours(np.asarray(image, np.float64), n_neighbors, distance_weights,
                             pixel_pitch)
    system, diagonal = _operator(neighbours, known, lambda_value)
    inverse_diagonal = 1.0 / diagonal
    alpha = cg(system, lambda_value * foreground.astype(np.float64),
               M=lambda r: r * inverse_diagonal)
    return np.clip(alpha, 0, 1).reshape(height, width)
