"""The package's defaults, in one place: the CLI, ``matte``, ``predict_alpha`` and ``demo``
all read them from here, so one image gives the same matte however it is run.

Plain values only (no imports): the CLI builds its ``--help`` from this module without
importing torch.
"""

from __future__ import annotations

__all__ = [
    "MODEL_NAME",
    "PRECISION",
    "REGION",
    "POOLING",
    "TILE",
    "MAX_SIDE",
    "TTA",
    "INFERENCE",
    "FOREGROUND_THRESHOLD",
    "BACKGROUND_THRESHOLD",
    "ERODE_SIZE",
    "OUTPUTS",
    "BACKGROUND",
    "DEVICE",
]

# The generator shipped in src/alphagan/weights/ (see MODEL_CARD.md).
MODEL_NAME = "alphagan-prior"

# Inference options of predict_alpha (see its docstring for what each does and costs).
PRECISION = "fp32"
REGION = "unknown"  # the network runs only around the unknown pixels (same result, faster)
POOLING = "image"
TILE = "auto"  # 1024-pixel tiles for regions above 4 megapixels
MAX_SIDE: int | None = None
TTA = "flip"  # mean of the image's and its mirror's prediction: lower errors, twice the time

INFERENCE = {
    "precision": PRECISION,
    "region": REGION,
    "pooling": POOLING,
    "tile": TILE,
    "max_side": MAX_SIDE,
    "tta": TTA,
}

# A soft or binary mask -> trimap, with rembg's alpha-matting convention and defaults
# (rembg.remove's alpha_matting_foreground_threshold, _background_threshold, _erode_size):
# mask > 240 is known foreground, mask < 10 known background (0..255 scale), both eroded by
# a 10x10 square; the rest is unknown.
FOREGROUND_THRESHOLD = 240
BACKGROUND_THRESHOLD = 10
ERODE_SIZE = 10

# Command-line outputs and composite background.
OUTPUTS = "alpha,foreground,cutout,composite"
BACKGROUND = "white"
DEVICE = "auto"  # CUDA, then Apple MPS, then CPU
