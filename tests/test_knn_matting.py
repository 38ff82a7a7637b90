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


def test_pixel_pitch_of_a_square_image_is_pymattings_normalisation():
    """pymatting's coordinates are linspace(0, 1, W): a pitch of 1 / (W - 1) on a square image."""
    scene = make_example(60, 60, seed=5)
    image, trimap = scene.image.astype(np.float64), scene.trimap.astype(np.float64)
    default = estimate_alpha_knn(image, trimap)
    pitched = estimate_alpha_knn(image, trimap, pixel_pitch=1 / 59)
    np.testing.assert_allclose(pitched, default, rtol=0, atol=1e-9)


def test_a_large_pitch_makes_the_neighbours_spatial():
    """Colour distances (at most sqrt(3)) vanish next to a pitch of 100 (a pixel is 200 or
    10 feature units away): each search returns the k spatially nearest pixels, so the
    farthest one found is exactly as far as the k-th nearest pixel (brute force). With
    pymatting's normalisation over a 40-pixel image, a random-colour image's colour-nearest
    neighbours lie far away instead."""
    from alphagan.knn_matting import _neighbours

    rng = np.random.default_rng(0)
    image = rng.random((40, 40, 3))
    rows, cols = np.divmod(np.arange(1600), 40)
    distance = np.hypot(rows[:, None] - rows, cols[:, None] - cols)  # (N, N) in pixels
    spatial = _neighbours(image, (20, 10), (2.0, 0.1), pixel_pitch=100.0)
    assert [t.shape for t in spatial] == [(1600, 20), (1600, 10)]
    for found, k in ((spatial[0], 20), (spatial[1], 10)):
        kth = np.sort(distance, axis=1)[:, k - 1]
        farthest = np.take_along_axis(distance, found, axis=1).max(axis=1)
        np.testing.assert_allclose(farthest, kth, rtol=0, atol=1e-9)
    colour = _neighbours(image, (20, 10), (2.0, 0.1))
    assert np.take_along_axis(distance, colour[1], axis=1).max() > 10


def test_operator_applies_the_explicit_system():
    """The matrix-free product and diagonal the solver uses equal the explicit CSR matrix's
    (which the test above checks against pymatting's), on a real neighbour table and on a
    table with repeated pairs; the two searches' tables given apart or as one."""
    from alphagan.knn_matting import _neighbours, _operator

    scene = make_example(40, 48, seed=2)
    flat = scene.trimap.astype(np.float64).ravel()
    known = (flat >= 0.9) | (flat <= 0.1)
    rng = np.random.default_rng(0)
    repeated = np.array([[0, 1, 1], [1, 2, 0], [2, 2, 2]])  # pixel 2 lists itself 3 times
    searches = _neighbours(scene.image.astype(np.float64), (20, 10), (2.0, 0.1))
    for table, mask in ((searches, known), (np.concatenate(searches, axis=1), known),
                        (repeated, np.array([True, False, False]))):
        matrix = _system(table, mask, 100.0)
        apply, diagonal = _operator(table, mask, 100.0)
        np.testing.assert_allclose(diagonal, matrix.diagonal(), rtol=0, atol=1e-13)
        for _ in range(3):
            x = rng.normal(size=mask.size)
            np.testing.assert_allclose(apply(x), matrix @ x, rtol=1e-12, atol=1e-12)
