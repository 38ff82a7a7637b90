"""Matte files and folders with any alpha estimator; shared by ``predict`` and ``baseline``.

Outputs land as ``OUT/<kind>/<stem>.<ext>`` for kind in alpha, foreground, cutout,
composite, trimap (ext from the format: png, webp, tif), or in one named file. A bad input
(unreadable file, size mismatch, trimap without unknown pixels) is reported and nothing is
written for it; a folder run goes on past it. No output is ever written over an input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from alphagan import defaults
from alphagan.convert import to_mask
from alphagan.errors import InputError
from alphagan.foreground import composite_onto, cutout, estimate_foreground
from alphagan.io import OUTPUT_FORMATS, list_images, read_image, write_image
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
) -> tuple[list[MattingJob], list[str]]:
    """Pair images with trimaps (or, with ``masks``, masks) by stem.

    Returns (jobs, problems): an image without a trimap, or a trimap without an image, is a
    one-line problem rather than an exception, so the rest of the folder still runs.
    """
    what = "mask" if masks else "trimap"
    images = list_images(image_dir)
    guides = list_images(guide_dir)
    jobs = [MattingJob(s, images[s], **{what: guides[s]}) for s in sorted(images) if s in guides]
    problems = [f"{images[s]}: no {what} named {s}.* in {guide_dir}"
                for s in sorted(set(images) - set(guides))]
    problems += [f"{guides[s]}: no image named {s}.* in {image_dir}"
                 for s in sorted(set(guides) - set(images))]
    return jobs, problems


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
    for job in jobs:
        for given in (job.image, job.trimap, job.mask):
            if given is not None:
                inputs[given.resolve()] = given
    for given in extra:
        inputs[given.resolve()] = given
    for job in jobs:
        for path in output_paths(job, out_dir, spec).values():
            clash = inputs.get(path.resolve())
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
    """Read, validate, matte and write one job. Raises InputError before writing anything
    if the inputs are unusable. Returns the written paths by kind."""
    image, trimap = read_job(job, mask_options)
    try:
        alpha = estimate(image, trimap)
    except ValueError as exc:  # the estimator refuses these inputs (too small, ...)
        raise InputError(f"{job.image}: {exc}") from None
    results: dict[str, np.ndarray] = {"alpha": alpha, "trimap": trimap_to_uint8(trimap)}
    if set(spec.kinds) & {"foreground", "cutout", "composite"}:
        fg = estimate_foreground(image, alpha)
        results["foreground"] = fg
        results["cutout"] = cutout(fg, alpha)
        if "composite" in spec.kinds:
            results["composite"] = composite_onto(fg, alpha, spec.background)
    paths = output_paths(job, out_dir, spec)
    for kind, path in paths.items():
        # the trimap is three exact levels: 8 bits hold it, whatever the depth asked for
        depth = 8 if kind == "trimap" else spec.bit_depth
        write_image(path, results[kind], bit_depth=depth)
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

    A job that fails with InputError (or an OS error while reading/writing) is recorded in the
    report and the run continues.
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
        except (InputError, OSError) as exc:
            report.failed.append(_one_line(exc))
            continue
        report.written.append(job.stem)
    return report


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
