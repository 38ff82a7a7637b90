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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphagan import defaults
from alphagan.errors import InputError, UsageError

# The classical methods (alphagan.baselines.BASELINE_METHODS) without importing that module.
BASELINE_NAMES = ("cf", "knn", "lkm", "rw", "sm")

__all__ = ["main", "build_parser"]


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                     argparse.RawDescriptionHelpFormatter):
    """Defaults shown after every option that has one; examples (the epilog) kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


EXAMPLES = {
    "predict": """examples:
  alphagan predict photo.jpg trimap.png -o cutout.png        # one RGBA cut-out
  alphagan predict photo.jpg --mask rembg_out.png -o cutout.png --outputs cutout
  alphagan predict --image-dir imgs/ --trimap-dir trimaps/ -o out/ --outputs alpha,cutout
  alphagan predict --image-dir imgs/ --mask-dir masks/ -o out/ --outputs trimap,alpha
  torchrun --nproc_per_node 4 -m alphagan predict --image-dir imgs/ --trimap-dir t/ -o out/""",
    "baseline": """examples:
  alphagan baseline --method cf photo.jpg trimap.png -o alpha.png --outputs alpha
  alphagan baseline --method knn --image-dir imgs/ --trimap-dir trimaps/ -o out_knn/
  alphagan baseline --method cf big.jpg trimap.png -o cut.png --max-side 1600""",
    "evaluate": """example:
  alphagan evaluate --pred-dir out/alpha --gt-dir gt/ --trimap-dir trimaps/ --json s.json""",
    "train": """examples:
  alphagan train --config configs/alphagan_light.yaml --out runs/light
  alphagan train --out runs/light --resume --steps 20000
  torchrun --nproc_per_node 2 -m alphagan train --config configs/alphagan_prior.yaml --out runs/p""",
    "demo": """examples:
  alphagan demo --out demo_out
  alphagan demo --method cf --out demo_cf""",
    "trimap": """examples:
  alphagan trimap --alpha gt.png --out trimap.png --erode 10 --dilate 10
  alphagan trimap --mask rembg_cutout.png --out trimap.png --erode-size 15""",
    "ensemble": """example (three training seeds of one recipe):
  alphagan ensemble runs/s0/generator.safetensors runs/s1/generator.safetensors \\
      runs/s2/generator.safetensors -o ensemble.safetensors""",
}


_MASK_DEFAULTS = {"foreground_threshold": defaults.FOREGROUND_THRESHOLD,
                  "background_threshold": defaults.BACKGROUND_THRESHOLD,
                  "erode_size": defaults.ERODE_SIZE}


def _add_mask_options(group: Any) -> None:
    # default None: given with a trimap (or --alpha) they would be ignored, so that is refused
    group.add_argument("--foreground-threshold", type=int,
                       help="mask: values above this (0..255) are known foreground "
                            f"(default: {defaults.FOREGROUND_THRESHOLD})")
    group.add_argument("--background-threshold", type=int,
                       help="mask: values below this are known background "
                            f"(default: {defaults.BACKGROUND_THRESHOLD})")
    group.add_argument("--erode-size", type=int,
                       help="mask: both known regions are eroded by a square of this side "
                            f"(default: {defaults.ERODE_SIZE})")


def _mask_option_problem(args: argparse.Namespace, uses_mask: bool,
                         instead: str = "a trimap is used as given",
                         masks: str = "--mask / --mask-dir") -> str | None:
    """A usage message for mask options given without a mask or out of range, else None;
    fills in the defaults of those not given."""
    given = [f"--{name.replace('_', '-')}" for name in _MASK_DEFAULTS
             if getattr(args, name) is not None]
    if given and not uses_mask:
        return f"{', '.join(given)}: only with {masks}; {instead}"
    for name, default in _MASK_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    for name in ("foreground_threshold", "background_threshold"):
        if not 0 <= getattr(args, name) <= 255:
            return f"--{name.replace('_', '-')} must be in 0..255"
    if args.erode_size < 0:
        return "--erode-size must be >= 0"
    return None


def _add_matting_io(p: argparse.ArgumentParser) -> None:
    p.add_argument("image_arg", nargs="?", type=Path, metavar="IMAGE",
                   help="an image file (same as --image)")
    p.add_argument("trimap_arg", nargs="?", type=Path, metavar="TRIMAP",
                   help="its trimap (same as --trimap)")
    src = p.add_argument_group("input (one image, or folders paired by file stem)")
    src.add_argument("--image", type=Path, help="an image file")
    src.add_argument("--trimap", type=Path, help="its trimap (white fg, black bg, grey unknown)")
    src.add_argument("--mask", type=Path,
                     help="instead of a trimap: a soft or binary mask (grey, or the alpha "
                          "channel of an RGBA file such as rembg writes)")
    src.add_argument("--image-dir", type=Path, help="a folder of images")
    src.add_argument("--trimap-dir", type=Path, help="a folder of trimaps with the same stems")
    src.add_argument("--mask-dir", type=Path, help="a folder of masks with the same stems")
    _add_mask_options(p.add_argument_group(
        "mask to trimap (rembg's alpha-matting convention, 0..255 scale)"))
    out = p.add_argument_group("output")
    out.add_argument("-o", "--out", type=Path, required=True,
                     help="a file (name.png|.webp|.tif, one image: one output) or a folder "
                          "(OUT/<kind>/<stem>.<ext>)")
    out.add_argument("--outputs",
                     help="comma-separated kinds: alpha, foreground, cutout (RGBA), composite, "
                          f"trimap (the one used). Default: {defaults.OUTPUTS} into a folder, "
                          "cutout into a file")
    out.add_argument("--format", choices=["png", "webp", "tiff"],
                     help="file format of folder outputs (a file's name sets its own); "
                          "default png")
    out.add_argument("--bit-depth", type=int, choices=[8, 16], default=8,
                     help="bits per channel of alpha, foreground, cut-out and composite "
                          "(png, tiff)")
    out.add_argument("--background",
                     help="composite background: a colour (name, #rrggbb, r,g,b) or an "
                          f"image file; only with the composite output (default: "
                          f"{defaults.BACKGROUND})")
    out.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
    out.add_argument("--quiet", action="store_true", help="no progress bar")


def _add(sub: argparse._SubParsersAction, name: str, help: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=help, epilog=EXAMPLES.get(name),
                          formatter_class=_HelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    """The ``alphagan`` parser; builds without importing torch, OpenCV or pymatting."""
    from alphagan import __version__
    from alphagan.subparsers import build_export_parser, build_synth_parser

    parser = argparse.ArgumentParser(
        prog="alphagan", description="AlphaGAN natural image matting.",
        epilog="""examples:
  alphagan predict photo.jpg trimap.png -o cutout.png
  alphagan predict photo.jpg --mask rembg_out.png -o cutout.png
  alphagan demo --out demo_out
