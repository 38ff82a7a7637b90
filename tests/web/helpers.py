"""What the web tests share: limits the test server runs with, scene files, PNG decoding."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alphagan.io import read_alpha, read_image

# Small limits so that the 413 cases need small files.
MAX_MEGAPIXELS = 0.5
MAX_UPLOAD_MB = 4
SCENE_SIZE = (96, 128)  # (H, W): fast for every method
N_SCENES = 8


@dataclass(frozen=True)
class Scenes:
    """Scene files ``images/scene<k>.png`` and ``trimaps/scene<k>.png`` and the CLI's outputs."""

    root: Path

    def image(self, k: int) -> Path:
        return self.root / "images" / f"scene{k}.png"

    def trimap(self, k: int) -> Path:
        return self.root / "trimaps" / f"scene{k}.png"

    def cli_alpha(self, k: int) -> np.ndarray:
        """The CLI's alpha for scene k, uint8 HxW."""
        return np.rint(read_alpha(self.root / "cli" / "alpha" / f"scene{k}.png") * 255)

    def cli_cutout(self, k: int) -> Path:
        return self.root / "cli" / "cutout" / f"scene{k}.png"


@dataclass(frozen=True)
class Server:
    url: str
    tmpdir: Path  # the server's TMPDIR: must stay empty
    log: Path


def png_array(data: bytes) -> np.ndarray:
    """Decode PNG bytes to a uint8 array (HxW, HxWx3 or HxWx4), channels in RGB(A) order."""
    import cv2

    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded is not None, "not a PNG"
    if decoded.ndim == 3:
        decoded = decoded[:, :, [2, 1, 0, 3][: decoded.shape[2]]]
    return decoded


def as_uint8_image(path: Path) -> np.ndarray:
    return np.rint(read_image(path) * 255).astype(np.uint8)
