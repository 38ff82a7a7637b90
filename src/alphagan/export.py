"""Export a generator to ONNX or TorchScript: ``alphagan export --format onnx|torchscript``.

The exported graph has the generator's interface: inputs ``image`` (B,3,H,W) float32 RGB in
[0,1] and ``trimap`` (B,1,H,W) float32 in {0, 0.5, 1}, and for a model with a classical
prior (:mod:`alphagan.prior`) ``prior`` (B,K,H,W) float32 in [0,1] (compute it with
:func:`alphagan.prior.compute_prior`); output ``alpha`` (B,1,H,W) in [0,1],
*not* clamped to the trimap's known regions (clamp as :func:`alphagan.predict_alpha` does).
B, H and W are dynamic: the graph pads to a multiple of 8 itself (reflection, as the
generator does) and crops back, for any H, W >= 8. BatchNorm is folded into the
convolutions first.

How: the graph is traced (``torch.onnx.export(dynamo=False)``, ``torch.jit.trace``) on an
example whose sides are *not* multiples of 8, so the padding is recorded with sizes computed
from the input shape. ``max_unpool2d`` has no ONNX/trace-friendly form (its output-size check
needs concrete integers), so while tracing the generator's unpooling runs as the equivalent
``scatter`` of the pooled values to their recorded indices (tests check both are equal).

Parity: ONNX Runtime matches PyTorch to ~1e-7 on the test model. On a trained model a few
max-pool windows hold two values equal to within float32 rounding (about 2 in 400,000 for
the light model on a 524x800 image); where the runtimes' rounding differs the argmax, hence
the unpooling position, flips, and a few hundred pixels around it change visibly (measured:
153 pixels above 1e-3, max 0.17, mean 1e-5). The same holds between any two float
implementations of the network (channels-last, BN folding, another CPU).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

import alphagan.models.generator as _generator_module
from alphagan.atomic import atomic_path
from alphagan.errors import InputError, UsageError
from alphagan.subparsers import build_export_parser

__all__ = ["ExportFormat", "export_model", "build_export_parser", "run_export", "TRACE_SIZE"]

ExportFormat = Literal["onnx", "torchscript"]
TRACE_SIZE = (67, 83)  # (H, W) of the tracing example: not multiples of 8 (see module doc)
_NAMES = {"inputs": ["image", "trimap"], "outputs": ["alpha"]}


def export_model(
    model: nn.Module,
    path: str | Path,
    *,
    format: ExportFormat,
    opset: int = 17,
) -> Path:
    """Write ``model`` (an :class:`~alphagan.models.AlphaGANGenerator`, or a
    :class:`~alphagan.models.GeneratorEnsemble`: the mean of its members) to ``path``.

    ``format="onnx"``: an ONNX model (opset ``opset``) with dynamic batch, height and width;
    needs the ``onnx`` package (the ``onnx`` extra).
    ``format="torchscript"``: a traced TorchScript module for ``torch.jit.load`` (Python or
    C++ libtorch; PyTorch has deprecated TorchScript in favour of ``torch.export``, but it is
    still what libtorch loads); its sizes are dynamic in the same way.
    The model is copied, set to eval and BN-folded on the CPU; ``model`` itself is not
    modified. Returns ``path``.
    """
    if format not in ("onnx", "torchscript"):
        raise ValueError(f"format must be onnx or torchscript, got {format!r}")
    if format == "onnx" and not MIN_OPSET <= opset <= _max_opset():
        raise ValueError(f"opset must be between {MIN_OPSET} and {_max_opset()} (the generator "
                         f"pads by a computed size, which ONNX supports from opset 11); "
                         f"got {opset}")
    path = Path(path)
    with atomic_path(path) as tmp:
        _export(model, tmp, format, opset)
    return path


MIN_OPSET = 11


def _max_opset() -> int:
    from torch.onnx import _constants

    return int(getattr(_constants, "ONNX_MAX_OPSET", 20))


def _export(model: nn.Module, path: Path, format: ExportFormat, opset: int) -> None:
    """Write the export to ``path`` (a temporary file that ``export_model`` renames)."""
    from alphagan.inference import prepare_for_inference

    model = prepare_for_inference(model, channels_last=False, fold_bn=True).cpu()
    h, w = TRACE_SIZE
    example: tuple[torch.Tensor, ...] = (torch.rand(1, 3, h, w), torch.full((1, 1, h, w), 0.5))
    names = list(_NAMES["inputs"])
    channels = getattr(model, "prior_channels", 0)
    if channels:  # a model with a classical prior takes it as a third input (alphagan.prior)
        example += (torch.full((1, channels, h, w), 0.5),)
        names.append("prior")
    # The tracer warns about every Python-int shape computation; those are what we rely on.
    with _traceable_unpool(), warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if format == "onnx":
            axes = {"image": {0: "batch", 2: "height", 3: "width"},
                    "trimap": {0: "batch", 2: "height", 3: "width"},
                    "prior": {0: "batch", 2: "height", 3: "width"},
                    "alpha": {0: "batch", 2: "height", 3: "width"}}
            axes = {k: v for k, v in axes.items() if k in names or k == "alpha"}
            torch.onnx.export(
                model, example, str(path), dynamo=False, opset_version=opset,
                input_names=names, output_names=_NAMES["outputs"],
                dynamic_axes=axes,
            )
        else:
            traced = torch.jit.trace(model, example, check_trace=False)
            torch.jit.save(traced, str(path))
        if format == "onnx" and importlib.util.find_spec("onnx") is not None:
            import onnx

            onnx.checker.check_model(str(path))  # before the rename: no broken file lands


def _scatter_unpool2d(
    input: torch.Tensor,
    indices: torch.Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
) -> torch.Tensor:
    """``F.max_unpool2d`` for ``output_size`` given: place each value at its flat index in
    its (H, W) plane, zeros elsewhere. Traces to ONNX ScatterElements."""
    if output_size is None:
        raise ValueError("the export form of max_unpool2d needs output_size")
    b, c = input.shape[0], input.shape[1]
    h, w = output_size[-2], output_size[-1]
    out = input.new_zeros(b, c, h * w)
    out = out.scatter(2, indices.flatten(2), input.flatten(2))
    return out.view(b, c, h, w)


class _TraceFunctional:
    """``torch.nn.functional`` with max_unpool2d replaced, for the generator module only."""

    max_unpool2d = staticmethod(_scatter_unpool2d)

    def __getattr__(self, name: str) -> Any:
        return getattr(torch.nn.functional, name)


@contextmanager
def _traceable_unpool() -> Iterator[None]:
    """Swap the generator module's ``F`` for :class:`_TraceFunctional` while tracing."""
    original = _generator_module.F
    _generator_module.F = _TraceFunctional()  # type: ignore[assignment]
    try:
        yield
    finally:
        _generator_module.F = original


def run_export(args: argparse.Namespace) -> int:
    """Run ``alphagan export`` from parsed arguments; returns the exit status.

    Raises InputError (exit status 1 through ``alphagan.cli.main``) for an unreadable
    checkpoint, or when no checkpoint is given and none ships with the package.
    """
    from alphagan.checkpoint import load_model

    if args.format == "onnx" and importlib.util.find_spec("onnx") is None:
        raise InputError("ONNX export needs the onnx package: pip install 'alphagan[onnx]'")
    if args.format == "onnx" and not MIN_OPSET <= args.opset <= _max_opset():
        raise UsageError(f"--opset {args.opset}: choose {MIN_OPSET} to {_max_opset()}")
    from alphagan.cli import check_output_file

    check_output_file(args.out)
    from alphagan.checkpoint import resolve_model
    from alphagan.files import resolved

    if resolved(args.out) == resolved(resolve_model(args.checkpoint)):
        raise UsageError(f"--out {args.out}: is the model being exported; write to another file")
    model = load_model(args.checkpoint)  # a shipped model's name or a file
    path = export_model(model, args.out, format=args.format, opset=args.opset)
    print(f"wrote {path}", file=sys.stderr)
    return 0