run 'alphagan COMMAND --help' for a command's options and examples""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"alphagan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _add(sub, "predict", "estimate alpha mattes with a trained generator")
    p.add_argument("--checkpoint", "--model", dest="checkpoint",
                   help="generator: a shipped model's name or a .safetensors file (from "
                        "alphagan train or save_model)", default=defaults.MODEL_NAME)
    p.add_argument("--device", default=defaults.DEVICE,
                   help="auto (CUDA, then Apple MPS, then CPU), cpu, cuda, cuda:1, mps")
    fast = p.add_argument_group("speed and memory")
    fast.add_argument("--precision", choices=["fp32", "bf16"], default=defaults.PRECISION,
                      help="bf16: bfloat16 autocast, fast on CPUs with AVX512-BF16/AMX and "
                           "recent GPUs")
    fast.add_argument("--threads", type=int, help="CPU threads for torch and OpenCV")
    fast.add_argument("--region", choices=["full", "unknown"], default=defaults.REGION,
                      help="unknown: run the network only around the trimap's unknown pixels")
    fast.add_argument("--tile", default=defaults.TILE, metavar="N|auto|off",
                      help="run in overlapping NxN tiles to bound memory; auto: 1024 tiles for "
                           "regions above 4 megapixels; N >= 64; an N below twice the model's "
                           "context radius (464 for the shipped model) is raised to it, with a "
                           "note")
    fast.add_argument("--max-side", type=int, metavar="N",
                      help="predict at a size whose longer side is N and upsample the alpha")
    fast.add_argument("--tta", choices=["none", "flip"], default=defaults.TTA,
                      help="flip: average the predictions for the image and its mirror "
                           "(lower errors, twice the time); none: one pass")
    _add_matting_io(p)

    p = _add(sub, "baseline", "estimate alpha mattes with a classical method")
    p.add_argument("--method", choices=sorted(BASELINE_NAMES), required=True,
                   help="cf closed-form, knn, lkm large-kernel, rw random-walk, sm shared")
    p.add_argument("--max-side", type=int, metavar="N",
                   help="solve at a size whose longer side is N and upsample the alpha "
                        "(these solvers need memory in proportion to the pixels)")
    _add_matting_io(p)

    p = _add(sub, "evaluate", "SAD, MSE, Gradient, Connectivity (DIM MATLAB math)")
    p.add_argument("--pred-dir", type=Path, required=True, help="predicted alphas")
    p.add_argument("--gt-dir", type=Path, required=True,
                   help="ground-truth alphas (may hold more files than the predictions)")
    p.add_argument("--trimap-dir", type=Path, required=True, help="trimaps (128 = unknown)")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")

    p = _add(sub, "train", "train AlphaGAN (one CPU, one GPU, or torchrun)")
    p.add_argument("--config", type=Path, help="YAML config (see configs/)")
    p.add_argument("--out", type=Path, required=True, help="run folder")
    p.add_argument("--steps", type=int, help="train until this step (overrides the config)")
    p.add_argument("--resume", action="store_true",
                   help="continue RUN from its latest checkpoint, with its own config.yaml "
                        "(no --config); --steps and --set may change fields that leave the "
                        "architecture as it is, e.g. --steps to extend the run")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set optim.lr_g=1e-4 (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = _add(sub, "demo", "matte the bundled example scene and write every output")
    p.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder")
    p.add_argument("--checkpoint", "--model", dest="checkpoint", default=defaults.MODEL_NAME,
                   help="generator: a shipped model's name or a .safetensors file")
    p.add_argument("--method", choices=sorted(BASELINE_NAMES),
                   help="use a classical method instead of a generator")

    p = _add(sub, "trimap", "make a trimap from an alpha matte or a mask")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--alpha", type=Path,
                     help="an alpha matte (0 bg, 255 fg), or an RGBA cut-out (its alpha)")
    src.add_argument("--mask", type=Path,
                     help="a soft or binary mask: grey, or the alpha channel of an RGBA file "
                          "(rembg's output); rembg's alpha-matting convention")
    p.add_argument("--out", "-o", type=Path, required=True, help="the trimap file to write")
    p.add_argument("--erode", type=int, help="--alpha: pixels of foreground made unknown "
                   "(default: 10)")
    p.add_argument("--dilate", type=int, help="--alpha: pixels of background made unknown "
                   "(default: 10)")
    _add_mask_options(p)

    p = _add(sub, "ensemble", "combine generators of one architecture into one model file "
                              "whose alpha is the mean of theirs")
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="two or more generators: .safetensors files or shipped model names "
                        "(the same config)")
    p.add_argument("-o", "--out", type=Path, required=True, help="the model file to write")

    build_synth_parser(sub)
    build_export_parser(sub)
    from alphagan.web import build_serve_parser

    build_serve_parser(sub)
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

    Raises ``InputError`` when ``path`` is an existing file, or its nearest existing ancestor
    is a file or not writable. Nothing is created here.
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


