"""Tests for alphagan.evaluate: folder pairing, file decoding, the JSON shape and the table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alphagan.errors import InputError
from alphagan.evaluate import (
    EvaluationResult,
    evaluate_folders,
    format_table,
)
from alphagan.metrics import compute_all

SHAPE = (6, 8)  # (H, W)


def make_case(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pred, gt, trimap) uint8 arrays with an unknown band in the middle columns."""
    rng = np.random.default_rng(seed)
    trimap = np.full(SHAPE, 128, np.uint8)
    trimap[:, :2] = 0
    trimap[:, -2:] = 255
    gt = rng.integers(0, 256, SHAPE, dtype=np.uint8)
    gt[trimap == 0] = 0
    gt[trimap == 255] = 255
    pred = rng.integers(0, 256, SHAPE, dtype=np.uint8)
    return pred, gt, trimap


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path, Path, dict]:
    """pred/ gt/ trimap/ with stems a, b, c in the formats users bring."""
    dirs = tuple(tmp_path / name for name in ("pred", "gt", "trimap"))
    for d in dirs:
        d.mkdir()
    pred_dir, gt_dir, trimap_dir = dirs
    arrays = {}
    for i, stem in enumerate(["b", "a", "c"]):
        pred, gt, trimap = make_case(i)
        arrays[stem] = (pred, gt, trimap)
        Image.fromarray(pred, "L").save(pred_dir / f"{stem}.png")
        # ground truth as RGB with equal channels, like alphamatting.com
        Image.fromarray(np.stack([gt] * 3, axis=-1), "RGB").save(gt_dir / f"{stem}.png")
        # trimap as a palette image with slightly off grey levels, upper-case extension
        off = trimap.copy()
        off[off == 128] = 127
        off[off == 255] = 250
        Image.fromarray(off, "L").convert("P").save(trimap_dir / f"{stem}.PNG")
    (pred_dir / "notes.txt").write_text("not an image")  # ignored
    return pred_dir, gt_dir, trimap_dir, arrays


def test_pairs_by_stem_and_scores_every_image(folders) -> None:
    pred_dir, gt_dir, trimap_dir, arrays = folders
    result = evaluate_folders(pred_dir, gt_dir, trimap_dir)
    assert sorted(result.per_image) == ["a", "b", "c"]
    for stem, (pred, gt, trimap) in arrays.items():
        assert result.per_image[stem] == compute_all(pred, gt, trimap)
    for key in ("sad", "mse", "grad", "conn"):
        values = [result.per_image[s][key] for s in "abc"]
        assert result.mean[key] == pytest.approx(sum(values) / 3, rel=1e-12)


def test_to_json_shape(folders) -> None:
    result = evaluate_folders(*folders[:3])
    data = json.loads(json.dumps(result.to_json()))
    assert set(data) == {"mean", "per_image"}
    assert list(data["mean"]) == ["sad", "mse", "grad", "conn"]
    assert list(data["per_image"]) == ["a", "b", "c"]
    for scores in data["per_image"].values():
        assert list(scores) == ["sad", "mse", "grad", "conn"]
        assert all(isinstance(v, float) for v in scores.values())


def test_format_table() -> None:
    result = EvaluationResult(
        per_image={
            "zebra_long_name": {"sad": 12.345, "mse": 0.0123456, "grad": 3.0, "conn": 11.111},
            "apple": {"sad": 1.0, "mse": 0.5, "grad": 2.5, "conn": 0.004},
        },
        mean={"sad": 6.6725, "mse": 0.2561728, "grad": 2.75, "conn": 5.5575},
    )
    lines = format_table(result).splitlines()
    assert lines[0].split() == ["image", "SAD", "MSE", "Grad", "Conn"]
    names = [line.split()[0] for line in lines if not line.startswith("-")]
    assert names == ["image", "apple", "zebra_long_name", "mean"]
    assert lines[2].split() == ["apple", "1.00", "0.50000", "2.50", "0.00"]
    assert lines[3].split() == ["zebra_long_name", "12.35", "0.01235", "3.00", "11.11"]
    assert lines[-1].split() == ["mean", "6.67", "0.25617", "2.75", "5.56"]
    assert len({len(line) for line in lines}) == 1  # fixed width


def test_unmatched_predictions_are_listed_and_the_rest_scored(folders) -> None:
    pred_dir, gt_dir, trimap_dir, _ = folders
    full = evaluate_folders(pred_dir, gt_dir, trimap_dir)
    (gt_dir / "a.png").unlink()
    Image.fromarray(np.zeros(SHAPE, np.uint8)).save(pred_dir / "extra.png")
    result = evaluate_folders(pred_dir, gt_dir, trimap_dir)
    # a: present as pred and trimap, missing from gt; extra: only in pred
    assert result.unmatched == [
        f"{pred_dir / 'a.png'}: no a.* in the gt folder {gt_dir}",
        f"{pred_dir / 'extra.png'}: no extra.* in the gt folder {gt_dir} and the trimap "
        f"folder {trimap_dir}",
    ]
    assert sorted(result.per_image) == sorted(set(full.per_image) - {"a"})
    for stem, scores in result.per_image.items():
        assert scores == full.per_image[stem]


