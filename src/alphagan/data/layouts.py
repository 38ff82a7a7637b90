"""Readers for the public matting datasets' folder layouts.

Training readers return :class:`~alphagan.data.ForegroundItem` lists (alpha + foreground
colours, or alpha + photo when the set has no foreground colours); evaluation readers return
:class:`~alphagan.data.EvalItem` lists (image + alpha + trimap). Every sub-folder name is a
keyword argument whose default is the name the dataset's distribution uses.

Files are paired by stem (``GT01.png`` with ``GT01.jpg``). Pairing is strict: a stem present
in one folder of a set but missing from another raises ``InputError`` naming the folder that
lacks it and the first few stems, since a silently smaller training set is worse than a
stop. Pass ``skip_unmatched=True`` to warn instead and keep the stems found in every folder.
A missing folder raises ``InputError`` naming it.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from alphagan.data.composition import ForegroundItem
from alphagan.data.validation import EvalItem
from alphagan.errors import InputError
from alphagan.files import read_text
from alphagan.io import IMAGE_EXTENSIONS, list_images, read_alpha, read_image, write_png

__all__ = [
    "list_backgrounds",
    "folder_items",
    "folder_eval_items",
    "comp1k_train_items",
    "comp1k_test_items",
    "comp1k_composite",
    "comp1k_test_composites",
    "write_composite_test_set",
    "BenchmarkComposite",
    "d646_items",
    "am2k_train_items",
    "am2k_eval_items",
    "p3m_train_items",
    "p3m_eval_items",
    "ppm100_train_items",
    "ppm100_eval_items",
    "alphamatting_train_items",
    "alphamatting_eval_items",
]

PathLike = str | os.PathLike[str]

_SHOWN = 5  # stems quoted in an unmatched-files message


# --------------------------------------------------------------------------------------------
# Helpers


def _folder(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise InputError(f"{path}: no such folder ({what})")
    return path


def _match(
    folders: dict[str, Path], *, skip_unmatched: bool = False
) -> list[tuple[str, dict[str, Path]]]:
    """Pair the images of several folders by stem: [(stem, {role: path})] sorted by stem."""
    listings: dict[str, dict[str, Path]] = {}
    for role, folder in folders.items():
        listing = list_images(folder)
        if not listing:
            raise InputError(f"{folder}: no image files ({role})")
        listings[role] = listing
    every = set().union(*(listing.keys() for listing in listings.values()))
    common = set.intersection(*(set(listing) for listing in listings.values()))
    problems = []
    for role, listing in listings.items():
        lacking = sorted(every - set(listing))
        if lacking:
            shown = ", ".join(lacking[:_SHOWN]) + (", ..." if len(lacking) > _SHOWN else "")
            problems.append(
                f"{folders[role]}: no {role} file for {len(lacking)} stem(s) found in the "
                f"other folders: {shown}"
            )
    if problems:
        message = "; ".join(problems)  # one line: the CLI prints InputError messages as is
        if not skip_unmatched:
            raise InputError(message + " (pass skip_unmatched=True to skip them)")
        warnings.warn(message + "; skipped", stacklevel=3)
    if not common:
        raise InputError(
            f"{', '.join(str(f) for f in folders.values())}: no stem is found in every folder"
        )
    return [(stem, {role: listings[role][stem] for role in folders}) for stem in sorted(common)]


def _fg_items(root_what: str, fg: Path, alpha: Path, skip: bool) -> list[ForegroundItem]:
    _folder(fg, f"{root_what} foreground colours")
    _folder(alpha, f"{root_what} alpha mattes")
    pairs = _match({"foreground": fg, "alpha": alpha}, skip_unmatched=skip)
    return [ForegroundItem(name=s, alpha=p["alpha"], fg=p["foreground"]) for s, p in pairs]


def _image_items(root_what: str, image: Path, alpha: Path, skip: bool) -> list[ForegroundItem]:
    _folder(image, f"{root_what} images")
    _folder(alpha, f"{root_what} alpha mattes")
    pairs = _match({"image": image, "alpha": alpha}, skip_unmatched=skip)
    return [ForegroundItem(name=s, alpha=p["alpha"], image=p["image"]) for s, p in pairs]


def _eval_items(
    root_what: str, image: Path, alpha: Path, trimap: Path, skip: bool
) -> list[EvalItem]:
    _folder(image, f"{root_what} images")
    _folder(alpha, f"{root_what} alpha mattes")
    _folder(trimap, f"{root_what} trimaps")
    pairs = _match({"image": image, "alpha": alpha, "trimap": trimap}, skip_unmatched=skip)
    return [EvalItem(s, p["image"], p["alpha"], p["trimap"]) for s, p in pairs]


# --------------------------------------------------------------------------------------------
# Backgrounds and plain folders


def list_backgrounds(
    source: PathLike | Sequence[PathLike], *, root: PathLike | None = None
) -> list[Path]:
    """Background photo files from a folder, a names file, or a list of paths.

    - a folder: every image file in it and its sub-folders (hidden ones skipped), sorted;
    - a text file (e.g. DIM's ``training_bg_names.txt``): one name per line, relative to
      ``root`` (default: the text file's folder) unless absolute; blank lines and lines
      starting with ``#`` are skipped; order kept;
    - a sequence of paths: used as given.

    Raises ``InputError`` naming the source if it is missing, empty, or lists missing files.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                # hidden files and folders (".git", macOS "._x.jpg" forks) are not photos
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                raise InputError(f"{path}: no image files (backgrounds)")
            return found
        if not path.is_file():
            raise InputError(f"{path}: no such file or folder (backgrounds)")
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            return [path]
        base = Path(root) if root is not None else path.parent
        lines = read_text(path, what="background names file").splitlines()
        names = [line.strip() for line in lines]
        paths = [base / name for name in names if name and not name.startswith("#")]
        described = f"{path} (names relative to {base})"
    else:
        paths = [Path(p) for p in source]
        described = "background list"
    if not paths:
        raise InputError(f"{described}: no backgrounds listed")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        shown = ", ".join(missing[:_SHOWN]) + (", ..." if len(missing) > _SHOWN else "")
        raise InputError(f"{described}: {len(missing)} listed file(s) do not exist: {shown}")
    return paths


def folder_items(
    alpha_dir: PathLike,
    *,
    fg_dir: PathLike | None = None,
    image_dir: PathLike | None = None,
    skip_unmatched: bool = False,
) -> list[ForegroundItem]:
    """Training items from plain folders: alphas plus foreground colours or photos.

    With ``fg_dir`` the items carry foreground colours; with only ``image_dir`` they carry the
    photo (the foreground is estimated by ``prepare_foregrounds``). With both, both are set
    (``fg`` is used for compositing).
    """
    if fg_dir is None and image_dir is None:
        raise ValueError("folder_items needs fg_dir or image_dir (or both)")
    folders = {"alpha": _folder(Path(alpha_dir), "alpha mattes")}
    if fg_dir is not None:
        folders["foreground"] = _folder(Path(fg_dir), "foreground colours")
    if image_dir is not None:
        folders["image"] = _folder(Path(image_dir), "images")
    return [
        ForegroundItem(name=s, alpha=p["alpha"], fg=p.get("foreground"), image=p.get("image"))
        for s, p in _match(folders, skip_unmatched=skip_unmatched)
    ]


def folder_eval_items(
    image_dir: PathLike, alpha_dir: PathLike, trimap_dir: PathLike, *,
    skip_unmatched: bool = False,
) -> list[EvalItem]:
    """Evaluation items from three plain folders paired by stem."""
    return _eval_items(
        "evaluation", Path(image_dir), Path(alpha_dir), Path(trimap_dir), skip_unmatched
    )


# --------------------------------------------------------------------------------------------
# Adobe Composition-1k (Deep Image Matting)


def comp1k_train_items(
    root: PathLike,
    *,
    training_dir: str = "Training_set",
    subsets: Sequence[str] = ("Adobe-licensed images", "Other"),
    flat_dir: str = "train",
    fg_dir: str = "fg",
    alpha_dir: str = "alpha",
    skip_unmatched: bool = False,
) -> list[ForegroundItem]:
    """Composition-1k training foregrounds (431 in the official set).

    Accepts the official ``root/Training_set/{Adobe-licensed images,Other}/{fg,alpha}``
    (``root`` is the ``Combined_Dataset`` folder) or a flattened ``root/train/{fg,alpha}``.
    Backgrounds (MS-COCO) come separately: see :func:`list_backgrounds`.
    """
    base = Path(root)
    _folder(base, "Composition-1k root")
    if (base / training_dir).is_dir():
        items: list[ForegroundItem] = []
        for subset in subsets:
            folder = _folder(base / training_dir / subset, "Composition-1k training subset")
            items += _fg_items(
                "Composition-1k", folder / fg_dir, folder / alpha_dir, skip_unmatched
            )
        return items
    if (base / flat_dir).is_dir():
        folder = base / flat_dir
        return _fg_items("Composition-1k", folder / fg_dir, folder / alpha_dir, skip_unmatched)
    raise InputError(
        f"{base}: not a Composition-1k training folder: expected "
        f"{base / training_dir}/<{'|'.join(subsets)}>/{{{fg_dir},{alpha_dir}}} "
        f"or {base / flat_dir}/{{{fg_dir},{alpha_dir}}}"
    )


_COMPOSITE_SUFFIX = re.compile(r"_\d+$")


def comp1k_test_items(
    root: PathLike,
    *,
    image_dir: str = "merged",
    alpha_dir: str | Sequence[str] = ("alpha_copy", "mask"),
    trimap_dir: str = "trimaps",
) -> list[EvalItem]:
    """An already-composited Composition-1k test set: ``root/{merged,alpha_copy|mask,trimaps}``.

    ``alpha_dir`` may list alternatives; the first that exists is used. A composite
    ``<fg>_<k>`` takes the alpha / trimap named ``<fg>_<k>`` if there is one, else the one
    named ``<fg>`` (one per foreground, shared by its 20 composites). Raises ``InputError``
    for a composite with no alpha or trimap.
    """
    base = Path(root)
    _folder(base, "Composition-1k test root")
    choices = [alpha_dir] if isinstance(alpha_dir, str) else list(alpha_dir)
    alpha_folder = next((base / c for c in choices if (base / c).is_dir()), None)
    if alpha_folder is None:
        raise InputError(
            f"{base}: no alpha folder; expected one of: {', '.join(str(base / c) for c in choices)}"
        )
    images = list_images(_folder(base / image_dir, "Composition-1k test composites"))
    alphas = list_images(alpha_folder)
    trimaps = list_images(_folder(base / trimap_dir, "Composition-1k test trimaps"))
    if not images:
        raise InputError(f"{base / image_dir}: no image files (composites)")

    def find(listing: dict[str, Path], stem: str, folder: Path) -> Path:
        found = listing.get(stem) or listing.get(_COMPOSITE_SUFFIX.sub("", stem))
        if found is None:
            raise InputError(f"{folder}: no file for composite {stem!r} (nor for its foreground)")
        return found

    return [
        EvalItem(
            stem, path, find(alphas, stem, alpha_folder), find(trimaps, stem, base / trimap_dir)
        )
        for stem, path in images.items()
    ]


@dataclass(frozen=True)
class BenchmarkComposite:
    """One test composite: ``image`` uint8 HxWx3, named ``<fg stem>_<k>`` (k = 0..n_bg-1)."""

    name: str
    fg_name: str
    background: Path
    alpha: Path
    image: np.ndarray


def comp1k_composite(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """The official Composition-1k test composite of uint8 arrays, as Adobe's script makes it.

    ``fg`` uint8 HxWx3, ``alpha`` uint8 HxW, ``bg`` uint8 hxwx3 of any size -> uint8 HxWx3.
    A background smaller than the foreground in either dimension is first scaled up by
    ``ratio = max(W/w, H/h)`` to ``(ceil(w*ratio), ceil(h*ratio))`` with PIL's bicubic filter
    (the script uses PIL, whose bicubic differs from OpenCV's); a larger one is never resized.
    Its top-left HxW corner is used. ``a = alpha/255`` and ``int(a*F + (1-a)*B)`` in double
    precision: truncation, as the script's ``int()`` does, not rounding.

    (The readers below load files with :mod:`alphagan.io`, which applies EXIF orientation;
    the script does not: a photo with an orientation tag would differ from the official one.)
    """
    height, width = alpha.shape
    if fg.shape[:2] != (height, width):
        raise ValueError(f"fg {fg.shape[:2]} and alpha {alpha.shape} differ in size")
    bg_h, bg_w = bg.shape[:2]
    ratio = max(width / bg_w, height / bg_h)
    if ratio > 1:
        size = (math.ceil(bg_w * ratio), math.ceil(bg_h * ratio))
        bg = np.asarray(Image.fromarray(bg).resize(size, Image.Resampling.BICUBIC))
    bg = bg[:height, :width].astype(np.float64)
    a = alpha.astype(np.float64)[:, :, None] / 255.0
    return np.floor(a * fg.astype(np.float64) + bg * (1.0 - a)).astype(np.uint8)


def _read_uint8_rgb(path: Path) -> np.ndarray:
    return np.rint(read_image(path) * 255.0).astype(np.uint8)  # exact for 8-bit files


def _read_uint8_alpha(path: Path) -> np.ndarray:
    return np.rint(read_alpha(path) * 255.0).astype(np.uint8)


def _read_names(path: Path) -> list[str]:
    lines = read_text(path, what="names file").splitlines()
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]


def _comp1k_plan(
    fg_dir: PathLike,
    alpha_dir: PathLike,
    bg_dir: PathLike,
    bg_names_file: PathLike | None,
    n_bg: int,
    fg_names_file: PathLike | None,
) -> list[tuple[str, dict[str, Path], list[Path]]]:
    """[(fg stem, {"foreground", "alpha"}, its n_bg backgrounds)] in the official order."""
    if n_bg < 1:
        raise ValueError(f"n_bg must be >= 1, got {n_bg}")
    fg_folder = _folder(Path(fg_dir), "test foreground colours")
    _folder(Path(alpha_dir), "test alpha mattes")
    _folder(Path(bg_dir), "test backgrounds")
    pairs = dict(_match({"foreground": fg_folder, "alpha": Path(alpha_dir)}))
    if fg_names_file is not None:
        order = [Path(n).stem for n in _read_names(Path(fg_names_file))]
        unknown = [s for s in order if s not in pairs]
        if unknown:
            raise InputError(
                f"{fg_names_file}: foreground(s) not in {fg_folder}: {', '.join(unknown[:_SHOWN])}"
            )
    else:
        order = sorted(pairs)
    if bg_names_file is not None:
        backgrounds = list_backgrounds(bg_names_file, root=bg_dir)
    else:
        backgrounds = list(list_images(bg_dir).values())
    needed = len(order) * n_bg
    if len(backgrounds) < needed:
        raise InputError(
            f"{bg_names_file or bg_dir}: {len(backgrounds)} backgrounds, but {len(order)} "
            f"foregrounds x {n_bg} need {needed}"
        )
    return [
        (stem, pairs[stem], backgrounds[k * n_bg : (k + 1) * n_bg]) for k, stem in enumerate(order)
    ]


def comp1k_test_composites(
    fg_dir: PathLike,
    alpha_dir: PathLike,
    bg_dir: PathLike,
    bg_names_file: PathLike | None = None,
    n_bg: int = 20,
    *,
    fg_names_file: PathLike | None = None,
) -> Iterator[BenchmarkComposite]:
    """Yield the test composites with the official rule (:func:`comp1k_composite`).

    Foreground k (in ``fg_names_file`` order, e.g. ``test_fg_names.txt``, else sorted by stem)
    is combined with backgrounds ``k*n_bg .. k*n_bg + n_bg - 1`` in ``bg_names_file`` order
    (e.g. ``test_bg_names.txt``, names relative to ``bg_dir``), else sorted by file name;
    composite ``j`` of foreground ``X`` is named ``X_j``. Also serves Distinctions-646's test
    split (``Test/FG``, ``Test/GT``).
    """
    for stem, files, backgrounds in _comp1k_plan(
        fg_dir, alpha_dir, bg_dir, bg_names_file, n_bg, fg_names_file
    ):
        fg = _read_uint8_rgb(files["foreground"])
        alpha = _read_uint8_alpha(files["alpha"])
        for j, bg_path in enumerate(backgrounds):
            image = comp1k_composite(fg, alpha, _read_uint8_rgb(bg_path))
            yield BenchmarkComposite(f"{stem}_{j}", stem, bg_path, files["alpha"], image)


def write_composite_test_set(
    out_dir: PathLike,
    fg_dir: PathLike,
    alpha_dir: PathLike,
    trimap_dir: PathLike,
    bg_dir: PathLike,
    bg_names_file: PathLike | None = None,
    n_bg: int = 20,
    *,
    fg_names_file: PathLike | None = None,
    overwrite: bool = False,
) -> list[EvalItem]:
    """Write the composites of :func:`comp1k_test_composites` to ``out_dir/<name>.png``.

    Returns evaluation items whose alpha is the foreground's own file and whose trimap is
    ``trimap_dir/<name>`` or, failing that, ``trimap_dir/<fg stem>`` (Composition-1k ships one
    trimap per foreground). Existing composites are kept unless ``overwrite`` (they are a
    deterministic function of the inputs).
    """
    out = Path(out_dir)
    trimap_folder = _folder(Path(trimap_dir), "test trimaps")
    trimaps = list_images(trimap_folder)
    plan = _comp1k_plan(fg_dir, alpha_dir, bg_dir, bg_names_file, n_bg, fg_names_file)
    items: list[EvalItem] = []
    for stem, files, backgrounds in plan:
        fg = alpha = None
        for j, bg_path in enumerate(backgrounds):
            name = f"{stem}_{j}"
            trimap = trimaps.get(name) or trimaps.get(stem)
            if trimap is None:
                raise InputError(f"{trimap_folder}: no trimap named {name!r} or {stem!r}")
            target = out / f"{name}.png"
            if overwrite or not target.is_file():
                if fg is None:
                    fg = _read_uint8_rgb(files["foreground"])
                    alpha = _read_uint8_alpha(files["alpha"])
                assert alpha is not None
                write_png(target, comp1k_composite(fg, alpha, _read_uint8_rgb(bg_path)))
            items.append(EvalItem(name, target, files["alpha"], trimap))
    return items


# --------------------------------------------------------------------------------------------
# Distinctions-646, AM-2k, P3M-10k, PPM-100


def d646_items(
    root: PathLike,
    *,
    split: str = "Train",
    fg_dir: str = "FG",
    alpha_dir: str = "GT",
    skip_unmatched: bool = False,
) -> list[ForegroundItem]:
    """Distinctions-646 foregrounds: ``root/<split>/{FG,GT}`` (split ``Train`` or ``Test``).

    The test split is composited like Composition-1k: pass ``root/Test/FG``, ``root/Test/GT``
    and ``root/Test/Trimap`` to :func:`write_composite_test_set`.
    """
    folder = _folder(Path(root) / split, f"Distinctions-646 {split} split")
    return _fg_items("Distinctions-646", folder / fg_dir, folder / alpha_dir, skip_unmatched)


def am2k_train_items(
    root: PathLike,
    *,
    split_dir: str = "train",
    image_dir: str = "original",
    alpha_dir: str = "mask",
    skip_unmatched: bool = False,
) -> list[ForegroundItem]:
    """AM-2k training photos + alphas (``root/train/{original,mask}``); no fg colours."""
    folder = _folder(Path(root) / split_dir, "AM-2k training split")
    return _image_items("AM-2k", folder / image_dir, folder / alpha_dir, skip_unmatched)


def am2k_eval_items(
    root: PathLike,
    *,
    split_dir: str = "validation",
    image_dir: str = "original",
    alpha_dir: str = "mask",
    trimap_dir: str = "trimap",
    skip_unmatched: bool = False,
) -> list[EvalItem]:
    """AM-2k validation set: ``root/validation/{original,mask,trimap}``."""
    folder = _folder(Path(root) / split_dir, "AM-2k validation split")
    return _eval_items(
        "AM-2k", folder / image_dir, folder / alpha_dir, folder / trimap_dir, skip_unmatched
    )


def p3m_train_items(
    root: PathLike,
    *,
    split_dir: str = "train",
    image_dir: str = "blurred_image",
    alpha_dir: str = "mask",
    skip_unmatched: bool = False,
) -> list[ForegroundItem]:
    """P3M-10k training photos (face-blurred) + alphas: ``root/train/{blurred_image,mask}``."""
    folder = _folder(Path(root) / split_dir, "P3M-10k training split")
    return _image_items("P3M-10k", folder / image_dir, folder / alpha_dir, skip_unmatched)


def p3m_eval_items(
    root: PathLike,
    subset: str = "P3M-500-P",
    *,
    split_dir: str = "validation",
    image_dir: str | None = None,
    alpha_dir: str = "mask",
    trimap_dir: str = "trimap",
    skip_unmatched: bool = False,
) -> list[EvalItem]:
    """P3M-500-P (``blurred_image``) or P3M-500-NP (``original_image``) validation items.

    ``root/validation/<subset>/{<image_dir>,mask,trimap}``; ``image_dir`` defaults by subset.
    """
    if image_dir is None:
        image_dir = "original_image" if subset.upper().endswith("NP") else "blurred_image"
    folder = _folder(Path(root) / split_dir / subset, f"P3M-10k {subset}")
    return _eval_items(
        "P3M-10k", folder / image_dir, folder / alpha_dir, folder / trimap_dir, skip_unmatched
    )


def ppm100_train_items(
    root: PathLike, *, image_dir: str = "image", alpha_dir: str = "matte",
    skip_unmatched: bool = False,
) -> list[ForegroundItem]:
    """PPM-100 photos + mattes (``root/{image,matte}``); no fg colours."""
    base = Path(root)
    return _image_items("PPM-100", base / image_dir, base / alpha_dir, skip_unmatched)


def ppm100_eval_items(
    root: PathLike, *, image_dir: str = "image", alpha_dir: str = "matte",
    trimap_dir: str = "trimap", skip_unmatched: bool = False,
) -> list[EvalItem]:
    """PPM-100 with trimaps (``root/{image,matte,trimap}``); the original set has none: make
    them with ``alphagan.trimap.trimap_from_alpha`` and write them to ``root/trimap``."""
    base = Path(root)
    return _eval_items(
        "PPM-100", base / image_dir, base / alpha_dir, base / trimap_dir, skip_unmatched
    )


# --------------------------------------------------------------------------------------------
# alphamatting.com


def alphamatting_train_items(
    root: PathLike,
    *,
    image_dir: str = "input_training_lowres",
    alpha_dir: str = "gt_training_lowres",
    skip_unmatched: bool = False,
) -> list[ForegroundItem]:
    """alphamatting.com training photos + ground-truth alphas (27 scenes; 18 in ../shared)."""
    base = _folder(Path(root), "alphamatting.com root")
    return _image_items("alphamatting.com", base / image_dir, base / alpha_dir, skip_unmatched)


def alphamatting_eval_items(
    root: PathLike,
    trimap_set: str = "Trimap1",
    names: Sequence[str] | None = None,
    *,
    image_dir: str = "input_training_lowres",
    alpha_dir: str = "gt_training_lowres",
    trimap_dir: str = "trimap_training_lowres",
    skip_unmatched: bool = False,
) -> list[EvalItem]:
    """alphamatting.com training scenes with the user trimaps ``Trimap1`` or ``Trimap2``.

    ``names`` keeps only those stems (e.g. ``["GT01", "GT04"]``), in the order given; an
    unknown name raises ``InputError``.
    """
    base = _folder(Path(root), "alphamatting.com root")
    items = _eval_items(
        "alphamatting.com", base / image_dir, base / alpha_dir,
        base / trimap_dir / trimap_set, skip_unmatched,
    )
    if names is None:
        return items
    by_name = {item.name: item for item in items}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise InputError(f"{base / image_dir}: no scene named {', '.join(unknown)}")
    return [by_name[n] for n in names]
