"""Classical matting baselines from pymatting, with the package's array conventions."""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Iterator

import numpy as np

from alphagan.convert import ImageLike, to_image, to_trimap
from alphagan.errors import InputError
from alphagan.memory import check_baseline_memory
from alphagan.scaling import at_max_side
from alphagan.trimap import clamp_to_trimap, require_both_labels

__all__ = ["BASELINE_METHODS", "SOLVER_METHODS", "estimate_alpha_baseline", "run_solver",
           "solver_errors"]

# CLI name -> pymatting function name.
BASELINE_METHODS = {
    "cf": "estimate_alpha_cf",  # closed-form matting (Levin et al. 2008)
    "knn": "estimate_alpha_knn",  # KNN matting (Chen et al. 2013)
    "lkm": "estimate_alpha_lkm",  # large-kernel matting (He et al. 2010)
    "rw": "estimate_alpha_rw",  # random-walk matting (Grady et al. 2005)
    "sm": "estimate_alpha_sm",  # shared matting (Gastal and Oliveira 2010)
}

# pymatting function name -> CLI name (alphagan.prior and alphagan.memory use these names)
SOLVER_METHODS = {solver: method for method, solver in BASELINE_METHODS.items()}

_LKM_RADIUS = 10  # pymatting's default kernel radius for large-kernel matting

_QUIETED = threading.Lock()


def _quiet_pymatting() -> None:
    """Stop pymatting's incomplete Cholesky from printing to stdout, once per process.

    Its ``ichol`` prints a "PERFORMANCE WARNING" whenever the matting Laplacian needs a
    diagonal shift; it retries with the next shift by itself and the answer is unaffected,
    so the note says nothing to our users (and would mix into output they pipe on). A module
    global ``print`` in ``pymatting.preconditioner.ichol`` shadows the builtin there only.
    (Swapping the process-wide ``sys.stdout`` while a solve runs, as before, also swallowed
    whatever other threads printed meanwhile, e.g. ``alphagan serve``'s log lines.)
    """
    # the package re-exports the function under the submodule's name: import the module
    ichol_module = importlib.import_module("pymatting.preconditioner.ichol")
    with _QUIETED:
        if getattr(ichol_module, "print", None) is not _discard:
            ichol_module.print = _discard  # type: ignore[attr-defined]


def _discard(*args: object, **kwargs: object) -> None:
    """``print`` for pymatting's ichol module: the note goes nowhere (see _quiet_pymatting)."""


def run_solver(name: str, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """``pymatting.<name>(image, trimap)`` in float64, without pymatting's stdout notes
    (:func:`_quiet_pymatting`); a solve that fails raises ``InputError`` (:func:`solver_errors`).
    """
    import pymatting  # slow to import (numba); only when a solver actually runs

    _quiet_pymatting()
    with solver_errors(name, trimap.shape):
        return getattr(pymatting, name)(image.astype(np.float64), trimap.astype(np.float64))


@contextlib.contextmanager
def solver_errors(name: str, shape: tuple[int, ...]) -> Iterator[None]:
    """Turn a solver that does not converge into an ``InputError`` a user can act on, and
    keep NumPy's divide-by-zero warnings of the failing iterations (which say nothing to
    a user) quiet. It happens on images a few pixels wide or of one flat colour: their
    matting Laplacian is (nearly) zero, so conjugate gradients has nothing to follow."""
    with np.errstate(divide="ignore", invalid="ignore"):
        try:
            yield
        except ValueError as exc:
            method = SOLVER_METHODS.get(name, name)
            if "less than the number of neighbors" in str(exc):  # KNN matting's k-d tree
                raise InputError(
                    f"{method} matting needs at least 20 pixels (it joins each pixel to its 20 "
                    f"nearest neighbours); this image is {shape[1]}x{shape[0]}"
                ) from None
            if "did not converge" not in str(exc):
                raise
            raise InputError(
                f"{method} matting found no solution for this {shape[1]}x{shape[0]} image (its "
                f"solver did not converge): too small or too flat in colour around the "
                f"unknown pixels"
            ) from None


def estimate_alpha_baseline(
    method: str, image: ImageLike, trimap: ImageLike, *, max_side: int | None = None
) -> np.ndarray:
    """Alpha from a classical method -> float32 HxW in [0, 1].

    ``image`` and ``trimap`` in any form :mod:`alphagan.convert` reads (paths, PIL images,
    uint8/uint16/float arrays; trimaps 0/128/255 or {0, 0.5, 1}). ``max_side``: solve at a
    size whose longer side is that many pixels and upsample the alpha (these solvers need
    memory in proportion to the pixels). Known regions come back exactly 0/1 (as for the
    network), so the two compare fairly. Raises ``ValueError`` for inputs that cannot be read
    unambiguously, an unknown method, and an image the solver cannot hold in this machine's
    memory (the message suggests a ``max_side``); ``TrimapError`` (a ``ValueError``) for a
    trimap with unknown pixels but no known foreground or no known background.
    """
    if method not in BASELINE_METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(BASELINE_METHODS)}")
    image = to_image(image)
    trimap = to_trimap(trimap, require_unknown=False)
    if image.shape[:2] != trimap.shape:
        raise InputError(
            f"image is {image.shape[1]}x{image.shape[0]} but trimap is "
            f"{trimap.shape[1]}x{trimap.shape[0]} (width x height)"
        )
    if max_side is not None and max_side < 8:
        raise ValueError(f"max_side must be >= 8, got {max_side}")

    def solve(image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        if method == "lkm" and min(trimap.shape) < 4 * _LKM_RADIUS + 1:
            # pymatting's nested box filters would fail with a bare AssertionError deep inside
            raise ValueError(
                f"lkm needs an image of at least {4 * _LKM_RADIUS + 1} pixels a side"
            )
        check_baseline_memory(method, trimap.shape)
        return run_solver(BASELINE_METHODS[method], image, trimap)

    # pymatting's own message ("Trimap did not contain background values (values <=
    # 0.100000)") names neither the input nor the fix
    require_both_labels(trimap, "classical matting")

    return clamp_to_trimap(at_max_side(solve, image, trimap, max_side), trimap)
