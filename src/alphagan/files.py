"""The guarded reader: every file the package opens goes through :func:`open_regular`.

A path handed to alphagan comes from a user, a folder listing or a config, so it may name a
FIFO (``open`` blocks forever), a device (``/dev/zero`` reads until memory runs out), a
folder, or a file far larger than anything the package reads. This module refuses those
before any data is read:

- the path must resolve to a *regular* file: it is opened with ``O_NONBLOCK`` (so a FIFO
  cannot block the open) and checked with ``fstat`` on the open descriptor (so a file swapped
  for a FIFO between a check and the open is still caught);
- its size must not exceed the limit given by the caller (images, model files, configs and
  logs each have their own).

Problems raise :class:`~alphagan.errors.InputError` with one line that names the file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from alphagan.errors import InputError

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_MODEL_BYTES",
    "MAX_TEXT_BYTES",
    "open_regular",
    "read_bytes",
    "read_text",
    "describe_os_error",
    "resolved",
]

# An image file larger than this is refused before reading: the largest image the decoders
# accept (alphagan.io.MAX_PIXELS, 16-bit RGBA) is about 1.4 GB uncompressed.
MAX_IMAGE_BYTES = 1 << 31
# Generator files and training checkpoints (the paper model with optimiser state is ~0.5 GB).
MAX_MODEL_BYTES = 16 << 30
# Configs, file lists and metrics logs.
MAX_TEXT_BYTES = 256 << 20

_KINDS = (
    (stat.S_ISDIR, "is a folder, not a file"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a regular file"),
    (stat.S_ISCHR, "is a character device, not a regular file"),
    (stat.S_ISBLK, "is a block device, not a regular file"),
    (stat.S_ISSOCK, "is a socket, not a regular file"),
)


def describe_os_error(exc: OSError) -> str:
    """``strerror`` of an OSError (``"Permission denied"``), or its text without the path."""
    return exc.strerror or str(exc) or type(exc).__name__


@contextlib.contextmanager
def open_regular(path: str | os.PathLike[str], max_bytes: int, *,
                 what: str = "file") -> Iterator[tuple[BinaryIO, int]]:
    """Open ``path`` for binary reading if it is a regular file of at most ``max_bytes``.

    Yields ``(file object, size in bytes)``. Raises ``InputError`` naming the path when it is
    missing, unreadable, a folder, FIFO, device or socket, or larger than ``max_bytes``;
    ``what`` names the kind of file in the size message ("image", "model file", ...).
    """
    name = str(path)
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a folder, not a file") from None
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO or socket without a writer on some systems
            raise InputError(f"{name}: is not a regular file") from None
        raise InputError(f"{name}: cannot open ({describe_os_error(exc)})") from None
    try:
        info = os.fstat(fd)
        for test, message in _KINDS:
            if test(info.st_mode):
                raise InputError(f"{name}: {message}")
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{name}: is not a regular file")
        if info.st_size > max_bytes:
            raise InputError(
                f"{name}: {what} of {info.st_size:,} bytes is larger than the {max_bytes:,} "
                f"bytes alphagan reads"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # a regular file: ordinary blocking reads from here on
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle, info.st_size


def read_bytes(path: str | os.PathLike[str], max_bytes: int, *, what: str = "file") -> bytes:
    """The whole content of a regular file of at most ``max_bytes`` (see :func:`open_regular`)."""
    with open_regular(path, max_bytes, what=what) as (handle, size):
        try:
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({describe_os_error(exc)})") from None
    if len(data) > max_bytes:  # grew while we read it
        raise InputError(f"{path}: {what} is larger than the {max_bytes:,} bytes alphagan reads")
    return data


def read_text(path: str | os.PathLike[str], max_bytes: int = MAX_TEXT_BYTES, *,
              what: str = "text file") -> str:
    """A UTF-8 text file through :func:`read_bytes`; ``InputError`` if it is not UTF-8."""
    data = read_bytes(path, max_bytes, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{Path(path)}: not a UTF-8 text file (byte {exc.start})") from None


def resolved(path: Path) -> Path:
    """``path.resolve()``, with a symbolic-link loop as an ``InputError`` naming ``path``.

    Python before 3.13 raises ``RuntimeError`` for a loop; later versions return a path and
    leave the loop to the first ``open``, so the loop is also looked for with ``os.stat``
    (``ELOOP``). A path that does not exist yet is fine.
    """
    try:
        result = path.resolve()
    except RuntimeError as exc:  # Python < 3.13
        raise InputError(f"{path}: cannot be resolved (a symbolic link loop?): "
                         f"{' '.join(str(exc).split())}") from None
    try:
        os.stat(path)
    except OSError as exc:  # a missing file is fine here: it may be an output to write
        if exc.errno == errno.ELOOP:
            raise InputError(f"{path}: cannot be resolved (a symbolic link loop)") from None
    return result
