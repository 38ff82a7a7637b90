"""Will it fit? Memory estimates for the classical solvers, checked before they start.

pymatting's solvers build sparse matrices over every pixel: closed-form matting on a
3280x2310 photo grows past 8 GB and dies deep inside the solver. Refusing up front, with the
``max_side`` that would fit, is what a user can act on.
"""

from __future__ import annotations

import os

from alphagan.errors import InputError

__all__ = ["BASELINE_BYTES_PER_PIXEL", "available_memory", "check_baseline_memory"]

# Peak memory growth per pixel of pymatting's solvers (ru_maxrss before and after the call),
# measured on GT02 of the alphamatting training set at 800x524: cf 510, knn 3345, lkm 434,
# rw 548, sm 90 bytes. Closed-form grows faster than the pixel count (its preconditioner):
# at 3280x2310 it reached 8.8 GB, 1160 bytes a pixel, so cf is counted at that rate; the
# others get a margin of about 10%.
BASELINE_BYTES_PER_PIXEL = {"cf": 1200, "knn": 3700, "lkm": 480, "rw": 600, "sm": 100}


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux MemAvailable), None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_baseline_memory(method: str, shape: tuple[int, int], available: int | None = None) -> None:
    """Raise ``InputError`` when ``method`` on an image of ``shape`` (H, W) would need more
    memory than is available, naming the ``max_side`` that would fit."""
    available = available_memory() if available is None else available
    if available is None:
        return
    height, width = shape
    need = BASELINE_BYTES_PER_PIXEL[method] * height * width
    if need <= available:
        return
    # pixels scale with the square of the side
    fits = int(max(height, width) * (available / need) ** 0.5) // 8 * 8
    raise InputError(
        f"{method} on a {width}x{height} image needs about {need / 2**30:.1f} GiB, "
        f"{available / 2**30:.1f} GiB available: use --max-side {max(fits, 8)} (max_side=) "
        "or the alphagan method"
    )