def _background(text: str) -> Any:
    from alphagan.convert import to_background

    try:
        return to_background(text, name="--background")
    except InputError as exc:
        # a file, or what is plainly meant as a colour (r,g,b, #hex, rgb(...)): its own message
        if Path(text).is_file() or "," in text or text.lstrip().startswith(("#", "rgb")):
            raise
        raise InputError(f"--background {text}: not a file, and {exc}") from None


@dataclass
class _Plan:
    """A matting run as the arguments describe it."""

    jobs: list[Any]
    problems: list[str]
    out_dir: Path | None
    spec: Any
    mask_options: Any
    extra_inputs: list[Path]
    single: bool = False  # one image given: a failure is the one error line
    unused: tuple[str, ...] = ()  # trimaps / masks without an image: listed, not failures
    note: str = ""  # said after "wrote N image(s) to X", e.g. the device chosen


_FILE_SUFFIXES = (".png", ".webp", ".tif", ".tiff")
_UNWRITABLE_SUFFIXES = (".jpg", ".jpeg", ".bmp")  # image files -o refuses: no alpha, or lossy


def _plan_matting(args: argparse.Namespace) -> _Plan | str:
    """Arguments -> a plan, or a usage message (str)."""
    from alphagan.io import format_of
    from alphagan.pipeline import MaskOptions, MattingJob, OutputSpec, pair_folders, parse_outputs

    if args.image_arg is not None and args.image is not None:
        return "give the image once: as IMAGE or as --image"
    if args.trimap_arg is not None and args.trimap is not None:
        return "give the trimap once: as TRIMAP or as --trimap"
    image = args.image or args.image_arg
    trimap = args.trimap or args.trimap_arg
    single = image is not None or trimap is not None or args.mask is not None
    folder = any(x is not None for x in (args.image_dir, args.trimap_dir, args.mask_dir))
    if single == folder:
        return ("give either IMAGE TRIMAP (or --image with --trimap or --mask), or --image-dir "
                "with --trimap-dir or --mask-dir")
    if single and (image is None or (trimap is None) == (args.mask is None)):
        return "give one image and either its trimap or --mask"
    if folder and (args.image_dir is None or (args.trimap_dir is None) == (args.mask_dir is None)):
        return "give --image-dir and either --trimap-dir or --mask-dir"
    if single and image.is_dir():
        # the positional form is for one photo; a folder there is the folder run's input
        other = (f"--trimap-dir {trimap}" if trimap is not None
                 else f"--mask-dir {args.mask}" if args.mask is not None else "--trimap-dir ...")
        return (f"{image} is a folder: to matte every image in it use --image-dir {image} "
                f"{other}")

    suffix = args.out.suffix.lower()
    if single and suffix in _UNWRITABLE_SUFFIXES and not args.out.is_dir():
        return (f"-o {args.out}: cannot write {suffix} (no alpha, or lossy); name a .png, .webp "
                "or .tif file, or a folder")
    to_file = single and suffix in _FILE_SUFFIXES and not args.out.is_dir()
    if folder and suffix in (*_FILE_SUFFIXES, *_UNWRITABLE_SUFFIXES) and not args.out.is_dir():
        # a folder run writes a folder: one named like an image file is a mistake
        return (f"-o {args.out}: a folder run writes one file per image and kind into a "
                f"folder; name a folder (a single file needs IMAGE TRIMAP)")
    try:
        # None = not given; an empty --outputs '' is refused, not read as the default
        default = "cutout" if to_file else defaults.OUTPUTS
        kinds = parse_outputs(default if args.outputs is None else args.outputs)
    except ValueError as exc:
        return f"--outputs: {exc}"
    if to_file:
        if len(kinds) != 1:
            return (f"-o {args.out} is one file: give one --outputs kind (got "
                    f"{','.join(kinds)}), or an output folder")
        fmt = format_of(args.out)
        if args.format is not None and args.format != fmt:
            return f"--format {args.format} does not match the file name {args.out}"
    else:
        fmt = args.format or "png"
    if args.bit_depth == 16 and fmt == "webp":
        return "--bit-depth 16: WebP stores 8 bits; use png or tiff"
    problem = _mask_option_problem(args, args.mask is not None or args.mask_dir is not None)
    if problem:
        return problem

    extra: list[Path] = []
    if args.background is not None and "composite" not in kinds:
        return (f"--background is the composite's background, but the outputs are "
                f"{','.join(kinds)}: add composite to --outputs, or drop --background")
    background: Any = _background(args.background or defaults.BACKGROUND)
    if args.background is not None and Path(args.background).is_file():
        extra.append(Path(args.background))
    spec = OutputSpec(kinds, fmt, args.bit_depth, background)
    mask_options = MaskOptions(args.foreground_threshold, args.background_threshold,
                               args.erode_size)
    if single:
        target = args.out if to_file else None
        jobs = [MattingJob(image.stem, image, trimap, args.mask, target)]
        return _Plan(jobs, [], None if to_file else args.out, spec, mask_options, extra,
                     single=True)
    if args.mask_dir is not None:
        jobs, problems, unused = pair_folders(args.image_dir, args.mask_dir, masks=True)
    else:
        jobs, problems, unused = pair_folders(args.image_dir, args.trimap_dir)
    return _Plan(jobs, problems, args.out, spec, mask_options, extra, unused=tuple(unused))


def _run_matting(args: argparse.Namespace, make_estimator: Callable[[_Plan], Any]) -> int:
    """Plan, check, then build the estimator (the slow part) and run; returns the exit code."""
    from alphagan import ranks

    plan = _plan_matting(args)
    if isinstance(plan, str):
        return _usage(plan)
    try:
        return _run_plan(args, plan, make_estimator)
    finally:
        ranks.finish()


def _run_plan(args: argparse.Namespace, plan: _Plan, make_estimator: Callable[[_Plan], Any]) -> int:
    from alphagan.pipeline import check_not_inputs, read_job, run_jobs
    from alphagan.ranks import gather_lines, rank_share

    check_not_inputs(plan.jobs, plan.out_dir, plan.spec, plan.extra_inputs)
    if plan.out_dir is not None:  # before the model loads: a bad --out fails at once
        check_output_dir(plan.out_dir)
    else:
        check_output_file(plan.jobs[0].target)
    rank, world = rank_share()
    jobs = plan.jobs[rank::world]
    if plan.single and world == 1:
        # Unreadable or mismatched inputs fail in a fraction of a second, not after the model
        # (and torch) loaded; the job reads them again (one extra decode of one image).
        read_job(plan.jobs[0], plan.mask_options)
    # the trimap alone needs no model (and no torch import)
    estimate = make_estimator(plan) if plan.spec.kinds != ("trimap",) else _no_matting
    if set(plan.spec.kinds) & {"foreground", "cutout", "composite"}:
        # after torch's import (both are Python-bound), during the network's run (not)
        _import_in_background("pymatting")
    # A file named with -o is written even if it exists: the name is the instruction (folders
    # skip existing outputs unless --overwrite, so an interrupted batch resumes).
    named = bool(plan.jobs) and plan.jobs[0].target is not None
    report = run_jobs(jobs, estimate, plan.out_dir, plan.spec, mask_options=plan.mask_options,
                      overwrite=args.overwrite or named, progress=not args.quiet)
    if plan.single and report.failed and world == 1:
        return _error(report.failed[0])
    written, skipped, failed = (gather_lines(lines) for lines in
                                (report.written, report.skipped, report.failed))
    failed = plan.problems + failed
    if rank != 0:
        return 1 if failed else 0
    target = plan.jobs[0].target if plan.single else None
    print(f"wrote {len(written)} image(s) to {target or plan.out_dir}{plan.note}", file=sys.stderr)
    if skipped:
        print(f"skipped {len(skipped)} whose outputs exist (use --overwrite to redo): "
              f"{', '.join(skipped)}", file=sys.stderr)
    if plan.unused:
        print(f"alphagan: note: {len(plan.unused)} file(s) not used:", file=sys.stderr)
        for line in plan.unused:
            print(f"  {line}", file=sys.stderr)
    if failed:
        print(f"alphagan: {len(failed)} file(s) failed:", file=sys.stderr)
        for line in failed:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


