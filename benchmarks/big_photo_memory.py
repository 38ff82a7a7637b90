"""Peak memory of ``alphagan predict`` on a 6000x4000 photo with the default outputs.

The photo is alphamatting.com's high-resolution GT04 (3280x2310, in ../shared) resized to
6000x4000 (bicubic; its trimap nearest-neighbour), written to a temporary folder; predict
runs in a child process with ``--threads 2`` and its peak resident set size is read from
``getrusage(RUSAGE_CHILDREN)`` (the same number as ``/usr/bin/time -v``'s "Maximum resident
set size").

    python -m benchmarks.big_photo_memory
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "alphamatting_highres"
SIZE = (6000, 4000)  # width, height


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        image = cv2.imread(str(DATA / "input" / "GT04.jpg"), cv2.IMREAD_COLOR)
        trimap = cv2.imread(str(DATA / "trimap" / "Trimap1" / "GT04.png"), cv2.IMREAD_GRAYSCALE)
        if image is None or trimap is None:
            sys.exit(f"GT04 not found under {DATA}")
        cv2.imwrite(str(folder / "big.png"), cv2.resize(image, SIZE, interpolation=cv2.INTER_CUBIC))
        cv2.imwrite(str(folder / "big_trimap.png"),
                    cv2.resize(trimap, SIZE, interpolation=cv2.INTER_NEAREST))
        command = [sys.executable, "-m", "alphagan", "predict", "--image", str(folder / "big.png"),
                   "--trimap", str(folder / "big_trimap.png"), "--out", str(folder / "out"),
                   "--threads", "2", "--quiet"]
        start = time.perf_counter()
        subprocess.run(command, check=True, env={**os.environ})
        seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    print(f"predict {SIZE[0]}x{SIZE[1]}, default outputs, 2 threads: peak RSS "
          f"{peak_kib / 2**20:.2f} GiB, {seconds:.0f} s")


if __name__ == "__main__":
    main()
