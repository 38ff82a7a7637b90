"""Classical alpha priors: closed-form / KNN mattes fed to the generator as extra channels.

Cho, Tai and Kweon (ECCV 2016, "Natural Image Matting Using Deep Convolutional Neural
Networks") gave a CNN the closed-form and KNN alphas next to the image and beat both on
alphamatting.com with training data of our size. Here the priors are solved by pymatting
(Levin et al. 2008, Chen et al. 2013; KNN through :mod:`alphagan.knn_matting`, pymatting's
alphas to 1e-14 without forming its matrix) at ``scale`` of the input's size (1 by default; at most
:data:`PRIOR_MAX_PIXELS`) and upsampled bilinearly. A smaller scale is much cheaper, but in
the cross-validation (MODEL_CARD.md) a network trained on half-size priors did not recover
what the smaller solve loses: the shipped model solves them at full size.

A generator with a prior predicts ``sigmoid(head + logit(mean prior))`` (``prior_head:
correction``) or a per-pixel convex combination ``softmax(head) . priors`` (``gate``): its head
starts at zero, so an untrained network returns the priors' mean (which alone is better than
either prior on the cross-validated alphamatting scenes) and training learns the correction
or the choice. At inference ``GeneratorConfig.prior_clip`` can clamp a correction to the
priors' range and ``prior_blend`` mix part of their mean back in; the shipped ensemble's
values (no clamp, blend 1) were chosen by nested cross-validation over three fine-tuned
seeds, the clamp part of the choice (``benchmarks.prior_blend --choose-clip``, MODEL_CARD.md).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from alphagan.baselines import SOLVER_METHODS, run_solver, solver_errors
from alphagan.knn_matting import estimate_alpha_knn
from alphagan.memory import BASELINE_BYTES_PER_PIXEL, available_memory
from alphagan.scaling import downscale_trimap
from alphagan.trimap import clamp_to_trimap, known_bg, known_fg, require_both_labels
from alphagan.trimap import unknown_mask

__all__ = ["PRIORS", "PRIOR_MAX_PIXELS", "prior_channels", "compute_prior", "check_prior",
           "solve_scale"]

# prior name -> pymatting solvers, in channel order
PRIORS: dict[str, tuple[str, ...]] = {
    "none": (),
    "cf": ("estimate_alpha_cf",),
    "cf+knn": ("estimate_alpha_cf", "estimate_alpha_knn"),
}

# Below this many pixels a side the downscaled solve is not worth it (and KNN's neighbour
# search needs a few pixels of each label): solve at full size.
_MIN_SIDE = 32

# Larger images get their prior solved at this many pixels and upsampled: the solvers' time
# and memory grow with the pixel count (KNN about 3.7 kB a pixel, alphagan.memory), so a
# 4K frame solved at full size would need about 30 GB. 1 MP is about 4 GB and 10-20 s here.
PRIOR_MAX_PIXELS = 1_000_000


def check_prior(name: str, scale: float) -> None:
    """Raise ``ValueError`` for an unknown prior name or a scale outside (0, 1]."""
    if name not in PRIORS:
        raise ValueError(f"unknown prior {name!r}; expected one of {', '.join(PRIORS)}")
    if not 0 < scale <= 1:
        raise ValueError(f"prior_scale must be in (0, 1], got {scale}")


def prior_channels(name: str) -> int:
    """How many input channels prior ``name`` adds (0 for ``"none"``)."""
    check_prior(name, 1.0)
    return len(PRIORS[name])


def solve_scale(shape: tuple[int, int], name: str, scale: float,
                max_pixels: int = PRIOR_MAX_PIXELS, available: int | None = None) -> float:
    """The scale the prior of an image of ``shape`` (H, W) is solved at: ``scale``, lowered so
    that at most ``max_pixels`` pixels are solved and the solvers fit in ``available`` bytes
    (default: this machine's available memory, :func:`alphagan.memory.available_memory`)."""
    height, width = shape
    pixels = height * width * scale * scale
    if pixels > max_pixels:
        scale *= (max_pixels / pixels) ** 0.5
    available = available_memory() if available is None else available
    if available is not None and PRIORS[name]:
        per_pixel = max(BASELINE_BYTES_PER_PIXEL[SOLVER_METHODS[s]] for s in PRIORS[name])
        need = per_pixel * height * width * scale * scale
        if need > 0.8 * available:  # keep room for the network and the outputs
            scale *= (0.8 * available / need) ** 0.5
    return scale


def compute_prior(image: np.ndarray, trimap: np.ndarray, name: str,
                  scale: float = 1.0, *, strict: bool = False,
                  knn_pixel_pitch: float | None = None,
                  concurrent: bool = False) -> np.ndarray:
    """The prior alphas of one image: (K, H, W) float32 in [0, 1], K = ``prior_channels(name)``.

    Args:
        image: (H, W, 3) float RGB in [0, 1].
        trimap: (H, W) float in {0, 0.5, 1} (0 background, 1 foreground, else unknown).
        name: ``"cf"`` or ``"cf+knn"`` (``"none"`` gives a (0, H, W) array).
        scale: solve at this fraction of the size (INTER_AREA image, the trimap by
            :func:`~alphagan.scaling.downscale_trimap`, which keeps thin unknown bands),
            then upsample bilinearly; 1 solves at full size. Lowered further for images
            above :data:`PRIOR_MAX_PIXELS` or beyond this machine's memory
            (:func:`solve_scale`).

    Every channel is exactly 0/1 on the known pixels. Trimaps the solvers cannot take are
    answered without them: no unknown pixel gives the trimap; only one known label gives
    that label everywhere (the closed-form solution then is that constant); no known pixel
    gives 0.5. That is what training crops need; ``strict=True`` (what prediction uses)
    instead raises ``TrimapError`` (an ``InputError``) for a trimap with unknown pixels but
    no known foreground or no known background: the priors, and so the model, would be a
    constant there.

    ``concurrent=True`` (what prediction uses) solves closed-form in a second thread while
    KNN runs, where the machine has more than one core and memory for both at once: their
    numba kernels release the GIL, and the result is the same as solving them in turn.
    Training leaves it off (its data workers already fill the cores).
    """
    check_prior(name, scale)
    height, width = trimap.shape
    solvers = PRIORS[name]
    out = np.empty((len(solvers), height, width), np.float32)
    if not solvers:
        return out
    fg, bg = known_fg(trimap).any(), known_bg(trimap).any()
    if strict:
        require_both_labels(trimap, "this model (its closed-form and KNN priors)")
    if not unknown_mask(trimap).any() or not (fg and bg):
        fill = 1.0 if fg else 0.0 if bg else 0.5
        out[:] = clamp_to_trimap(np.full((height, width), fill, np.float32), trimap)
        return out

    small_image, small_trimap = image, trimap
    scale = solve_scale((height, width), name, scale)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if scale < 1 and min(size) >= _MIN_SIDE:
        small_image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        small_trimap = downscale_trimap(trimap, size)
        if not (known_fg(small_trimap).any() and known_bg(small_trimap).any()
                and unknown_mask(small_trimap).any()):
            small_image, small_trimap = image, trimap  # a label vanished: solve at full size
    clipped = np.clip(small_image, 0.0, 1.0)

    def solve(solver: str) -> np.ndarray:
        if solver == "estimate_alpha_knn":  # the same alphas as pymatting's, sooner
            with solver_errors(solver, small_trimap.shape):
                # a downscaled solve's pixel stands for width / small width of the image's
                pitch = (None if knn_pixel_pitch is None
                         else knn_pixel_pitch * width / small_trimap.shape[1])
                return estimate_alpha_knn(clipped.astype(np.float64),
                                          small_trimap.astype(np.float64),
                                          pixel_pitch=pitch).astype(np.float32)
        return run_solver(solver, clipped, small_trimap).astype(np.float32)

    if concurrent and _fits_concurrently(solvers, small_trimap.size):
        # the last solver (KNN, whose k-d tree search is numba-parallel) stays in this thread:
        # numba's default threading layer must not launch parallel kernels from two threads
        with ThreadPoolExecutor(max_workers=1) as pool:
            others = [pool.submit(solve, solver) for solver in solvers[:-1]]
            last = solve(solvers[-1])
            alphas = [future.result() for future in others] + [last]
    else:
        alphas = [solve(solver) for solver in solvers]
    for k, alpha in enumerate(alphas):
        if alpha.shape != (height, width):
            alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)
        out[k] = clamp_to_trimap(np.clip(alpha, 0.0, 1.0), trimap)
    return out


def _usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS reports it, e.g.
    under ``taskset`` or a container's cpuset), not the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _fits_concurrently(solvers: tuple[str, ...], pixels: int) -> bool:
    """Whether solving ``solvers`` at once on ``pixels`` pixels is worth it (more than one
    core) and fits (the solvers' peak memory summed, within 80% of what is available)."""
    if len(solvers) < 2 or _usable_cores() < 2:
        return False
    available = available_memory()
    need = sum(BASELINE_BYTES_PER_PIXEL[SOLVER_METHODS[s]] for s in solvers) * pixels
    return available is None or need <= 0.8 * available
