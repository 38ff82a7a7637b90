"""alphagan.knn_matting: the same KNN matting system as pymatting's, assembled directly."""

from __future__ import annotations

import numpy as np
import pytest

from alphagan.examples import make_example
from alphagan.knn_matting import _system, estimate_alpha_knn

pymatting = pytest.importorskip("pymatting", reason="the reference is pymatting's KNN matting")


def test_alpha_equals_pymatting_on_a_scene():
    scene = make_example(60, 84, seed=5)
    image, trimap = scene.image, scene.trimap
    ours = estimate_alpha_knn(image.astype(np.float64), trimap.astype(np.float64))
    reference = pymatting.estimate_alpha_knn(image.astype(np.float64), trimap.astype(np.float64))
    assert ours.shape == trimap.shape and ours.dtype == np.float64
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12)


def test_system_equals_pymatting_laplacian_plus_constraints():
    """The matrix itself, entry by entry: L + lambda C from pymatting's own functions."""
    from pymatting.laplacian.knn_laplacian import knn_laplacian
    from pymatting.laplacian.laplacian import make_linear_system

    from alphagan.knn_matting import _neighbours

    scene = make_example(40, 48, seed=1)
    image = scene.image.astype(np.float64)
    trimap = scene.trimap.astype(np.float64)
    flat = trimap.ravel()
    known = (flat >= 0.9) | (flat <= 0.1)
    ours = _system(_neighbours(image, (20, 10), (2.0, 0.1)), known, 100.0)
    reference, _ = make_linear_system(knn_laplacian(image), trimap)
    assert abs(ours - reference).max() < 1e-14


def test_hand_computed_system():
    """Two neighbours per pixel on a 1x3 image: W = S + S^T, L = I - D^-1 W, + lambda on known."""
    neighbours = np.array([[0, 1], [1, 2], [2, 1]])  # each pixel itself, then one other
    known = np.array([True, False, True])
    system = _system(neighbours, known, 100.0).toarray()
    # S = [[1,1,0],[0,1,1],[0,1,1]]; W = S + S^T = [[2,1,0],[1,2,2],[0,2,2]]; row sums 3, 5, 4
    weights = np.array([[2, 1, 0], [1, 2, 2], [0, 2, 2]], float)
    expected = np.eye(3) - weights / np.array([3, 5, 4.0])[:, None] + np.diag([100, 0, 100.0])
    np.testing.assert_allclose(system, expected, rtol=0, atol=1e-15)
