"""The bundled demo: matte the package's own example scene and write every output."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from alphagan.examples import make_example, smooth_noise
from alphagan.foreground import checkerboard, composite_onto, cutout, estimate_foreground
from alphagan.atomic import write_all_or_none
from alphagan.io import encode_png
from alphagan.metrics import compute_all
from alphagan.pipeline import AlphaEstimator
from alphagan.trimap import trimap_to_uint8

__all__ = ["side_by_side", "run_demo"]


def side_by_side(image: np.ndarray, trimap: np.ndarray, alpha: np.ndarray,
                 foreground: np.ndarray) -> np.ndarray:
    """One picture: image | trimap | alpha | cut-out on a checkerboard (HxW*4x3 in [0,1])."""
    h, w = alpha.shape
    grey = lambda a: np.repeat(a[..., None], 3, axis=2)  # noqa: E731
    on_checks = composite_onto(foreground, alpha, checkerboard(h, w))
    gap = np.ones((h, 8, 3), np.float32)
    panels = [image, grey(trimap), grey(alpha), on_checks]
    return np.concatenate([p for panel in panels for p in (panel, gap)][:-1], axis=1)


def run_demo(out_dir: Path, estimate: AlphaEstimator, label: str) -> dict[str, float]:
    """Matte the example scene with ``estimate`` and write inputs, outputs and a summary
    picture to ``out_dir``. Returns the metrics against the scene's true alpha."""
    scene = make_example()
    start = time.perf_counter()
    alpha = estimate(scene.image, scene.trimap)
    seconds = time.perf_counter() - start
    fg = estimate_foreground(scene.image, alpha)
    h, w = alpha.shape
    rng = np.random.default_rng(1)
    new_bg = cv2.GaussianBlur(smooth_noise(rng, h, w, 3, 3), (0, 0), 3) * 0.6 + 0.3
    outputs = {
        "image": scene.image,
        "trimap": trimap_to_uint8(scene.trimap),
        "alpha": alpha,
        "foreground": fg,
        "cutout": cutout(fg, alpha),
        "composite": composite_onto(fg, alpha, new_bg),
        "side_by_side": side_by_side(scene.image, scene.trimap, alpha, fg),
    }
    # All or nothing: a failure while writing leaves no partial demo folder behind.
    write_all_or_none({out_dir / f"{name}.png": encode_png(array)
                       for name, array in outputs.items()})
    scores = compute_all(alpha, scene.alpha, scene.trimap)
    scores["seconds"] = seconds
    print(f"{label}: matted a {w}x{h} example in {seconds:.2f} s; against its true alpha: "
          f"SAD {scores['sad']:.2f}, MSE {scores['mse']:.4f}, Grad {scores['grad']:.2f}, "
          f"Conn {scores['conn']:.2f}")
    print(f"wrote {', '.join(f'{n}.png' for n in outputs)} to {out_dir}")
    return scores