def test_a_superset_ground_truth_folder_is_fine(folders) -> None:
    pred_dir, gt_dir, trimap_dir, _ = folders
    full = evaluate_folders(pred_dir, gt_dir, trimap_dir)
    (pred_dir / "a.png").unlink()  # gt and trimaps now hold one more than the predictions
    result = evaluate_folders(pred_dir, gt_dir, trimap_dir)
    assert result.unmatched == [] and "a" not in result.per_image
    assert result.per_image == {k: v for k, v in full.per_image.items() if k != "a"}


def test_nothing_to_score_is_an_error(folders, tmp_path: Path) -> None:
    pred_dir, gt_dir, trimap_dir, _ = folders
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(np.zeros(SHAPE, np.uint8)).save(other / "zzz.png")
    with pytest.raises(InputError, match="has both a ground truth"):
        evaluate_folders(other, gt_dir, trimap_dir)


def test_missing_and_empty_folders(tmp_path: Path, folders) -> None:
    pred_dir, gt_dir, trimap_dir, _ = folders
    with pytest.raises(InputError, match="nowhere: no such folder"):
        evaluate_folders(pred_dir, tmp_path / "nowhere", trimap_dir)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("")
    with pytest.raises(InputError, match="trimap folder .*empty holds no images"):
        evaluate_folders(pred_dir, gt_dir, empty)


def test_two_files_with_one_stem(folders) -> None:
    pred_dir, gt_dir, trimap_dir, arrays = folders
    Image.fromarray(arrays["a"][0]).save(pred_dir / "a.bmp")
    result = evaluate_folders(pred_dir, gt_dir, trimap_dir)
    assert result.unmatched[:2] == [
        f"{pred_dir / 'a.bmp'}: shares the stem 'a' with a.png (files are paired by stem; "
        "rename one)",
        f"{pred_dir / 'a.png'}: shares the stem 'a' with a.bmp (files are paired by stem; "
        "rename one)",
    ]
    assert sorted(result.per_image) == ["b", "c"]  # the rest is scored


def test_size_mismatch_names_the_files(folders) -> None:
    pred_dir, gt_dir, trimap_dir, _ = folders
    Image.fromarray(np.zeros((6, 9), np.uint8)).save(pred_dir / "b.png")
    result = evaluate_folders(pred_dir, gt_dir, trimap_dir)
    [line] = result.unmatched
    assert line.startswith(f"{pred_dir / 'b.png'}: image sizes differ")
    assert f"{pred_dir / 'b.png'} is 9x6" in line and f"{gt_dir / 'b.png'} is 8x6" in line
    assert sorted(result.per_image) == ["a", "c"]


def test_undecodable_file_is_named(folders) -> None:
    pred_dir, gt_dir, trimap_dir, _ = folders
    (pred_dir / "c.png").write_bytes(b"not a png at all")
    result = evaluate_folders(pred_dir, gt_dir, trimap_dir)
    assert len(result.unmatched) == 1
    assert result.unmatched[0].startswith(f"{pred_dir / 'c.png'}: cannot decode")
    assert sorted(result.per_image) == ["a", "b"]


def test_trimap_without_unknown_pixels_names_the_file(folders) -> None:
    pred_dir, gt_dir, trimap_dir, _ = folders
    Image.fromarray(np.zeros(SHAPE, np.uint8)).save(trimap_dir / "a.PNG")
    result = evaluate_folders(pred_dir, gt_dir, trimap_dir)
    assert len(result.unmatched) == 1 and "no unknown" in result.unmatched[0]
    assert result.unmatched[0].endswith("nothing to score")  # not "to matte": this scores
    assert result.unmatched[0].startswith(f"{trimap_dir / 'a.PNG'}: ")


def test_16_bit_prediction_scores_like_8_bit(folders) -> None:
    pred_dir, gt_dir, trimap_dir, _ = folders
    before = evaluate_folders(pred_dir, gt_dir, trimap_dir).per_image["a"]
    pred8 = np.asarray(Image.open(pred_dir / "a.png"))
    (pred_dir / "a.png").unlink()
    Image.fromarray(pred8.astype(np.uint16) * 257).save(pred_dir / "a.png")
    after = evaluate_folders(pred_dir, gt_dir, trimap_dir).per_image["a"]
    for key in before:
        assert after[key] == pytest.approx(before[key], rel=1e-9)


def test_when_nothing_scores_every_problem_is_named(folders) -> None:
    """No prediction scores: the error lists every reason (a wrong size, a colour file, a
    stem without ground truth), not only the first, so each can be fixed in one go."""
    pred_dir, gt_dir, trimap_dir, _ = folders
    Image.fromarray(np.zeros((6, 9), np.uint8)).save(pred_dir / "a.png")  # wrong size
    rgb = np.zeros((*SHAPE, 3), np.uint8)
    rgb[..., 0] = 255
    Image.fromarray(rgb, "RGB").save(pred_dir / "b.png")  # colour
    (pred_dir / "c.png").unlink()
    Image.fromarray(np.zeros(SHAPE, np.uint8)).save(pred_dir / "zzz.png")  # no ground truth
    with pytest.raises(InputError) as caught:
        evaluate_folders(pred_dir, gt_dir, trimap_dir)
    message = str(caught.value)
    assert "could be scored (3 problem(s))" in message and "\n" not in message
    for name in ("a.png", "b.png", "zzz.png"):
        assert str(pred_dir / name) in message
