"""Fixtures of the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alphagan.examples import make_example
from alphagan.io import write_png
from alphagan.trimap import trimap_to_uint8


@pytest.fixture(scope="module")
def micro_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config training a tiny model on 3 synthetic foregrounds (no pymatting needed)."""
    root = tmp_path_factory.mktemp("micro")
    for seed in range(3):
        scene = make_example(64, 80, seed=seed)
        write_png(root / "fg" / f"s{seed}.png", scene.foreground)
        write_png(root / "alpha" / f"s{seed}.png", scene.alpha)
        write_png(root / "bg" / f"s{seed}.png", scene.background)
        write_png(root / "val_image" / f"s{seed}.png", scene.image)
        write_png(root / "val_trimap" / f"s{seed}.png", trimap_to_uint8(scene.trimap))
    config = {
        "model": {
            "generator": {"encoder_layers": [1, 1, 1, 1], "encoder_width": 8, "norm": "group",
                          "aspp_rates": [1, 2, 3], "aspp_channels": 16, "skip_channels": 8,
                          "stem_skip_channels": 8, "decoder_channels": [16, 8, 8],
                          "final_convs": 1},
            "disc_channels": 8, "disc_layers": 2, "disc_norm": "group",
        },
        "data": {
            "train": [{"layout": "folder", "alpha_dir": str(root / "alpha"),
                       "fg_dir": str(root / "fg")}],
            "backgrounds": [str(root / "bg")],
            "val": {"layout": "folder", "image_dir": str(root / "val_image"),
                    "alpha_dir": str(root / "alpha"), "trimap_dir": str(root / "val_trimap"),
                    "names": ["s0"]},
            "crop_size": 32, "crop_choices": [32, 48], "trimap_kernel": [1, 5], "workers": 0,
        },
        "optim": {"warmup_steps": 2},
        "steps": 6, "batch_size": 2, "log_every": 1, "image_every": 3, "val_every": 3,
        "checkpoint_every": 2, "precision": "fp32",
    }
    path = root / "micro.yaml"
    path.write_text(yaml.safe_dump(config))
    return path
