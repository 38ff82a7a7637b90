"""The benchmark command's pieces: FLOP counting, peaks, the table and the README update."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import run as bench
from benchmarks.model_stats import count_flops


def test_model_child_counts_the_flops_of_a_full_frame() -> None:
    # 160x120 is a multiple of 8: one forward, no padding, no tiles, so the FLOPs counted
    # over the timed run must equal one plain forward's (the prior's solves are not in it).
    result = bench.child_model("shipped", 120, 160, "fp32", repeats=1)
    assert result["gflop"] * 1e9 == pytest.approx(count_flops(bench._load_generator("shipped"),
                                                              120, 160), rel=1e-9)
    assert result["seconds"] > 0 and result["peak_rss_gib"] > 0.05
    assert result["prior_seconds"] > 0  # the shipped model's cf + KNN solves, timed apart
    assert result["gflop_per_s"] == pytest.approx(result["gflop"] / result["seconds"])
    assert result["ratio_to_peak"] == pytest.approx(
        result["gflop_per_s"] / result["matmul_peak_gflop_per_s"])
    assert result["ratio_to_best_kernel"] <= result["ratio_to_peak"] + 1e-12


def test_render_and_update_readme(tmp_path: Path) -> None:
    results = {
        "models": {"paper 800x600 fp32": {
            "seconds": 4.0, "prior_seconds": None, "peak_rss_gib": 1.5, "gflop": 680.0, "gflop_per_s": 170.0,
            "matmul_peak_gflop_per_s": 150.0, "ratio_to_peak": 170 / 150,
            "conv_peak_gflop_per_s": 200.0, "ratio_to_best_kernel": 0.85}},
        "metrics": {"compute_all": {"seconds": 0.04, "size": "800x600"}},
        "cli": {"one photo": {"stem": "GT01", "size": "800x563", "predict": 1.5,
                              "baseline cf": 2.25, "predict / baseline cf": 1.5 / 2.25}},
        "onnx": {"shipped 800x600": {"error": "exit 1: no onnxruntime"}},
    }
    table = bench.render(results, threads=2)
    assert "| paper | 800x600 | fp32 | 4.000 | n/a | 1.50 | 680.0 | 170.0 | 150.0 | 113% | 85% |" \
        in table
    assert "| metrics: SAD+MSE+Grad+Conn, 800x600 | 0.040 s/image |" in table
    assert ("| one photo from the command line (GT01, 800x563, default outputs, whole process): "
            "`alphagan predict` vs `alphagan baseline --method cf` | 1.50 s vs 2.25 s (0.7x) |") in table
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{bench.MARK_START}\nold\n{bench.MARK_END}\n\nafter\n")
    bench.update_readme(table, "python -m benchmarks.run", readme)
    text = readme.read_text()
    assert "old" not in text and text.endswith("\n\nafter\n")
    assert "Measured with `python -m benchmarks.run`" in text and "| paper | 800x600" in text
    readme.write_text("# no markers\n")
    with pytest.raises(SystemExit, match="no <!-- bench:start -->"):
        bench.update_readme(table, "cmd", readme)


def test_trimap_widths_recovers_known_erosion_and_dilation() -> None:
    import numpy as np

    from benchmarks.trimap_widths import measure

    # A disc with a soft edge (radius 40 +- 5 px); the trimap marks 6 px inside the opaque
    # region and 11 px outside the non-zero region as unknown.
    yy, xx = np.mgrid[0:160, 0:160]
    dist = np.hypot(yy - 80, xx - 80)
    alpha = np.clip((45.0 - dist) / 10.0, 0.0, 1.0).astype(np.float32)
    trimap = np.full(alpha.shape, 0.5, np.float32)
    trimap[dist <= 35 - 6] = 1.0
    trimap[dist >= 45 + 11] = 0.0
    result = measure(alpha, trimap)
    assert result["erosion_r"] == pytest.approx(6.0, abs=1.0)
    assert result["dilation_r"] == pytest.approx(11.0, abs=1.0)
