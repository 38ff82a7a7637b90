"""The ``alphagan`` command line: thin argument parsing over library calls.

``main(argv)`` returns the exit status (0 success, 1 a file or input failed, 2 usage error),
so tests call it in-process. Whatever a command raises ends as one line on stderr that names
the file concerned, never a traceback (``ALPHAGAN_DEBUG=1`` re-raises unexpected errors).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from alphagan import defaults
from alphagan.errors import InputError, UsageError

__all__ = ["main", "build_parser"]


def _add_matting_io(p: argparse.ArgumentParser) -> None:
    src = p.add_argument_group("input (one image, or two folders paired by file stem)")
    src.add_argument("--image", type=Path, help="an image file")
    src.add_argument("--trimap", type=Path, help="its trimap (white fg, black bg, grey unknown)")
    src.add_argument("--image-dir", type=Path, help="a folder of images")
    src.add_argument("--trimap-dir", type=Path, help="a folder of trimaps with the same stems")
    p.add_argument("--out", type=Path, required=True, help="output folder: OUT/<kind>/<stem>.png")
    p.add_argument(
        "--outputs",
        default=defaults.OUTPUTS,
        help="comma-separated kinds to write (default: %(default)s)",
    )
    p.add_argument(
        "--background",
        default=defaults.BACKGROUND,
        help="composite background: a colour (name, #rrggbb, r,g,b) or an image file",
    )
    p.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alphagan", description="AlphaGAN natural image matting."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="estimate alpha mattes with a trained generator")
    p.add_argument("--checkpoint", type=Path,
                   help="generator .safetensors file (from alphagan train or save_model); "
                        "default: the model shipped with the package")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1, ...")
    fast = p.add_argument_group("speed and memory")
    fast.add_argument("--precision", choices=["fp32", "bf16"], default=defaults.PRECISION,
                      help="bf16: bfloat16 autocast, fast on CPUs with AVX512-BF16/AMX and "
                           "recent GPUs (default: %(default)s)")
    fast.add_argument("--threads", type=int, help="CPU threads for torch and OpenCV")
    fast.add_argument("--region", choices=["full", "unknown"], default=defaults.REGION,
                      help="unknown: run the network only around the trimap's unknown pixels "
                           "(default: %(default)s)")
    fast.add_argument("--tile", default=defaults.TILE, metavar="N|auto|off",
                      help="run in overlapping NxN tiles to bound memory; auto: 1024 tiles for "
                           "regions above 4 megapixels (default: %(default)s)")
    fast.add_argument("--max-side", type=int, metavar="N",
                      help="predict at a size whose longer side is N and upsample the alpha")
    fast.add_argument("--tta", choices=["none", "flip"], default=defaults.TTA,
                      help="flip: average the predictions for the image and its mirror "
                           "(lower errors, twice the time); none: one pass "
                           "(default: %(default)s)")
    _add_matting_io(p)

    p = sub.add_parser("baseline", help="estimate alpha mattes with a classical method")
    from alphagan.baselines import BASELINE_METHODS

    p.add_argument("--method", choices=sorted(BASELINE_METHODS), required=True,
                   help="cf closed-form, knn, lkm large-kernel, rw random-walk, sm shared")
    _add_matting_io(p)

    p = sub.add_parser("evaluate", help="SAD, MSE, Gradient, Connectivity (DIM MATLAB math)")
    p.add_argument("--pred-dir", type=Path, required=True, help="predicted alphas")
    p.add_argument("--gt-dir", type=Path, required=True, help="ground-truth alphas")
    p.add_argument("--trimap-dir", type=Path, required=True, help="trimaps (128 = unknown)")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")

    p = sub.add_parser("train", help="train AlphaGAN (one CPU, one GPU, or torchrun)")
    p.add_argument("--config", type=Path, help="YAML config (see configs/)")
    p.add_argument("--out", type=Path, required=True, help="run folder")
    p.add_argument("--steps", type=int, help="train until this step (overrides the config)")
    p.add_argument("--resume", action="store_true",
                   help="continue RUN from its latest checkpoint (its own config.yaml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set optim.lr_g=1e-4 (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("demo", help="matte the bundled example scene and write every output")
    p.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder")
    p.add_argument("--checkpoint", type=Path,
                   help="generator to use (default: the model shipped with the package)")
    p.add_argument("--method", choices=sorted(BASELINE_METHODS),
                   help="use a classical method instead of a generator")

    p = sub.add_parser("trimap", help="make a trimap from an alpha matte or a binary mask")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--alpha", type=Path, help="an alpha matte (0 bg, 255 fg)")
    src.add_argument("--mask", type=Path, help="a binary mask (non-zero = foreground)")
    p.add_argument("--out", type=Path, required=True, help="the trimap PNG to write")
    p.add_argument("--erode", type=int, default=10, help="pixels of foreground made unknown")
    p.add_argument("--dilate", type=int, default=10, help="pixels of background made unknown")

    from alphagan.synth import build_synth_parser

    build_synth_parser(sub)
    from alphagan.export import build_export_parser

    build_export_parser(sub)
    return parser


def _error(message: str) -> int:
    print(f"alphagan: error: {' '.join(message.split())}", file=sys.stderr)
    return 1


def _os_error_line(exc: OSError) -> str:
    """``PATH: reason`` for an OSError (both paths for a failed rename)."""
    from alphagan.files import describe_os_error

    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    where = " -> ".join(names) if names else "(no file name given by the system)"
    return f"{where}: {describe_os_error(exc)}"


def check_output_dir(path: Path, option: str = "--out") -> None:
    """Refuse, before any work, an output folder that cannot be created or written.

    Raises OSError-free ``InputError`` lines: ``path`` is an existing file, or its nearest
    existing ancestor is a file or not writable. Nothing is created here.
    """
    if path.exists():
        if not path.is_dir():
            raise InputError(f"{option} {path}: exists and is not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise InputError(f"{option} {path}: folder is not writable")
        return
    _check_ancestor(path, option)


def check_output_file(path: Path, option: str = "--out", *, suffixes: Sequence[str] = ()) -> None:
    """Refuse, before any work, an output file name that cannot be written.

    ``suffixes``: the allowed extensions (lower case, with the dot): another one is a
    :class:`UsageError`. A folder at ``path``, a file among its ancestors or an unwritable
    folder is an ``InputError``. Nothing is created here.
    """
    if suffixes and path.suffix.lower() not in suffixes:
        raise UsageError(f"{option} {path}: the file name must end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder; give a file name")
    _check_ancestor(path, option)


def _check_ancestor(path: Path, option: str) -> None:
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise InputError(f"{option} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: cannot write in {parent} (permission denied)")


def parse_device(text: str):
    """A ``torch.device`` this machine has; UsageError for a malformed name or ``meta``,
    InputError for a device type this machine or this torch build lacks."""
    import torch

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise UsageError(f"--device: not a torch device: {text!r}") from None
    if device.type == "cpu":
        return device
    if device.type == "meta":
        raise UsageError("--device meta holds no data; choose cpu, cuda, ...")
    backend = getattr(torch, device.type, None)
    available = getattr(backend, "is_available", None)
    if available is None or not available():
        raise InputError(f"--device {text}: no {device.type} device is available on this machine "
                         f"(or this torch build lacks it)")
    count = getattr(backend, "device_count", None)
    if device.index is not None and count is not None and device.index >= count():
        raise InputError(f"--device {text}: this machine has {count()} {device.type} device(s)")
    return device


def _background(text: str) -> tuple[float, float, float] | np.ndarray:
    from alphagan.convert import to_background

    try:
        return to_background(text, name="--background")
    except InputError as exc:
        if Path(text).is_file():
            raise
        raise InputError(f"--background {text}: not a file, and {exc}") from None


def _check_matting_args(args: argparse.Namespace) -> None:
    """Usage and output checks shared by predict and baseline, before any model loads."""
    from alphagan.pipeline import parse_outputs

    single = args.image is not None or args.trimap is not None
    folder = args.image_dir is not None or args.trimap_dir is not None
    if single == folder or (single and not (args.image and args.trimap)) or (
        folder and not (args.image_dir and args.trimap_dir)
    ):
        raise UsageError("give either --image and --trimap, or --image-dir and --trimap-dir")
    try:
        parse_outputs(args.outputs)
    except ValueError as exc:
        raise UsageError(f"--outputs: {exc}") from None
    check_output_dir(args.out)


def _run_matting(args: argparse.Namespace, estimate) -> int:
    from alphagan.pipeline import MattingJob, pair_folders, parse_outputs, run_jobs

    _check_matting_args(args)
    single = args.image is not None
    outputs = parse_outputs(args.outputs)
    background = _background(args.background) if "composite" in outputs else (1.0, 1.0, 1.0)
    problems: list[str] = []
    if single:
        jobs = [MattingJob(args.image.stem, args.image, args.trimap)]
    else:
        jobs, problems = pair_folders(args.image_dir, args.trimap_dir)
    report = run_jobs(jobs, estimate, args.out, outputs, background=background,
                      overwrite=args.overwrite, progress=not args.quiet)
    failed = problems + report.failed
    if single and failed:
        return _error(failed[0])
    print(f"wrote {len(report.written)} image(s) to {args.out}", file=sys.stderr)
    if report.skipped:
        print(f"skipped {len(report.skipped)} whose outputs exist (use --overwrite to redo): "
              f"{', '.join(report.skipped)}", file=sys.stderr)
    if failed:
        print(f"alphagan: {len(failed)} file(s) failed:", file=sys.stderr)
        for line in failed:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


def _usage(message: str) -> int:
    print(f"alphagan: usage error: {message}", file=sys.stderr)
    return 2


def _cmd_predict(args: argparse.Namespace) -> int:
    from alphagan.checkpoint import default_checkpoint, load_model
    from alphagan.inference import min_tile, predict_alpha, prepare_for_inference, set_threads

    device = parse_device(args.device)
    tile: int | str | None = args.tile
    if args.tile == "off":
        tile = None
    elif args.tile != "auto":
        if not args.tile.isdigit() or int(args.tile) < 64:
            return _usage(f"--tile: expected auto, off or a size >= 64 pixels, got {args.tile!r}")
        tile = int(args.tile)
    if args.threads is not None and args.threads < 1:
        return _usage("--threads must be >= 1")
    if args.max_side is not None and args.max_side < 8:
        return _usage("--max-side must be >= 8")
    _check_matting_args(args)
    if args.threads is not None:
        set_threads(args.threads)
    checkpoint = args.checkpoint or default_checkpoint()
    if checkpoint is None:
        return _error("this build ships no trained generator; pass --checkpoint FILE")
    generator = load_model(checkpoint, map_location=device)
    if isinstance(tile, int) and tile < min_tile(generator):
        print(f"alphagan: note: --tile {tile} is below this model's minimum of "
              f"{min_tile(generator)} pixels (twice its context radius); using "
              f"{min_tile(generator)}", file=sys.stderr)
        tile = min_tile(generator)
    model = prepare_for_inference(generator)
    options = dict(precision=args.precision, region=args.region, tile=tile,
                   max_side=args.max_side, tta=args.tta)
    return _run_matting(args, lambda image, trimap: predict_alpha(model, image, trimap, **options))


def _cmd_baseline(args: argparse.Namespace) -> int:
    from alphagan.baselines import estimate_alpha_baseline

    return _run_matting(
        args, lambda image, trimap: estimate_alpha_baseline(args.method, image, trimap)
    )


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from alphagan.evaluate import evaluate_folders, format_table

    if args.json is not None:
        check_output_file(args.json, "--json")
    result = evaluate_folders(args.pred_dir, args.gt_dir, args.trimap_dir)
    print(format_table(result))
    if args.json:
        from alphagan.atomic import write_text_atomic

        write_text_atomic(args.json, json.dumps(result.to_json(), indent=2) + "\n")
    return 0


def _cmd_trimap(args: argparse.Namespace) -> int:
    from alphagan.io import read_alpha, read_grey, write_png
    from alphagan.trimap import trimap_from_alpha, trimap_from_mask, trimap_to_uint8
    from alphagan.trimap import unknown_mask

    if args.erode < 0 or args.dilate < 0:
        return _usage("--erode and --dilate must be >= 0")
    check_output_file(args.out, suffixes=(".png",))
    if args.alpha is not None:
        trimap = trimap_from_alpha(read_alpha(args.alpha), erode=args.erode, dilate=args.dilate)
    else:
        trimap = trimap_from_mask(read_grey(args.mask) > 0, erode=args.erode, dilate=args.dilate)
    source = args.alpha if args.alpha is not None else args.mask
    unknown = unknown_mask(trimap)
    if not unknown.any():  # nothing to matte
        why = ("it is empty" if (trimap <= 0).all() else "it is full" if (trimap >= 1).all()
               else "--erode and --dilate are 0")
        raise InputError(f"{source}: gives a trimap without unknown pixels ({why}); "
                         f"nothing written")
    if unknown.all():
        raise InputError(f"{source}: gives a trimap without known pixels (--erode/--dilate "
                         f"wider than the object?); nothing written")
    write_png(args.out, trimap_to_uint8(trimap))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from alphagan.training.config import load_config
    from alphagan.training.loop import train

    check_output_dir(args.out)
    overrides = list(args.overrides)
    if args.steps is not None:
        overrides.append(f"steps={args.steps}")
    run_config = args.out / "config.yaml"
    if args.resume and run_config.is_file():
        if args.config is not None:
            print(f"resuming: using the run's own {run_config}, not {args.config}",
                  file=sys.stderr)
        config = load_config(run_config, overrides)
    elif args.config is not None:
        config = load_config(args.config, overrides)
    else:
        return _usage("give --config FILE (or --resume for a run that has a config.yaml)")
    train(config, args.out, resume=args.resume, progress=not args.quiet)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for the run
        print(f"done: {args.out / 'generator.safetensors'}", file=sys.stderr)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from alphagan.baselines import estimate_alpha_baseline
    from alphagan.checkpoint import default_checkpoint
    from alphagan.demo import run_demo

    check_output_dir(args.out)
    checkpoint = args.checkpoint or (None if args.method else default_checkpoint())
    if checkpoint is not None:
        from alphagan.checkpoint import load_model
        from alphagan.inference import predict_alpha

        model = load_model(checkpoint)
        run_demo(args.out, lambda i, t: predict_alpha(model, i, t),
                 f"AlphaGAN ({checkpoint.name})")
        return 0
    method = args.method or "cf"
    if not args.method:
        print("no trained generator ships with this build; using closed-form matting",
              file=sys.stderr)
    run_demo(args.out, lambda i, t: estimate_alpha_baseline(method, i, t), f"baseline {method}")
    return 0


_COMMANDS = {
    "predict": _cmd_predict,
    "baseline": _cmd_baseline,
    "evaluate": _cmd_evaluate,
    "trimap": _cmd_trimap,
    "demo": _cmd_demo,
    "train": _cmd_train,
    "synth": lambda args: _run_synth(args),
    "export": lambda args: _run_export(args),
}


def _run_export(args: argparse.Namespace) -> int:
    from alphagan.export import run_export

    return run_export(args)


def _run_synth(args: argparse.Namespace) -> int:
    from alphagan.synth import run_synth

    return run_synth(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    0 success; 1 an input or output problem (a file that cannot be read, decoded or written,
    a missing device, not enough memory); 2 a usage error. Every failure is one stderr line.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and usage errors
        return int(exc.code or 0)
    import warnings

    with warnings.catch_warnings():
        warnings.showwarning = _note  # library warnings: one line each, not two
        try:
            return _COMMANDS[args.command](args)
        except UsageError as exc:
            return _usage(str(exc))
        except (InputError, ValueError) as exc:
            return _error(str(exc))
        except OSError as exc:
            return _error(_os_error_line(exc))
        except MemoryError:
            return _error("not enough memory (for predict: try --max-side or --tile)")
        except KeyboardInterrupt:
            return _error("interrupted")
        except Exception as exc:  # noqa: BLE001 - no traceback for users; see ALPHAGAN_DEBUG
            if os.environ.get("ALPHAGAN_DEBUG"):
                raise
            return _error(f"unexpected {type(exc).__name__}: {exc} (ALPHAGAN_DEBUG=1 shows "
                          f"the traceback)")


def _note(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"alphagan: note: {' '.join(str(message).split())}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
