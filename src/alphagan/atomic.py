"""Atomic file writes: a reader never sees a half-written output."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "atomic_path",
    "write_text_atomic",
    "write_bytes_atomic",
    "write_all_or_none",
    "remove_stale_temps",
]

# Longest file name (bytes) most file systems take; temporary names are kept within it.
_NAME_MAX = 255
_TEMP_EXTRA = len(".") + len(".12345678.tmp")  # what _create_temp adds around the stem


def _temp_name(dest: Path, token: str) -> str:
    """``.{stem}.{token}.tmp{suffix}``, the stem shortened so the name fits ``_NAME_MAX``
    bytes (an output whose own name fits must not fail on its temporary file's name)."""
    stem = dest.stem
    room = _NAME_MAX - _TEMP_EXTRA - len(dest.suffix.encode())
    encoded = stem.encode()
    if len(encoded) > room:
        stem = encoded[: max(room, 1)].decode("utf-8", errors="ignore")
    return f".{stem}.{token}.tmp{dest.suffix}"


def _create_temp(dest: Path) -> Path:
    """Create an empty, uniquely named dot-file beside ``dest`` (``list_images`` skips it).

    os.open with mode 0o666 lets the umask set the final permissions, unlike
    tempfile.mkstemp's 0o600. The destination's suffix is kept last so libraries that pick a
    format from the name still work.
    """
    for _ in range(100):
        tmp = dest.with_name(_temp_name(dest, secrets.token_hex(4)))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:  # name the output asked for, not our temporary file
            raise type(exc)(exc.errno, exc.strerror or str(exc), str(dest)) from None
        os.close(fd)
        return tmp
    raise OSError(f"{dest}: could not create a temporary file beside it")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    On any exception the temporary file is removed and ``path`` is left untouched. Parent
    folders are created. No fsync: readers never see a partial file, and outputs can be
    regenerated after a power loss, while fsync per file would slow batch runs.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(dest)
    try:
        yield tmp
        os.replace(tmp, dest)
    except OSError as exc:
        raise _naming(exc, dest) from None
    finally:
        tmp.unlink(missing_ok=True)


def _naming(exc: OSError, dest: Path) -> OSError:
    """``exc`` with ``dest`` as its file name when the system gave none (a full disk while
    writing), so the message says which output failed."""
    if exc.filename is not None:
        return exc
    named = type(exc)(exc.errno, exc.strerror or str(exc), str(dest))
    return named


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_all_or_none(files: dict[Path, bytes]) -> None:
    """Write several files so that either all of them are replaced or none is.

    Every file is first written to a temporary file beside its destination (a full disk or a
    bad path fails here, before any destination changes); then all are renamed into place.
    If a rename fails, the destinations already renamed that did not exist before are
    removed again, and every temporary file is deleted. Raises the ``OSError``.
    """
    staged: list[tuple[Path, Path]] = []
    renamed: list[Path] = []
    existed = {dest: dest.exists() for dest in files}
    try:
        for dest, data in files.items():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = _create_temp(dest)
            staged.append((tmp, dest))
            tmp.write_bytes(data)
        for tmp, dest in staged:
            os.replace(tmp, dest)
            renamed.append(dest)
    except BaseException as exc:
        for dest in renamed:
            if not existed[dest]:
                dest.unlink(missing_ok=True)
        if isinstance(exc, OSError) and staged:
            raise _naming(exc, staged[-1][1]) from None
        raise
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def remove_stale_temps(dest: str | os.PathLike[str]) -> list[Path]:
    """Delete temporary files that a killed writer of ``dest`` left beside it.

    Only names of the form :func:`atomic_path` creates for ``dest`` are touched. Call it when
    no other process is writing ``dest`` (e.g. when a training run starts). Returns the paths
    removed.
    """
    dest = Path(dest)
    if not dest.parent.is_dir():
        return []
    prefix = _temp_name(dest, "").split("..tmp")[0] + "."
    removed = []
    for entry in dest.parent.iterdir():
        name = entry.name
        if (name.startswith(prefix) and name.endswith(f".tmp{dest.suffix}")
                and len(name) == len(prefix) + 8 + len(f".tmp{dest.suffix}")):
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed
