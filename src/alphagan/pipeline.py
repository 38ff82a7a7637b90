"""Matte files and folders with any alpha estimator; shared by ``predict`` and ``baseline``.

Outputs land as ``OUT/<kind>/<stem>.png`` for kind in alpha, foreground, cutout, composite.
A job writes all of its outputs or none (they are encoded in memory, staged beside their
destinations and renamed together). Whatever one job raises (a bad input, a full disk, an
estimator that fails) is reported on one line naming its input, and a folder run goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from alphagan.atomic import write_all_or_none
from alphagan.errors import InputError
from alphagan.files import describe_os_error
from alphagan.foreground import composite_onto, cutout, estimate_foreground
from alphagan.io import encode_png, read_image, scan_images, shared_stem_problems
from alphagan.trimap import read_trimap

__all__ = [
    "OUTPUT_KINDS",
    "AlphaEstimator",
    "MattingJob",
    "RunReport",
    "pair_folders",
    "parse_outputs",
    "process_job",
    "run_jobs",
]

OUTPUT_KINDS = ("alpha", "foreground", "cutout", "composite")

# (image HxWx3 in [0,1], trimap HxW {0,0.5,1}) -> alpha HxW in [0,1]
AlphaEstimator = Callable[[np.ndarray, np.ndarray], np.ndarray]
Background = tuple[float, float, float] | np.ndarray


@dataclass(frozen=True)
class MattingJob:
    """One image and its trimap; outputs are named after ``stem``."""

    stem: str
    image: Path
    trimap: Path


@dataclass
class RunReport:
    """What a run did: stems written, stems skipped (outputs existed), and failures."""

    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # one line each, naming the file


def parse_outputs(text: str) -> tuple[str, ...]:
    """``"alpha,cutout"`` -> ("alpha", "cutout"); ValueError naming an unknown kind."""
    kinds = tuple(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in OUTPUT_KINDS]
    if unknown or not kinds:
        raise ValueError(
            f"unknown output kind(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {','.join(OUTPUT_KINDS)}"
        )
    return kinds


def pair_folders(image_dir: Path, trimap_dir: Path) -> tuple[list[MattingJob], list[str]]:
    """Pair images and trimaps by stem.

    Returns (jobs, problems): an image without a trimap, a trimap without an image, or a file
    whose stem another file in its folder shares (``cat.jpg`` and ``cat.png``: which one is
    meant is ambiguous) is a one-line problem naming the file rather than an exception, so
    the rest of the folder still runs.
    """
    images, shared_images = scan_images(image_dir)
    trimaps, shared_trimaps = scan_images(trimap_dir)
    problems = shared_stem_problems(shared_images) + shared_stem_problems(shared_trimaps)
    # A stem that is ambiguous in either folder is skipped in both (reported above).
    ambiguous = set(shared_images) | set(shared_trimaps)
    images = {s: p for s, p in images.items() if s not in ambiguous}
    trimaps = {s: p for s, p in trimaps.items() if s not in ambiguous}
    jobs = [MattingJob(s, images[s], trimaps[s]) for s in sorted(images) if s in trimaps]
    problems += [f"{images[s]}: no trimap named {s}.* in {trimap_dir}"
                 for s in sorted(set(images) - set(trimaps))]
    problems += [f"{trimaps[s]}: no image named {s}.* in {image_dir}"
                 for s in sorted(set(trimaps) - set(images))]
    return jobs, problems


def _output_paths(out_dir: Path, stem: str, outputs: Sequence[str]) -> dict[str, Path]:
    return {kind: out_dir / kind / f"{stem}.png" for kind in outputs}


def process_job(
    job: MattingJob,
    estimate: AlphaEstimator,
    out_dir: Path,
    outputs: Sequence[str],
    background: Background = (1.0, 1.0, 1.0),
) -> dict[str, Path]:
    """Read, validate, matte and write one job: all of its outputs or none of them.

    Raises InputError before writing anything if the inputs are unusable, and OSError if an
    output cannot be written (nothing of this job is left behind then). Returns the written
    paths by kind."""
    image = read_image(job.image)
    trimap = read_trimap(job.trimap)
    if image.shape[:2] != trimap.shape:
        raise InputError(
            f"{job.trimap}: trimap is {trimap.shape[1]}x{trimap.shape[0]} but image "
            f"{job.image.name} is {image.shape[1]}x{image.shape[0]} (width x height)"
        )
    try:
        alpha = estimate(image, trimap)
    except ValueError as exc:  # the estimator refuses these inputs (too small, ...)
        raise InputError(f"{job.image}: {exc}") from None
    del trimap
    fg = estimate_foreground(image, alpha) if set(outputs) - {"alpha"} else None
    del image  # the largest arrays go as soon as they are used (peak memory of big photos)
    make: dict[str, Callable[[], np.ndarray]] = {
        "alpha": lambda: alpha,
        "foreground": lambda: fg,
        "cutout": lambda: cutout(fg, alpha),
        "composite": lambda: composite_onto(fg, alpha, background),
    }
    paths = _output_paths(out_dir, job.stem, outputs)
    # One output array at a time, encoded to PNG bytes in memory; then all files together.
    encoded = {path: encode_png(make[kind]()) for kind, path in paths.items()}
    write_all_or_none(encoded)
    return paths


def run_jobs(
    jobs: Iterable[MattingJob],
    estimate: AlphaEstimator,
    out_dir: Path,
    outputs: Sequence[str],
    *,
    background: Background = (1.0, 1.0, 1.0),
    overwrite: bool = False,
    progress: bool = True,
) -> RunReport:
    """Process every job, skipping those whose outputs all exist unless ``overwrite``.

    A job that fails for any reason (bad input, an OS error while reading or writing, an
    estimator error, running out of memory) is recorded in the report as one line naming its
    input, and the run continues. Only KeyboardInterrupt and SystemExit stop it.
    """
    jobs = list(jobs)
    report = RunReport()
    for job in tqdm(jobs, desc="matting", unit="img", disable=not progress or len(jobs) < 2):
        paths = _output_paths(out_dir, job.stem, outputs)
        if not overwrite and all(p.exists() for p in paths.values()):
            report.skipped.append(job.stem)
            continue
        try:
            process_job(job, estimate, out_dir, outputs, background)
        except Exception as exc:  # noqa: BLE001 - one job's failure must not end the run
            report.failed.append(failure_line(job, exc))
            continue
        report.written.append(job.stem)
    return report


def failure_line(job: MattingJob, exc: BaseException) -> str:
    """One line for a failed job that names its input file (and the output, for OS errors)."""
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        text = f"cannot write{where} ({describe_os_error(exc)})"
    elif isinstance(exc, MemoryError):
        text = "not enough memory (try --max-side or --tile)"
    elif isinstance(exc, (ValueError, InputError)):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split()) or type(exc).__name__
    if str(job.image) in text or str(job.trimap) in text:
        return text
    return f"{job.image}: {text}"
