"""One-line CLI messages found by a new-user test: they name what the user gave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alphagan.cli import main


@pytest.fixture()
def pair(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    image, trimap = tmp_path / "img.png", tmp_path / "tri.png"
    Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(image)
    t = np.zeros((24, 32), np.uint8)
    t[:, 16:] = 255
    t[:, 12:20] = 128
    Image.fromarray(t).save(trimap)
    return image, trimap


def test_unwritable_output_names_the_output_not_a_temporary_file(pair, capsys) -> None:
    image, trimap = pair
    # /proc refuses new files: the failure happens when the temporary file is created.
    assert main(["predict", str(image), str(trimap), "-o", "/proc/out.png"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "/proc/out.png" in err and ".tmp" not in err


def test_bad_background_is_refused_even_without_a_composite(pair, tmp_path, capsys) -> None:
    image, trimap = pair
    out = tmp_path / "out.png"
    code = main(["predict", str(image), str(trimap), "-o", str(out), "--background",
                 "notacolour"])
    assert code == 1 and not out.exists()
    assert "--background notacolour" in capsys.readouterr().err