def _no_matting(image: Any, trimap: Any) -> Any:
    raise AssertionError("no output of this run needs an alpha matte")


def _import_in_background(module: str) -> None:
    """Start importing ``module`` on a thread. pymatting (for foreground colours) takes about
    half a second of mostly Python work to import; the network's kernels release the GIL, so
    for one photo the import overlaps the matting instead of following it. A later
    ``import`` of the module waits for this one (the import lock) and fails as usual."""
    import importlib
    import threading

    def load() -> None:
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - the real import later reports it
            pass

    threading.Thread(target=load, name=f"import {module}", daemon=True).start()


def _usage(message: str) -> int:
    print(f"alphagan: usage error: {message}", file=sys.stderr)
    return 2


def _cmd_predict(args: argparse.Namespace) -> int:
    # Before torch loads OpenMP: idle worker threads sleep instead of spinning. On a machine
    # whose cores are busy with other work, spinning threads starve the ones with work: the
    # shipped model on an 800x497 photo took 5.1 s instead of 1.9 s with 2 threads on 2 cores
    # shared with other jobs (load average 8). A value the user set is kept.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
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
    options = dict(precision=args.precision, region=args.region, tile=tile,
                   max_side=args.max_side, tta=args.tta)

    def make_estimator(plan: _Plan) -> Callable[[Any, Any], Any]:
        from alphagan.inference import min_tile, predict_alpha, set_threads
        from alphagan.matting import load_prepared, pick_device
        from alphagan.ranks import rank_device

        device = rank_device(pick_device(args.device))
        plan.note = f" (device {device}{', chosen by --device auto' if args.device == 'auto' else ''})"
        if args.threads is not None:
            set_threads(args.threads)
        model = load_prepared(args.checkpoint, str(device))
        smallest = min_tile(model)
        if isinstance(options["tile"], int) and options["tile"] < smallest:
            print(f"alphagan: note: --tile {options['tile']} is below this model's minimum of "
                  f"{smallest} pixels (twice its context radius); using {smallest}",
                  file=sys.stderr)
            options["tile"] = smallest
        return lambda image, trimap: predict_alpha(model, image, trimap, **options)

    return _run_matting(args, make_estimator)


