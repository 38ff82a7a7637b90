"""Matte files and folders with any alpha estimator; shared by ``predict`` and ``baseline``.

Outputs land as ``OUT/<kind>/<stem>.<ext>`` for kind in alpha, foreground, cutout,
composite, trimap (ext from the format: png, webp, tif), or in one named file. A job writes
all of its outputs or none (they are encoded in memory, staged beside their destinations and
renamed together). Whatever one job raises (a bad input, a full disk, an estimator that
fails) is reported on one line naming its input, and a folder run goes on. No output is ever
written over an input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from alphagan import defaults
from alphagan.atomic import write_all_or_none
from alphagan.convert import to_mask
from alphagan.errors import InputError, TrimapError
from alphagan.files import describe_os_error, resolved
from alphagan.foreground import composite_onto, cutout, estimate_foreground
from alphagan.io import OUTPUT_FORMATS, encode_image, read_image, scan_images
from alphagan.io import shared_stem_problems
from alphagan.trimap import read_trimap, trimap_from_soft_mask, trimap_to_uint8

__all__ = [
    "OUTPUT_KINDS",
    "AlphaEstimator",
    "MattingJob",
    "MaskOptions",
    "OutputSpec",
    "RunReport",
    "check_not_inputs",
    "output_paths",
    "pair_folders",
    "parse_outputs",
    "process_job",
    "read_job",
    "run_jobs",
]

OUTPUT_KINDS = ("alpha", "foreground", "cutout", "composite", "trimap")

# (image HxWx3 in [0,1], trimap HxW {0,0.5,1}) -> alpha HxW in [0,1]
AlphaEstimator = Callable[[np.ndarray, np.ndarray], np.ndarray]
Background = tuple[float, float, float] | np.ndarray


@dataclass(frozen=True)
class MattingJob:
    """One image and its trimap (or a mask that becomes one); outputs are named after
    ``stem``, or written to ``target`` when it is set (one output kind)."""

    stem: str
    image: Path
    trimap: Path | None = None
    mask: Path | None = None
    target: Path | None = None

    @property
    def guide(self) -> Path:
        """The trimap or mask file."""
        return self.trimap if self.trimap is not None else self.mask  # type: ignore[return-value]


@dataclass(frozen=True)
class MaskOptions:
    """rembg's alpha-matting thresholds for a mask (see trimap_from_soft_mask)."""

    foreground_threshold: int = defaults.FOREGROUND_THRESHOLD
    background_threshold: int = defaults.BACKGROUND_THRESHOLD
    erode_size: int = defaults.ERODE_SIZE


@dataclass(frozen=True)
class OutputSpec:
    """What to write: kinds, file format, bits per channel, composite background."""

    kinds: tuple[str, ...]
    format: str = "png"
    bit_depth: int = 8
    background: Background = (1.0, 1.0, 1.0)


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


def pair_folders(
    image_dir: Path, guide_dir: Path, *, masks: bool = False
) -> tuple[list[MattingJob], list[str], list[str]]:
    """Pair images with trimaps (or, with ``masks``, masks) by stem.

    Returns (jobs, problems, unused): an image without a trimap, or a file whose stem another
    file in its folder shares (``cat.jpg`` and ``cat.png``: which one is meant is ambiguous)
    is a one-line problem naming the file rather than an exception, so the rest of the folder
    still runs; a trimap without an image is not a problem (a benchmark's trimap folder holds
    more than the images being matted), only listed in ``unused``.
    """
    what = "mask" if masks else "trimap"
    images, shared_images = scan_images(image_dir)
    guides, shared_guides = scan_images(guide_dir)
    problems = shared_stem_problems(shared_images) + shared_stem_problems(shared_guides)
    # A stem that is ambiguous in either folder is skipped in both (reported above).
    ambiguous = set(shared_images) | set(shared_guides)
    images = {s: p for s, p in images.items() if s not in ambiguous}
    guides = {s: p for s, p in guides.items() if s not in ambiguous}
    jobs = [MattingJob(s, images[s], **{what: guides[s]}) for s in sorted(images) if s in guides]
    problems += [f"{images[s]}: no {what} named {s}.* in {guide_dir}"
                 for s in sorted(set(images) - set(guides))]
    unused = [f"{guides[s]}: no image named {s}.* in {image_dir}"
              for s in sorted(set(guides) - set(images))]
    return jobs, problems, unused


def output_paths(job: MattingJob, out_dir: Path | None, spec: OutputSpec) -> dict[str, Path]:
    """Where each output of ``job`` goes: ``job.target`` (one kind), else
    ``out_dir/<kind>/<stem><ext>``."""
    if job.target is not None:
        return {spec.kinds[0]: job.target}
    assert out_dir is not None
    suffix = OUTPUT_FORMATS[spec.format]
    return {kind: out_dir / kind / f"{job.stem}{suffix}" for kind in spec.kinds}


