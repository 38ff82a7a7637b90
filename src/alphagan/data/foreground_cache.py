"""Foreground colours for datasets that ship only a photo and its alpha, estimated once.

Compositing a training sample needs the foreground colours F, not the photo. For AM-2k,
P3M-10k, PPM-100 and alphamatting.com, F is estimated from image + alpha with pymatting's
multi-level method (:func:`alphagan.foreground.estimate_foreground`) and stored as an 8-bit
PNG under a cache folder, named by a SHA-256 of both files' contents and the method. A moved
or copied dataset therefore still hits the cache, and an edited file misses it. Files are
written atomically, so parallel processes or a crash never leave a partial PNG behind.

Call :func:`prepare_foregrounds` in the main process before DataLoader workers start;
:class:`~alphagan.data.CompositionDataset` does it at construction if you have not.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from alphagan.data.composition import ForegroundItem
from alphagan.errors import InputError
from alphagan.files import MAX_IMAGE_BYTES, open_regular
from alphagan.foreground import estimate_foreground
from alphagan.io import read_alpha, read_image, write_png

__all__ = [
    "default_cache_dir",
    "foreground_cache_key",
    "cached_foreground",
    "prepare_foregrounds",
]

# Part of every key: change it when the estimate changes (method, parameters, bit depth), so
# old cache files are not reused for a different result.
_METHOD = b"alphagan-foreground-v1:pymatting.estimate_foreground_ml:8bit-png"
_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/alphagan/foregrounds``, by default ``~/.cache/alphagan/foregrounds``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "alphagan" / "foregrounds"


def foreground_cache_key(image: Path, alpha: Path) -> str:
    """Hex SHA-256 of the method tag and the contents of ``image`` and ``alpha``."""
    digest = hashlib.sha256(_METHOD)
    for path in (Path(image), Path(alpha)):
        with open_regular(path, MAX_IMAGE_BYTES, what="image file") as (file, _):
            file_digest = hashlib.sha256()
            try:
                while chunk := file.read(_CHUNK):
                    file_digest.update(chunk)
            except OSError as exc:
                raise InputError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
        digest.update(file_digest.digest())  # fixed length: no ambiguity between the two files
    return digest.hexdigest()


def cached_foreground(image: Path, alpha: Path, cache_dir: Path | None = None) -> Path:
    """Path of the cached foreground PNG for ``image`` + ``alpha``, estimating it on a miss.

    The PNG is 8-bit RGB, the size of ``image``. Raises ``InputError`` when a file is missing
    or unreadable, or the two sizes differ.
    """
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = folder / f"{foreground_cache_key(image, alpha)}.png"
    if target.is_file():
        return target
    photo = read_image(image)
    matte = read_alpha(alpha)
    if photo.shape[:2] != matte.shape:
        raise InputError(
            f"{image}: image is {photo.shape[1]}x{photo.shape[0]} but its alpha {alpha} is "
            f"{matte.shape[1]}x{matte.shape[0]}"
        )
    # write_png renames a finished temporary file over the target: concurrent writers of the
    # same key produce identical bytes, and the last rename wins.
    write_png(target, estimate_foreground(photo, matte))
    return target


def prepare_foregrounds(
    items: Sequence[ForegroundItem], cache_dir: Path | None = None, *, progress: bool = True
) -> list[ForegroundItem]:
    """Return ``items`` with every ``fg`` set, estimating missing ones into the cache.

    Items that already have ``fg`` are returned unchanged; the others need ``image``
    (``InputError`` otherwise). ``progress`` shows a tqdm bar on stderr while resolving.
    """
    missing = [i for i, item in enumerate(items) if item.fg is None]
    for i in missing:
        if items[i].image is None:
            raise InputError(
                f"{items[i].alpha}: item {items[i].name!r} has neither a foreground (fg) "
                "nor an image to estimate one from"
            )
    resolved = list(items)
    if not missing:
        return resolved
    from tqdm import tqdm  # only here: importing the package stays light

    for i in tqdm(
        missing, desc="foregrounds", unit="image", disable=not progress, file=sys.stderr
    ):
        item = items[i]
        assert item.image is not None
        resolved[i] = replace(item, fg=cached_foreground(item.image, item.alpha, cache_dir))
    return resolved
