"""Run a generator on NumPy images: ``predict_alpha(model, image, trimap) -> alpha``.

Options for speed and memory; their defaults are :mod:`alphagan.defaults` (the CLI's):

- ``region="unknown"`` (default): run only on the bounding box of the unknown pixels plus a
  margin of :func:`alphagan.tiling.context_radius` pixels (known pixels need no network);
  ``"full"``: the whole image;
- ``tile=N``: overlapping N-pixel tiles with feathered blending, so memory stays bounded
  (default ``"auto"``: tiles only for regions above 4 megapixels);
- ``max_side=N``: predict at a reduced size and upsample the alpha;
- ``precision="bf16"``: bfloat16 autocast;
- ``tta="flip"`` (default): average with the mirror image's prediction; ``"none"``: one pass.

:func:`prepare_for_inference` (BatchNorm folding, channels-last) and :func:`set_threads` make
the CPU path faster without changing results beyond float32 rounding.
"""

from __future__ import annotations

import copy
import threading
import warnings
import weakref
from typing import Literal

import cv2
import numpy as np
import torch
from torch import nn

from alphagan import defaults
from alphagan.convert import ImageLike, to_image, to_trimap
from alphagan.models.fuse import fold_batchnorm
from alphagan.models.ensemble import members_of
from alphagan.models.generator import AlphaGANGenerator
from alphagan.prior import compute_prior
from alphagan.scaling import at_max_side
from alphagan.tiling import (
    ALIGN,
    Runner,
    Window,
    auto_tile,
    blend_tiles,
    context_radius,
    has_global_pooling,
    override_pooled_mean,
    pooled_mean,
    tile_spans,
    unknown_window,
)
from alphagan.trimap import clamp_to_trimap, unknown_mask

__all__ = [
    "Precision",
    "Region",
    "Pooling",
    "Augment",
    "predict_alpha",
    "prepare_for_inference",
    "set_threads",
    "default_overlap",
    "min_tile",
    "check_pair",
    "model_prior",
]

Precision = Literal["fp32", "bf16"]
Region = Literal["full", "unknown"]
Pooling = Literal["region", "image"]
Augment = Literal["none", "flip"]


def check_pair(image: np.ndarray, trimap: np.ndarray) -> None:
    """Raise ValueError unless image (H,W,3) and trimap (H,W) have the same H and W."""
    if image.shape[:2] != trimap.shape[:2]:
        raise ValueError(
            f"image is {image.shape[1]}x{image.shape[0]} but trimap is "
            f"{trimap.shape[1]}x{trimap.shape[0]} (width x height)"
        )


