"""Running the generator on part of an image: context radius, crop windows, blended tiles.

Why a crop can equal the full-image run
---------------------------------------
An output pixel of :class:`~alphagan.models.AlphaGANGenerator` depends on the input pixels
within :func:`context_radius` of it, *except* through the ASPP image-pooling branch, which
averages the encoder output over the whole input. Run on a window whose sides are multiples of
8 in absolute image coordinates (so every stride-2 layer samples the same grid as the
full-image run) and that extends at least ``context_radius`` beyond the pixels kept, the
network computes the same values there as on the full image, provided the pooling branch is
given the same mean. :func:`pooled_mean` computes that mean for any extent, tile by tile, and
:func:`override_pooled_mean` injects it.

Tiles
-----
Large inputs run in overlapping tiles (:func:`tile_spans`) blended with weights that are 0 in
the outer quarter of the overlap and ramp linearly to 1 across its middle half, at every edge
shared with another tile (:func:`feather`, :func:`blend_tiles`). A tile computes exact values
only farther than the context radius from its interior edges, which would cost too much
overlap (the radius is 406 pixels for the paper's model); the error decays well before that,
and the blending keeps each tile's outer pixels out and hides what differs. Each tile sees
the pooled mean of the whole extent being tiled (one extra encoder-only pass), so tiling
changes no global quantity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from alphagan.models.aspp import ASPP, ASPPPooling
from alphagan.models.generator import GeneratorConfig

__all__ = [
    "ALIGN",
    "AUTO_TILE",
    "AUTO_TILE_PIXELS",
    "Window",
    "context_radius",
    "unknown_window",
    "auto_tile",
    "tile_spans",
    "feather",
    "blend_tiles",
    "has_global_pooling",
    "pooled_mean",
    "override_pooled_mean",
]

ALIGN = 8  # the generator's output stride: windows start on multiples of it
AUTO_TILE = 1024  # tile side chosen by ``tile="auto"``
AUTO_TILE_PIXELS = 2048 * 2048  # ``tile="auto"`` tiles windows with more pixels than this

# image part (1,3,h,w), trimap part (1,1,h,w) -> alpha (h, w) float32 on the CPU
Runner = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Span = tuple[int, int]


class Window(NamedTuple):
    """Rows ``y0:y1`` and columns ``x0:x1`` of an image."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0