def check_not_inputs(
    jobs: list[MattingJob], out_dir: Path | None, spec: OutputSpec, extra: Iterable[Path] = ()
) -> None:
    """Raise InputError naming both files if an output path is one of the run's inputs
    (images, trimaps, masks, and ``extra`` such as a background picture)."""
    inputs: dict[Path, Path] = {}
    for given in [p for job in jobs for p in (job.image, job.trimap, job.mask)] + list(extra):
        if given is None:
            continue
        try:
            inputs[resolved(given)] = given
        except InputError:
            # A link loop cannot be an output's target; reading it fails, for that file alone
            # (a folder run goes on and lists it).
            continue
    for job in jobs:
        for path in output_paths(job, out_dir, spec).values():
            clash = inputs.get(resolved(path))
            if clash is not None:
                raise InputError(
                    f"{path}: this output would overwrite the input {clash}; choose another "
                    "output name or folder"
                )


def read_job(job: MattingJob, mask_options: MaskOptions = MaskOptions()) -> tuple[np.ndarray, np.ndarray]:
    """The job's image (float32 HxWx3) and trimap (float32 HxW {0, 0.5, 1}, from the trimap
    file or made from the mask); InputError naming the file when unusable."""
    image = read_image(job.image)
    if job.trimap is not None:
        trimap = read_trimap(job.trimap)
    else:
        trimap = trimap_from_soft_mask(to_mask(job.mask, name=str(job.mask)), name=str(job.mask),
                                       **vars(mask_options))
    if image.shape[:2] != trimap.shape:
        what = "trimap" if job.trimap is not None else "mask"
        raise InputError(
            f"{job.guide}: {what} is {trimap.shape[1]}x{trimap.shape[0]} but image "
            f"{job.image.name} is {image.shape[1]}x{image.shape[0]} (width x height)"
        )
    return image, trimap


def process_job(
    job: MattingJob,
    estimate: AlphaEstimator,
    out_dir: Path | None,
    spec: OutputSpec,
    mask_options: MaskOptions = MaskOptions(),
) -> dict[str, Path]:
    """Read, validate, matte and write one job: all of its outputs or none of them.

    Raises InputError before writing anything if the inputs are unusable, and OSError if an
    output cannot be written (nothing of this job is left behind then). Returns the written
    paths by kind."""
    image, trimap = read_job(job, mask_options)
    paths = output_paths(job, out_dir, spec)
    if spec.kinds == ("trimap",):  # the trimap a mask gives: no matting needed
        write_all_or_none({path: encode_image(path, trimap_to_uint8(trimap))
                           for path in paths.values()})
        return paths
    try:
        alpha = estimate(image, trimap)
    except TrimapError as exc:  # the trimap's fault: name the trimap (or mask) file
        made = "" if job.trimap is not None else " (the trimap made from this mask)"
        raise InputError(f"{job.guide}{made}: {exc}") from None
    except ValueError as exc:  # the estimator refuses these inputs (too small, ...)
        raise InputError(f"{job.image}: {exc}") from None
    levels = trimap_to_uint8(trimap) if "trimap" in spec.kinds else None
    del trimap
    needs_fg = bool(set(spec.kinds) & {"foreground", "cutout", "composite"})
    fg = estimate_foreground(image, alpha) if needs_fg else None
    del image  # the largest arrays go as soon as they are used (peak memory of big photos)
    make: dict[str, Callable[[], np.ndarray]] = {
        "alpha": lambda: alpha,
        "trimap": lambda: levels,
        "foreground": lambda: fg,
        "cutout": lambda: cutout(fg, alpha),
        "composite": lambda: composite_onto(fg, alpha, spec.background),
    }
    # One output array at a time, encoded in memory; then all files together or none. The
    # trimap is three exact levels: 8 bits hold it, whatever the depth asked for.
    encoded = {path: encode_image(path, make[kind](),
                                  bit_depth=8 if kind == "trimap" else spec.bit_depth)
               for kind, path in paths.items()}
    write_all_or_none(encoded)
    return paths


def run_jobs(
    jobs: Iterable[MattingJob],
    estimate: AlphaEstimator,
    out_dir: Path | None,
    spec: OutputSpec,
    *,
    mask_options: MaskOptions = MaskOptions(),
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
        paths = output_paths(job, out_dir, spec)
        if not overwrite and all(p.exists() for p in paths.values()):
            report.skipped.append(job.stem)
            continue
        try:
            process_job(job, estimate, out_dir, spec, mask_options)
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
    if str(job.image) in text or str(job.guide) in text:
        return text
    return f"{job.image}: {text}"
