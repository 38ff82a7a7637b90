"""Classical baselines on real alphamatting.com images with user trimaps."""

from __future__ import annotations

import numpy as np
import pytest

from alphagan.baselines import BASELINE_METHODS, estimate_alpha_baseline
from alphagan.errors import InputError
from alphagan.io import read_alpha, read_image
from alphagan.metrics import sad
from alphagan.trimap import read_trimap, unknown_mask
from tests.helpers import ALPHAMATTING, requires_alphamatting


@requires_alphamatting
@pytest.mark.parametrize("stem", ["GT02", "GT25"])
def test_closed_form_on_real_photos(stem: str) -> None:
    image = read_image(ALPHAMATTING / "input_training_lowres" / f"{stem}.png")
    trimap = read_trimap(ALPHAMATTING / "trimap_training_lowres" / "Trimap1" / f"{stem}.png")
    gt = read_alpha(ALPHAMATTING / "gt_training_lowres" / f"{stem}.png")
    alpha = estimate_alpha_baseline("cf", image, trimap)
    unknown = unknown_mask(trimap)
    assert alpha.shape == gt.shape and alpha.dtype == np.float32
    assert (alpha[~unknown] == gt[~unknown].round()).mean() > 0.99
    # An uninformed guess (0.5 everywhere unknown) against the method: closed-form must
    # recover most of the matte, i.e. at least halve the guess's SAD (measured: about 1/2.6
    # on GT25, a hard translucent scene, and far less on GT02).
    guess = np.where(unknown, 0.5, alpha).astype(np.float32)
    assert sad(alpha, gt, trimap) < sad(guess, gt, trimap) / 2


@pytest.mark.parametrize("method", sorted(BASELINE_METHODS))
def test_every_method_recovers_a_synthetic_matte(method: str) -> None:
    # A horizontal soft edge between two flat colours: every method should find it
    # (KNN matting's sparse neighbourhoods smooth a linear ramp the least well).
    h, w = 48, 64
    ramp = np.clip((np.arange(w) - 20) / 24, 0, 1).astype(np.float32)
    alpha = np.broadcast_to(ramp, (h, w))
    fg, bg = np.array([0.9, 0.8, 0.1]), np.array([0.1, 0.2, 0.7])
    image = (alpha[..., None] * fg + (1 - alpha[..., None]) * bg).astype(np.float32)
    trimap = np.full((h, w), 0.5, np.float32)
    trimap[:, :12], trimap[:, 52:] = 0.0, 1.0
    est = estimate_alpha_baseline(method, image, trimap)
    assert np.abs(est - alpha).mean() < {"knn": 0.08}.get(method, 0.03), method


def test_unknown_method_and_too_small_images() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        estimate_alpha_baseline("magic", np.zeros((2, 2, 3)), np.zeros((2, 2)))
    trimap = np.full((16, 40), 0.5)
    trimap[:, 0], trimap[:, -1] = 0.0, 1.0
    with pytest.raises(ValueError, match="at least 41"):
        estimate_alpha_baseline("lkm", np.zeros((16, 40, 3)), trimap)
    with pytest.raises(ValueError, match=r"no known foreground \(white\) or background"):
        estimate_alpha_baseline("cf", np.zeros((16, 40, 3)), np.full((16, 40), 0.5))


def test_a_solver_that_does_not_converge_is_a_clear_input_error() -> None:
    """A 1x3 image: the closed-form Laplacian has no 3x3 window, conjugate gradients fails."""
    import warnings

    image = np.array([[[10, 20, 30], [40, 50, 60], [70, 80, 90]]], np.uint8)
    trimap = np.array([[0, 128, 255]], np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's divide-by-zero notes stay quiet
        with pytest.raises(InputError, match=r"cf matting found no solution for this 3x1 image"):
            estimate_alpha_baseline("cf", image, trimap)


def test_knn_on_fewer_than_20_pixels_is_a_clear_input_error() -> None:
    """KNN matting joins each pixel to 20 neighbours: a 3x3 image has 9 (pymatting's own
    message speaks of 'data points' and 'k')."""
    from alphagan.prior import compute_prior

    rng = np.random.default_rng(0)
    image = rng.random((3, 3, 3)).astype(np.float32)
    trimap = np.full((3, 3), 0.5, np.float32)
    trimap[0, 0], trimap[2, 2] = 0.0, 1.0
    with pytest.raises(InputError, match=r"knn matting needs at least 20 pixels .* is 3x3$"):
        estimate_alpha_baseline("knn", image, trimap)
    with pytest.raises(InputError, match=r"knn matting needs at least 20 pixels"):
        compute_prior(image, trimap, "cf+knn")


def test_pymatting_notes_are_silenced_without_swallowing_other_output(capsys) -> None:
    """pymatting's ichol prints a note for each diagonal shift it tries; after a solve through
    run_solver it prints nothing, while what another thread prints during a solve is kept
    (a process-wide stdout redirect used to swallow it, e.g. ``serve``'s log lines)."""
    import threading

    import pymatting
    import scipy.sparse

    from alphagan.baselines import run_solver

    rng = np.random.default_rng(0)
    image = rng.random((160, 160, 3))
    trimap = np.full((160, 160), 0.5)
    trimap[:40], trimap[-40:] = 0.0, 1.0
    solved: list[np.ndarray] = []
    worker = threading.Thread(
        target=lambda: solved.append(run_solver("estimate_alpha_cf", image, trimap)))
    worker.start()
    printed = 0
    while worker.is_alive() or printed < 3:
        print(f"line {printed}")
        printed += 1
    worker.join()
    assert solved and solved[0].shape == (160, 160)
    # indefinite: the shifts 0 .. 0.5 fail (one note each) before 1.0 succeeds
    pymatting.ichol(scipy.sparse.csc_matrix(np.array([[1.0, 2.0], [2.0, 1.0]])))
    out = capsys.readouterr().out
    assert out.splitlines() == [f"line {i}" for i in range(printed)]
