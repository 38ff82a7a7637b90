"""A figure of what a generator gets wrong, on scenes the project owns (not ../shared data).

Renders unseen procedural scenes (``alphagan.synth`` foregrounds with seeds the training
set never used, composited on the package's procedural backgrounds) as rows of
image | trimap | true alpha | predicted alpha | |error| x4, and prints each row's SAD.

    python -m benchmarks.failure_figure --out docs/failures.png [--checkpoint CKPT]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from alphagan.checkpoint import default_checkpoint, load_model
from alphagan.inference import predict_alpha
from alphagan.io import write_png
from alphagan.metrics import sad
from alphagan.synth import smooth_noise, synth_foreground
from alphagan.trimap import trimap_from_alpha

TEST_SEED = 10_000  # training used seed 0 for items 0..N: these ids never appear there


def scene(index: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng([TEST_SEED, index])
    fg, alpha = synth_foreground(rng, (size, size))
    bg = 0.15 + 0.7 * smooth_noise(rng, size, size, 5, 3)
    image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    return image.astype(np.float32), alpha, trimap_from_alpha(alpha, erode=6, dilate=6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/failures.png"))
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    model = load_model(args.checkpoint or default_checkpoint())
    rows = []
    for i in range(args.rows):
        image, alpha, trimap = scene(i, args.size)
        pred = predict_alpha(model, image, trimap, region="full", tta="none", tile=None)
        err = np.clip(np.abs(pred - alpha) * 4, 0, 1)
        print(f"scene {i}: SAD {sad(pred, alpha, trimap):.2f}")
        grey = lambda a: np.repeat(a[..., None], 3, axis=2)  # noqa: E731
        panels = [image, grey(trimap), grey(alpha), grey(pred), cv2.applyColorMap(
            (err * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1] / 255.0]
        rows.append(np.concatenate(panels, axis=1))
    write_png(args.out, np.concatenate(rows, axis=0))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