def _cmd_baseline(args: argparse.Namespace) -> int:
    from alphagan.baselines import estimate_alpha_baseline

    if args.max_side is not None and args.max_side < 8:
        return _usage("--max-side must be >= 8")
    return _run_matting(args, lambda plan: lambda image, trimap: estimate_alpha_baseline(
        args.method, image, trimap, max_side=args.max_side))


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from alphagan.evaluate import evaluate_folders, format_table

    if args.json is not None:
        from alphagan.files import resolved
        from alphagan.io import IMAGE_EXTENSIONS

        check_output_file(args.json, "--json")
        folders = {resolved(d): d for d in (args.pred_dir, args.gt_dir, args.trimap_dir)}
        here = folders.get(resolved(args.json).parent)
        if here is not None and args.json.suffix.lower() in IMAGE_EXTENSIONS:
            raise UsageError(f"--json {args.json}: would overwrite an input of {here}; write "
                             f"the scores elsewhere (e.g. scores.json)")
    result = evaluate_folders(args.pred_dir, args.gt_dir, args.trimap_dir)
    print(format_table(result))
    if args.json:
        from alphagan.atomic import write_text_atomic

        write_text_atomic(args.json, json.dumps(result.to_json(), indent=2) + "\n")
    if result.unmatched:
        print(f"alphagan: {len(result.unmatched)} prediction(s) not scored:", file=sys.stderr)
        for line in result.unmatched:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


