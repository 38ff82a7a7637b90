"""Argument parsers of ``alphagan synth`` and ``alphagan export``, kept apart from their
modules so that ``alphagan --help`` builds every parser without importing torch or OpenCV."""

from __future__ import annotations

import argparse
from pathlib import Path

from alphagan.defaults import MODEL_NAME

__all__ = ["build_synth_parser", "build_export_parser", "EXAMPLES"]

EXAMPLES = {
    "synth": "example:\n  alphagan synth --out runs/synth --count 300 --seed 0",
    "export": "example:\n  alphagan export --format onnx --out alphagan-prior.onnx",
}


def _add(subparsers: argparse._SubParsersAction, name: str, help: str) -> argparse.ArgumentParser:
    return subparsers.add_parser(name, help=help, epilog=EXAMPLES[name],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)


def build_synth_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``synth`` subcommand to ``subparsers``; returns its parser."""
    p = _add(subparsers, "synth",
             "write procedural training foregrounds (fg + alpha) with known alpha")
    p.add_argument("--out", type=Path, required=True,
                   help="output folder: OUT/fg/<name>.png and OUT/alpha/<name>.png")
    p.add_argument("--count", type=int, required=True, help="procedural foregrounds to make")
    p.add_argument("--seed", type=int, default=0, help="item i uses seed (SEED, i)")
    p.add_argument("--size", type=int, default=640, help="side of the square foregrounds")
    p.add_argument("--alpha-shapes", type=Path,
                   help="also texture every alpha matte in this folder (shape_<stem>)")
    p.add_argument("--exclude", default="",
                   help="comma-separated alpha-shape stems to leave out, e.g. GT02,GT08")
    p.add_argument("--max-side", type=int, default=1024,
                   help="downscale alpha shapes to this long side (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def build_export_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``export`` subcommand to an ``add_subparsers()`` object; returns its parser."""
    p = _add(subparsers, "export", "export a generator to ONNX or TorchScript")
    p.add_argument("--format", choices=["onnx", "torchscript"], required=True,
                   help="onnx (needs the extra: pip install 'alphagan[onnx]') or torchscript")
    p.add_argument("--checkpoint", "--model", dest="checkpoint", default=MODEL_NAME,
                   help="generator: a shipped model's name or a .safetensors file")
    p.add_argument("--out", type=Path, required=True, help="the file to write")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default: %(default)s)")
    return p