def context_radius(config: GeneratorConfig) -> int:
    """Pixels of input context an output pixel depends on, ignoring the global pooling.

    Propagates each output pixel's dependency interval back through every layer of the
    generator (convolution kernels, strides and dilations, the max-pool and its indices, the
    bilinear and transposed-convolution upsampling, every skip connection) for the 8 phases of
    the stride-8 grid and returns the largest distance. It equals the measured gradient
    footprint of the test configs (tests/test_inference_fast.py). 406 for the paper's model
    (ResNet-50, dilations 2/4, ASPP rates 6/12/18), 230 for ``configs/alphagan_light.yaml``.

    Models with GroupNorm or InstanceNorm also take statistics over the whole input, like the
    pooling branch; for them a crop or a tile is never exact.
    """
    stem, layer1, layer4, unpool_cells = _encoder_spans(config)

    def aspp(iv: Span) -> Span:
        return layer4(_grow(iv, max(config.aspp_rates, default=0)))

    def decode4(iv: Span) -> Span:  # two 3x3 convs on [bilinear x2 (aspp), 1x1 (layer1)]
        lo, hi = _grow(iv, 2)
        # align_corners=False, scale 2: output j samples (j + 0.5) / 2 - 0.5 and its neighbour
        up = (math.floor((lo + 0.5) / 2 - 0.5), math.floor((hi + 0.5) / 2 - 0.5) + 1)
        return _hull(aspp(up), layer1((lo, hi)))

    def unpooled(iv: Span) -> Span:  # the pooled cells that can land on half-res pixels iv
        cells, window = unpool_cells(iv)
        return _hull(decode4(cells), stem(window))

    def decode2(iv: Span) -> Span:  # 3x3 conv on [unpooled, 1x1 (stem)]
        iv = _grow(iv, 1)
        return _hull(unpooled(iv), stem(iv))

    def output(iv: Span) -> Span:  # transposed conv 4x4 stride 2 pad 1, final 3x3 convs, head
        lo, hi = _grow(iv, config.final_convs + 1)
        deps = decode2((math.ceil((lo - 2) / 2), (hi + 1) // 2))
        return _hull(deps, (lo, hi)) if config.image_skip else deps

    radius = 0
    for p in range(64 * ALIGN, 65 * ALIGN):  # one period of the stride-8 grid, far from 0
        lo, hi = output((p, p))
        radius = max(radius, p - lo, hi - p)
    return radius


def _encoder_spans(config: GeneratorConfig) -> tuple[Callable[[Span], Span], ...]:
    """Back-propagation of intervals through the encoder ``config.encoder`` names.

    Returns ``stem``, ``layer1`` and ``out`` (each: feature interval -> input interval) and
    ``unpool_cells`` (half-resolution interval -> (pooled cells that can unpool onto it, the
    stem pixels whose max decided those cells' indices)).
    """
    if config.encoder != "resnet":
        from alphagan.models.efficientnet import lite_input_span, lite_stages

        stages = lite_stages(config.encoder)

        def lite(level: str) -> Callable[[Span], Span]:
            return lambda iv: lite_input_span(stages, config.dilations, iv, level)

        def lite_cells(iv: Span) -> tuple[Span, Span]:  # 2x2 pool: pixel q is in cell q // 2
            lo, hi = iv[0] // 2, iv[1] // 2
            return (lo, hi), (2 * lo, 2 * hi + 1)

        return lite("stem"), lite("layer1"), lite("out"), lite_cells

    n1, n2, n3, n4 = config.encoder_layers
    d3, d4 = config.dilations

    def stem(iv: Span) -> Span:  # conv1 7x7 stride 2 pad 3
        return _conv_back(iv, 7, stride=2)

    def layer1(iv: Span) -> Span:  # max-pool 3x3 stride 2 pad 1, then n1 bottlenecks (a 3x3 each)
        return stem(_conv_back(_grow(iv, n1), 3, stride=2))

    def layer4(iv: Span) -> Span:  # layer2's first 3x3 has stride 2; layer3/4 are dilated
        iv = _grow(iv, (n2 - 1) + n3 * d3 + n4 * d4)
        return layer1(_conv_back(iv, 3, stride=2))

    def cells(iv: Span) -> tuple[Span, Span]:  # 3x3 pool: pixel q is in cells (q +- 1) / 2
        lo, hi = math.ceil((iv[0] - 1) / 2), (iv[1] + 1) // 2
        return (lo, hi), (2 * lo - 1, 2 * hi + 1)

    return stem, layer1, layer4, cells


def _conv_back(iv: Span, kernel: int, *, stride: int = 1, dilation: int = 1) -> Span:
    pad = dilation * (kernel - 1) // 2
    return iv[0] * stride - pad, iv[1] * stride - pad + dilation * (kernel - 1)


def _grow(iv: Span, r: int) -> Span:
    return iv[0] - r, iv[1] + r


def _hull(a: Span, b: Span) -> Span:
    return min(a[0], b[0]), max(a[1], b[1])


def unknown_window(unknown: np.ndarray, margin: int) -> Window | None:
    """The bounding box of ``unknown`` (bool HxW) grown by ``margin``, aligned to 8.

    The start is rounded down and the end up to multiples of :data:`ALIGN` (or clipped to the
    image), so strided layers see the full-image grid and an interior edge needs no padding.
    A window ending at the image's last row keeps at least 8 rows so the generator pads it
    the same way (reflection) as the full image. None when nothing is unknown.
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    rows, cols = np.any(unknown, axis=1), np.any(unknown, axis=0)
    if not rows.any():
        return None
    y0, y1 = _aligned_span(np.flatnonzero(rows), margin, unknown.shape[0])
    x0, x1 = _aligned_span(np.flatnonzero(cols), margin, unknown.shape[1])
    return Window(y0, y1, x0, x1)


def _aligned_span(index: np.ndarray, margin: int, size: int) -> Span:
    start = max(0, (int(index[0]) - margin) // ALIGN * ALIGN)
    end = min(size, -(-(int(index[-1]) + 1 + margin) // ALIGN) * ALIGN)
    if end == size:
        start = min(start, max(0, (size - ALIGN) // ALIGN * ALIGN))
    return start, end


def auto_tile(height: int, width: int) -> int | None:
    """The tile side ``tile="auto"`` uses: :data:`AUTO_TILE` above :data:`AUTO_TILE_PIXELS`.

    About 4 megapixels keeps the paper model's untiled peak memory to a few GiB; above it,
    1024-pixel tiles bound the memory whatever the image size.
    """
    return AUTO_TILE if height * width > AUTO_TILE_PIXELS else None


def tile_spans(length: int, tile: int, overlap: int) -> list[Span]:
    """Cover ``[0, length)`` with spans of ``tile`` that overlap by at least ``overlap``.

    Starts are multiples of :data:`ALIGN`, spread evenly; the last span ends at ``length``
    (so it may be up to ``ALIGN - 1`` longer than ``tile``). One span when ``length`` fits.
    """
    if tile % ALIGN or overlap % ALIGN or not 0 <= overlap < tile:
        raise ValueError(
            f"tile ({tile}) and overlap ({overlap}) must be multiples of {ALIGN}, "
            f"with 0 <= overlap < tile"
        )
    if length <= tile + ALIGN - 1:
        return [(0, length)]
    step = tile - overlap
    n = 1 + -(-(length - tile) // step)
    starts = sorted({(i * (length - tile) // (n - 1)) // ALIGN * ALIGN for i in range(n)})
    return [(s, s + tile) for s in starts[:-1]] + [(starts[-1], length)]


def feather(span: Span, length: int, overlap: int) -> np.ndarray:
    """1-D blending weights (float32) of ``span`` in ``[0, length)``.

    At each end of the span that is not an end of ``[0, length)`` (an edge shared with the
    neighbouring tile): weight 0 for the outer quarter of ``overlap`` (the pixels whose
    context the tile cut off most), then a linear ramp to 1 across the middle half. Two
    neighbours overlapping by exactly ``overlap`` get complementary ramps; where they overlap
    more, the normalised sum still blends them smoothly.
    """
    start, end = span
    skip = overlap // 4
    ramp = overlap - 2 * skip
    edge = np.concatenate([np.zeros(skip), (np.arange(ramp) + 0.5) / max(ramp, 1)])
    edge = edge[: end - start].astype(np.float32)
    n = edge.size
    weight = np.ones(end - start, np.float32)
    if start > 0:
        weight[:n] = np.minimum(weight[:n], edge)
    if end < length:
        weight[weight.size - n :] = np.minimum(weight[weight.size - n :], edge[::-1])
    return weight


def blend_tiles(
    run: Runner,
    image: torch.Tensor,
    trimap: torch.Tensor,
    rows: Sequence[Span],
    cols: Sequence[Span],
    *,
    overlap: int,
) -> torch.Tensor:
    """Run ``run`` on every tile of ``rows x cols`` and blend: (H, W) float32 on the CPU.

    ``image`` (1,3,H,W) and ``trimap`` (1,1,H,W) stay where they are (the CPU, for large
    inputs); ``run`` moves each tile to the model's device. Memory: two HxW float32
    accumulators plus one tile's activations.
    """
    height, width = image.shape[-2:]
    total = torch.zeros(height, width)
    weights = torch.zeros(height, width)
    for r0, r1 in rows:
        wy = torch.from_numpy(feather((r0, r1), height, overlap))
        for c0, c1 in cols:
            w = wy[:, None] * torch.from_numpy(feather((c0, c1), width, overlap))[None, :]
            alpha = run(image[..., r0:r1, c0:c1], trimap[..., r0:r1, c0:c1])
            total[r0:r1, c0:c1] += w * alpha
            weights[r0:r1, c0:c1] += w
    return total / weights


class _EncoderDone(Exception):
    """Raised by the capture hook to skip the rest of the network once ASPP's input exists."""


def _pooling_modules(model: nn.Module) -> tuple[ASPP, ASPPPooling] | None:
    aspps = [m for m in model.modules() if isinstance(m, ASPP)]
    pools = [m for m in model.modules() if isinstance(m, ASPPPooling)]
    if len(aspps) != 1 or len(pools) != 1:
        return None  # no global pooling (or a layout this module does not know): nothing to do
    return aspps[0], pools[0]


def has_global_pooling(model: nn.Module) -> bool:
    """Whether ``model`` has the ASPP image-pooling branch this module can override."""
    return _pooling_modules(model) is not None


def pooled_mean(
    model: nn.Module,
    run: Runner,
    image: torch.Tensor,
    trimap: torch.Tensor,
    rows: Sequence[Span],
    cols: Sequence[Span],
) -> torch.Tensor | None:
    """The mean of ASPP's input over the padded ``image``, computed tile by tile: (C,) float64.

    Only the encoder runs (a hook stops the forward at ASPP). Each stride-8 cell is taken from
    the tile whose core (the span cut halfway through each overlap) contains it, so every cell
    counts once, as in the untiled average; cells near a tile's interior edge differ slightly
    from the untiled encoder when the overlap is below the context radius. None when ``model``
    has no image-pooling branch.
    """
    found = _pooling_modules(model)
    if found is None:
        return None
    aspp, _ = found
    captured: list[torch.Tensor] = []

    def capture(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        captured.append(inputs[0])
        raise _EncoderDone

    height, width = image.shape[-2:]
    total: torch.Tensor | None = None
    handle = aspp.register_forward_pre_hook(capture)
    try:
        for (r0, r1), (k0, k1) in _cores(rows, height):
            for (c0, c1), (j0, j1) in _cores(cols, width):
                captured.clear()
                try:
                    run(image[..., r0:r1, c0:c1], trimap[..., r0:r1, c0:c1])
                except _EncoderDone:
                    pass
                feats = captured[0][0].double()  # (C, h/8, w/8), padded like the full run
                part = feats[:, (k0 - r0) // ALIGN : (k1 - r0) // ALIGN,
                             (j0 - c0) // ALIGN : (j1 - c0) // ALIGN].sum(dim=(1, 2))
                total = part if total is None else total + part
    finally:
        handle.remove()
    cells = -(-height // ALIGN) * -(-width // ALIGN)
    assert total is not None
    return (total / cells).cpu()


def _cores(spans: Sequence[Span], length: int) -> Iterator[tuple[Span, Span]]:
    """Each span with its core: cut at multiples of 8 halfway through every overlap; the last
    core ends at ``length`` rounded up to 8 (the generator's padding)."""
    cuts = [0]
    for (_, end), (start, _) in zip(spans, spans[1:]):
        cuts.append(round((start + end) / (2 * ALIGN)) * ALIGN)
    cuts.append(-(-length // ALIGN) * ALIGN)
    for i, span in enumerate(spans):
        yield span, (cuts[i], cuts[i + 1])


@contextmanager
def override_pooled_mean(model: nn.Module, mean: torch.Tensor | None) -> Iterator[None]:
    """Within the block, the image-pooling branch of ``model`` uses ``mean`` (C,) instead of
    the average of whatever part of the image it is given. ``mean`` None: no change."""
    found = _pooling_modules(model)
    if mean is None or found is None:
        yield
        return
    _, pooling = found

    def replace(module: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor):
        return mean.to(device=out.device, dtype=out.dtype).view(1, -1, 1, 1).expand_as(out)

    handle = pooling.pool.register_forward_hook(replace)
    try:
        yield
    finally:
        handle.remove()