def _cmd_trimap(args: argparse.Namespace) -> int:
    from alphagan.convert import to_mask
    from alphagan.io import write_image
    from alphagan.trimap import trimap_from_alpha, trimap_from_soft_mask, trimap_to_uint8

    from alphagan.io import format_of
    from alphagan.trimap import unknown_mask

    source = args.alpha if args.alpha is not None else args.mask
    from alphagan.files import resolved

    if resolved(args.out) == resolved(source):
        return _error(f"{args.out}: this output would overwrite the input {source}; choose "
                      "another name")
    try:
        format_of(args.out)
    except ValueError as exc:
        return _usage(f"--out: {exc}")
    check_output_file(args.out)
    if args.alpha is not None:
        problem = _mask_option_problem(args, False, "for --alpha use --erode and --dilate",
                                       masks="--mask")
        if problem:
            return _usage(problem)
        erode = 10 if args.erode is None else args.erode
        dilate = 10 if args.dilate is None else args.dilate
        if erode < 0 or dilate < 0:
            return _usage("--erode and --dilate must be >= 0")
        # read as --mask is: an RGBA cut-out gives its alpha channel, a photo is refused
        trimap = trimap_from_alpha(to_mask(args.alpha, name=str(args.alpha)), erode=erode,
                                   dilate=dilate)
    else:
        if args.erode is not None or args.dilate is not None:
            return _usage("--erode and --dilate apply to --alpha; for --mask use --erode-size "
                          "and the thresholds")
        problem = _mask_option_problem(args, True)
        if problem:
            return _usage(problem)
        trimap = trimap_from_soft_mask(
            to_mask(args.mask, name=str(args.mask)), name=str(args.mask),
            foreground_threshold=args.foreground_threshold,
            background_threshold=args.background_threshold, erode_size=args.erode_size)
    unknown = unknown_mask(trimap)
    if not unknown.any():  # nothing to matte
        why = ("it is empty" if (trimap <= 0).all() else "it is full" if (trimap >= 1).all()
               else "--erode and --dilate are 0")
        raise InputError(f"{source}: gives a trimap without unknown pixels ({why}); "
                         f"nothing written")
    if unknown.all():
        raise InputError(f"{source}: gives a trimap without known pixels (--erode/--dilate "
                         f"wider than the object?); nothing written")
    write_image(args.out, trimap_to_uint8(trimap))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from alphagan.training.config import load_config
    from alphagan.training.loop import train

    check_output_dir(args.out)
    if args.steps is not None and args.steps < 1:
        raise UsageError(f"--steps must be >= 1, got {args.steps}")
    overrides = list(args.overrides)
    if args.steps is not None:
        overrides.append(f"steps={args.steps}")
    run_config = args.out / "config.yaml"
    if args.resume and run_config.is_file():
        if args.config is not None:  # two configs: say which one a resume uses, do not guess
            raise UsageError(f"--resume uses {run_config}; drop --config or start a new --out")
        config = load_config(run_config, overrides)
    elif args.config is not None:
        config = load_config(args.config, overrides)
    else:
        if args.resume:  # say why there is nothing to resume, not only what to give
            return _usage(f"--resume: {args.out} holds no run to resume (no {run_config}); "
                          f"give --config FILE to start one")
        return _usage("give --config FILE (or --resume for a run that has a config.yaml)")
    trained = train(config, args.out, resume=args.resume, progress=not args.quiet)
    # {}: the run was already at its steps and train() said so; "done" would suggest work
    if trained and os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks
        print(f"done: {args.out / 'generator.safetensors'}", file=sys.stderr)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from alphagan.baselines import estimate_alpha_baseline
    from alphagan.demo import run_demo

    check_output_dir(args.out)
    if args.method:
        run_demo(args.out, lambda i, t: estimate_alpha_baseline(args.method, i, t),
                 f"baseline {args.method}")
        return 0
    from alphagan.inference import predict_alpha
    from alphagan.matting import load_prepared

    model = load_prepared(args.checkpoint, "cpu")
    name = Path(args.checkpoint).name
    run_demo(args.out, lambda i, t: predict_alpha(model, i, t), f"AlphaGAN ({name})")
    return 0


def _cmd_ensemble(args: argparse.Namespace) -> int:
    from alphagan.checkpoint import resolve_model, save_ensemble
    from alphagan.files import resolved

    if len(args.models) < 2:
        raise UsageError("give at least two model files")
    check_output_file(args.out, "-o", suffixes=(".safetensors",))
    inputs = [resolved(resolve_model(m)) for m in args.models]
    if resolved(args.out) in inputs:
        raise UsageError(f"{args.out}: is one of the input models; write to another file")
    for i, path in enumerate(inputs):
        if path in inputs[:i]:
            # the mean of a network and its copy is that network, at twice the cost
            raise UsageError(f"{args.models[i]}: given twice; an ensemble needs different "
                             f"networks")
    save_ensemble(args.models, args.out)
    print(f"wrote {args.out} ({len(args.models)} members)")
    return 0


_COMMANDS = {
    "predict": _cmd_predict,
    "baseline": _cmd_baseline,
    "evaluate": _cmd_evaluate,
    "trimap": _cmd_trimap,
    "demo": _cmd_demo,
    "train": _cmd_train,
    "ensemble": _cmd_ensemble,
    "synth": lambda args: _run_synth(args),
    "export": lambda args: _run_export(args),
    "serve": lambda args: _run_serve(args),
}


def _run_serve(args: argparse.Namespace) -> int:
    from alphagan.web import run_serve

    return run_serve(args)


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
            _error("interrupted")
            return 130  # 128 + SIGINT, as shells report a Ctrl+C'd command
        except Exception as exc:  # noqa: BLE001 - no traceback for users; see ALPHAGAN_DEBUG
            if os.environ.get("ALPHAGAN_DEBUG"):
                raise
            return _error(f"unexpected {type(exc).__name__}: {exc} (ALPHAGAN_DEBUG=1 shows "
                          f"the traceback)")


def _note(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"alphagan: note: {' '.join(str(message).split())}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