def prepare_for_inference(
    model: nn.Module, *, channels_last: bool = True, fold_bn: bool = True
) -> nn.Module:
    """A copy of ``model`` set up for fast inference; ``model`` itself is not modified.

    Eval mode; BatchNorm folded into the preceding convolutions (:func:`fold_batchnorm`,
    outputs equal up to float32 rounding); weights in channels-last layout, which oneDNN's
    convolutions run faster on CPU (and tensor cores on GPU).
    """
    model = copy.deepcopy(model).eval()
    if fold_bn:
        model = fold_batchnorm(model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def set_threads(n: int) -> None:
    """Use ``n`` threads for PyTorch's intra-op parallelism and for OpenCV (process-wide)."""
    if n < 1:
        raise ValueError(f"thread count must be >= 1, got {n}")
    torch.set_num_threads(n)
    cv2.setNumThreads(n)


def default_overlap(tile: int) -> int:
    """Overlap used when ``tile`` is given without ``overlap``: a quarter of the tile,
    rounded down to a multiple of 8."""
    return tile // 4 // ALIGN * ALIGN


def min_tile(model: nn.Module) -> int:
    """The smallest tile side ``predict_alpha`` uses with ``model``: twice its context radius
    (:func:`~alphagan.tiling.context_radius`), rounded up to a multiple of 8, at least 64.

    Below it a tile's centre no longer sees the context the network was trained with on either
    side, and the blended matte differs visibly from the untiled one. An ensemble's is its
    members'; models other than :class:`AlphaGANGenerator` (unknown radius) get 64.
    """
    model = members_of(model)[0]  # an ensemble's members share one architecture
    config = getattr(model, "config", None)
    if not isinstance(model, AlphaGANGenerator) or config is None:
        return 64
    return max(64, -(-2 * context_radius(config) // ALIGN) * ALIGN)


def predict_alpha(
    model: nn.Module,
    image: ImageLike,
    trimap: ImageLike,
    *,
    precision: Precision = defaults.PRECISION,  # type: ignore[assignment]
    region: Region = defaults.REGION,  # type: ignore[assignment]
    margin: int | None = None,
    pooling: Pooling = defaults.POOLING,  # type: ignore[assignment]
    tile: int | Literal["auto"] | None = defaults.TILE,  # type: ignore[assignment]
    overlap: int | None = None,
    max_side: int | None = defaults.MAX_SIDE,
    tta: Augment = defaults.TTA,  # type: ignore[assignment]
) -> np.ndarray:
    """Estimate the alpha matte of one image. Defaults are the CLI's (:mod:`alphagan.defaults`).

    Args:
        model: a generator taking ``(image (1,3,H,W) in [0,1], trimap (1,1,H,W))``; run in
            eval mode (its mode is restored afterwards) on the device of its parameters. A
            :class:`~alphagan.models.GeneratorEnsemble` gives the mean of its members'
            alphas, each computed as for a single generator (the prior solved once).
        image: anything :func:`alphagan.convert.to_image` reads: a path, a PIL image, or an
            HxWx3 / HxWx4 / HxW array, uint8, uint16 or float in [0,1].
        trimap: anything :func:`alphagan.convert.to_trimap` reads: a path, a PIL image, a
            uint8 0/128/255 or float {0, 0.5, 1} HxW array (0 background, 1 foreground,
            grey unknown). A trimap without unknown pixels is allowed (the result is it).
        precision: ``"bf16"`` runs under bfloat16 autocast (fast on CPUs with AVX512-BF16 or
            AMX and on recent GPUs, slow elsewhere); the alpha is returned as float32.
            Measured with the shipped model on the 18 alphamatting scenes in ../shared x 2
            trimaps (``python -m benchmarks.run --only precision``): mean SAD 5.0697 ->
            5.0695 (-0.003%), mean |difference| over the unknown pixels 1.3e-3.
        region: ``"unknown"`` (default) runs the network only on the bounding box of the unknown pixels
            grown by ``margin`` and aligned to multiples of 8; pixels outside are known and
            set to 0/1 without the network. No unknown pixel: the network does not run.
        margin: context kept around the unknown pixels; None is the model's
            :func:`~alphagan.tiling.context_radius` (needs an :class:`AlphaGANGenerator` or an
            ensemble of them).
            With that margin the crop's convolutions see exactly what the full-image run sees
            (for BatchNorm models; GroupNorm's statistics span the whole input, like pooling).
        pooling: what the ASPP image-pooling branch averages when the network runs on part
            of the image. That branch is a *global* average of the encoder output, so no
            finite margin makes a crop exact by itself. ``"image"`` (default): the whole
            image's average, from an extra encoder-only pass over the image; with the default
            margin ``region="unknown"`` then equals ``"full"`` up to float32 rounding
            (measured 5.8e-7 on a 1920x1080 frame, ``python -m benchmarks.run --only region``)
            and still saves time roughly in proportion to the area it skips (there: a window
            of 30% of the frame, 0.63 s against 1.30). ``"region"``: the average over the crop
            that ``region`` selects (no extra pass). An approximation for
            ``region="unknown"``: small on the alphamatting scenes (with an earlier version of
            the shipped model, mean |difference| over the unknown pixels <= 2.3e-4 on the 4
            validation images x 2 trimaps), but up to 0.42 at single pixels with the shipped
            model on that 1920x1080 frame, which is mostly flat background (same command;
            0.29 s there).
        tile: ``None`` or ``"off"``: no tiles. Otherwise run the region in overlapping tiles
            of this side (rounded down to a multiple of 8) when it is larger; a side below
            :func:`min_tile` (twice the model's context radius: 464 for the shipped model) is
            raised to it with a ``UserWarning``; the outer quarter of every overlap is dropped
            and the middle half cross-faded linearly (:func:`~alphagan.tiling.feather`).
            ``"auto"``: 1024 for regions above 4 megapixels
            (:func:`~alphagan.tiling.auto_tile`), else none. With a pooling branch, tiling
            adds an encoder-only pass so every tile sees the whole region's pooled mean.
        overlap: tile overlap in pixels (multiple of 8); default a quarter of the tile.
        max_side: if the image's longer side exceeds this, predict on a copy resized to it
            (INTER_AREA image, trimap by :func:`~alphagan.scaling.downscale_trimap`, which
            keeps thin unknown bands), clamp that small alpha to the small trimap, upsample it
            bilinearly and clamp again to the full trimap.
        tta: test-time augmentation. ``"flip"`` (default): the mean of the predictions for the image
            and its left-right mirror (twice the time; measured with the shipped model on the
            4 held-out alphamatting scenes x 2 trimaps: mean SAD 7.75 -> 7.35, Grad
            10.54 -> 9.75, ``python -m benchmarks.model_card --methods
            alphagan,alphagan-1pass``). ``"none"``: one pass.

    Returns:
        float32 HxW alpha in [0,1], exactly 0/1 in the known regions of the (full-size)
        trimap. Any size works: the model pads internally, nothing is resized unless
        ``max_side`` says so.

    Raises:
        ValueError: an input that cannot be read unambiguously (see :mod:`alphagan.convert`),
            sizes that differ, an unknown option value, or (for a model with classical
            priors) a trimap with unknown pixels but no known foreground or background.
    """
    image = to_image(image)
    trimap = to_trimap(trimap, require_unknown=False)
    check_pair(image, trimap)
    if tile == "off":
        tile = None
    _check_choice("precision", precision, ("fp32", "bf16"))
    _check_choice("region", region, ("full", "unknown"))
    _check_choice("pooling", pooling, ("region", "image"))
    _check_choice("tta", tta, ("none", "flip"))
    if max_side is not None and max_side < ALIGN:
        raise ValueError(f"max_side must be >= {ALIGN}, got {max_side}")
    if isinstance(tile, int) and not isinstance(tile, bool):
        smallest = min_tile(model)
        if tile < smallest:
            warnings.warn(f"tile={tile} is below this model's minimum of {smallest} pixels "
                          f"(twice its context radius); using {smallest}", stacklevel=2)
            tile = smallest

    def infer(image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        options = dict(precision=precision, region=region, margin=margin, pooling=pooling,
                       tile=tile, overlap=overlap)
        # Solved once on the whole (possibly downscaled) image, before any crop or tile: the
        # classical solvers are global, the network's crops are not.
        prior = model_prior(model, image, trimap)
        # An ensemble's members run one by one through the single-network path (crops,
        # tiles, the pooling override), and their alphas are averaged.
        networks = members_of(model)
        alpha = np.zeros(trimap.shape, np.float32)
        for network in networks:
            alpha += _predict(network, image, trimap, prior, **options)
            if tta == "flip":
                # .copy(), not ascontiguousarray: for a one-pixel-wide image the reversed view
                # counts as contiguous yet keeps its negative stride, which torch refuses.
                mirrored = _predict(network, image[:, ::-1].copy(), trimap[:, ::-1].copy(),
                                    None if prior is None else prior[:, :, ::-1].copy(),
                                    **options)
                alpha += mirrored[:, ::-1]
        return alpha / (len(networks) * (2 if tta == "flip" else 1))

    return clamp_to_trimap(at_max_side(infer, image, trimap, max_side), trimap)


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def model_prior(model: nn.Module, image: np.ndarray, trimap: np.ndarray) -> np.ndarray | None:
    """The classical prior ``model`` takes (:mod:`alphagan.prior`), (K,H,W) float32, or None
    for a model without one. Raises ``InputError`` for a trimap with unknown pixels but no
    known foreground or background (the priors would be a constant)."""
    config = getattr(model, "config", None)
    name = getattr(config, "prior", "none")
    if name == "none":
        return None
    return compute_prior(image, trimap, name, config.prior_scale, strict=True, concurrent=True)


def _predict(
    model: nn.Module,
    image: np.ndarray,
    trimap: np.ndarray,
    prior: np.ndarray | None,
    *,
    precision: Precision,
    region: Region,
    margin: int | None,
    pooling: Pooling,
    tile: int | Literal["auto"] | None,
    overlap: int | None,
) -> np.ndarray:
    """The unclamped alpha (HxW float32); zeros outside the window the network ran on."""
    height, width = trimap.shape
    full = Window(0, height, 0, width)
    if region == "full":
        window: Window | None = full
    else:
        if margin is None:
            margin = _model_margin(model)
        window = unknown_window(unknown_mask(trimap), margin)
    alpha = np.zeros((height, width), np.float32)
    if window is None:
        return alpha  # nothing unknown: the clamp fills everything

    rows, cols, blend = _layout(window, tile, overlap)
    tiled = len(rows) * len(cols) > 1
    extent = full if pooling == "image" else window
    needs_mean = has_global_pooling(model) and (tiled or extent != window)

    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]  # (1,3,H,W)
    t = torch.from_numpy(np.ascontiguousarray(trimap))[None, None]  # (1,1,H,W)
    if prior is not None:
        # The prior rides along as extra trimap channels: crops and tiles slice both alike,
        # and the runner splits them again.
        t = torch.cat([t, torch.from_numpy(np.ascontiguousarray(prior))[None]], dim=1)
    # One thread at a time per model: the pooled-mean hook, its override and eval() all
    # change the shared module during the call (another thread's forward would run into this
    # one's hook and mix their features).
    with _model_lock(model):
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                run = _runner(model, precision)
                mean = None
                if needs_mean:
                    e_rows, e_cols, _ = _layout(extent, tile, overlap)
                    ys, xs = extent.slices
                    mean = pooled_mean(model, run, x[..., ys, xs], t[..., ys, xs], e_rows, e_cols)
                ys, xs = window.slices
                with override_pooled_mean(model, mean):
                    if tiled:
                        part = blend_tiles(run, x[..., ys, xs], t[..., ys, xs], rows, cols,
                                           overlap=blend)
                    else:
                        part = run(x[..., ys, xs], t[..., ys, xs])
        finally:
            model.train(was_training)
    alpha[ys, xs] = part.numpy()
    return alpha


_MODEL_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.Lock] = weakref.WeakKeyDictionary()
_MODEL_LOCKS_GUARD = threading.Lock()


def _model_lock(model: nn.Module) -> threading.Lock:
    """The lock that serialises inference on ``model`` (made on first use, dropped with it)."""
    with _MODEL_LOCKS_GUARD:
        lock = _MODEL_LOCKS.get(model)
        if lock is None:
            lock = _MODEL_LOCKS[model] = threading.Lock()
        return lock


def _model_margin(model: nn.Module) -> int:
    config = getattr(model, "config", None)
    if not isinstance(model, AlphaGANGenerator) or config is None:
        raise ValueError(
            f"region='unknown' needs margin= for a {type(model).__name__} (the context radius "
            f"is known only for AlphaGANGenerator)"
        )
    return context_radius(config)


def _layout(
    window: Window, tile: int | Literal["auto"] | None, overlap: int | None
) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int]:
    """Row spans, column spans and overlap of the tiles covering ``window``."""
    height, width = window.shape
    side = auto_tile(height, width) if tile == "auto" else tile
    if side is None:
        return [(0, height)], [(0, width)], 0
    if side < 64:
        raise ValueError(f"tile must be at least 64 pixels, got {side}")
    side = side // ALIGN * ALIGN
    overlap = default_overlap(side) if overlap is None else overlap
    if overlap % ALIGN or not 0 <= overlap <= side // 2:
        raise ValueError(
            f"overlap must be a multiple of {ALIGN} between 0 and half the tile ({side}); "
            f"got {overlap}"
        )
    return tile_spans(height, side, overlap), tile_spans(width, side, overlap), overlap


def _runner(model: nn.Module, precision: Precision) -> Runner:
    """``run(image (1,3,h,w), trimap (1,1,h,w)) -> alpha (h,w)`` float32 on the CPU."""
    params = [p for p in model.parameters()]
    device = params[0].device if params else torch.device("cpu")
    # A model converted with prepare_for_inference keeps channels-last 4-D weights; feeding it
    # channels-last inputs avoids a layout conversion at the first convolution.
    channels_last = any(
        p.ndim == 4 and not p.is_contiguous() and p.is_contiguous(memory_format=torch.channels_last)
        for p in params
    )
    layout = torch.channels_last if channels_last else torch.contiguous_format

    def run(image: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
        """``trimap`` (1,1+K,h,w): the trimap, then the K prior channels of a prior model."""
        image = image.to(device).contiguous(memory_format=layout)
        trimap = trimap.to(device).contiguous(memory_format=layout)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            if trimap.shape[1] > 1:
                alpha = model(image, trimap[:, :1], trimap[:, 1:])
            else:
                alpha = model(image, trimap)
        return alpha[0, 0].float().cpu()

    return run
