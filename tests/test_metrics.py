"""Tests for alphagan.metrics: hand-computed golden values, invariants, and comparisons with
slow, independent re-implementations of the DIM MATLAB evaluation code written below."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from alphagan import metrics
from alphagan.errors import InputError
from alphagan.metrics import compute_all, connectivity_error, gradient_error, mse, sad

DATA_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "alphamatting"


# --- slow reference implementations (MATLAB code transcribed with explicit loops) ----------


def ref_gauss(x: float, sigma: float) -> float:
    return math.exp(-(x**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))


def ref_dgauss(x: float, sigma: float) -> float:
    return -x * ref_gauss(x, sigma) / sigma**2


def ref_kernel(sigma: float = 1.4) -> np.ndarray:
    """gaussgradient.m's hx, element by element."""
    epsilon = 1e-2
    halfsize = math.ceil(sigma * math.sqrt(-2 * math.log(math.sqrt(2 * math.pi) * sigma * epsilon)))
    size = 2 * halfsize + 1
    hx = np.zeros((size, size))
    for i in range(size):  # MATLAB i = 1..size -> u(1) = i - halfsize - 1
        for j in range(size):
            hx[i, j] = ref_gauss(i - halfsize, sigma) * ref_dgauss(j - halfsize, sigma)
    return hx / math.sqrt(float(np.sum(np.abs(hx) * np.abs(hx))))


def ref_conv_pixel_loops(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """imfilter(image, kernel, 'replicate', 'conv') with a loop per pixel and per tap."""
    h = kernel.shape[0] // 2
    rows, cols = image.shape
    out = np.zeros_like(image, dtype=np.float64)
    for y in range(rows):
        for x in range(cols):
            acc = 0.0
            for i in range(kernel.shape[0]):
                for j in range(kernel.shape[1]):
                    yy = min(max(y - (i - h), 0), rows - 1)  # 'conv' flips; clamp = replicate
                    xx = min(max(x - (j - h), 0), cols - 1)
                    acc += kernel[i, j] * image[yy, xx]
            out[y, x] = acc
    return out


def ref_conv_taps(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The same convolution on a replicate-padded array, one shifted slice per tap."""
    h = kernel.shape[0] // 2
    rows, cols = image.shape
    padded = np.pad(image.astype(np.float64), h, mode="edge")
    out = np.zeros((rows, cols))
    for i in range(kernel.shape[0]):
        for j in range(kernel.shape[1]):
            dy, dx = i - h, j - h  # out[y, x] += k[i, j] * image[y - dy, x - dx]
            out += kernel[i, j] * padded[h - dy : h - dy + rows, h - dx : h - dx + cols]
    return out


def ref_clamp(pred: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    pred = pred.copy()
    pred[trimap == 0] = 0
    pred[trimap == 255] = 255
    return pred


def ref_mat2gray(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64)
    return np.zeros_like(a) if a.max() == a.min() else (a - a.min()) / (a.max() - a.min())


def ref_sad(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> float:
    error_map = np.abs(ref_clamp(pred, trimap).astype(np.float64) - gt) / 255
    return float(np.sum(error_map * (trimap == 128)) / 1000)


def ref_mse(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> float:
    error_map = (ref_clamp(pred, trimap).astype(np.float64) - gt) / 255
    return float(np.sum(error_map**2 * (trimap == 128)) / np.sum(trimap == 128))


def ref_gradient(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> float:
    hx = ref_kernel()
    hy = hx.T

    def amplitude(a: np.ndarray) -> np.ndarray:
        a = ref_mat2gray(a)
        return np.sqrt(ref_conv_taps(a, hx) ** 2 + ref_conv_taps(a, hy) ** 2)

    error_map = (amplitude(ref_clamp(pred, trimap)) - amplitude(gt)) ** 2
    return float(np.sum(error_map * (trimap == 128)) / 1000)


def ref_connectivity(
    pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray, step: float = 0.1
) -> float:
    """compute_connectivity_error.m line by line, in single precision like MATLAB."""
    p = ref_clamp(pred, trimap).astype(np.float32) / np.float32(255)
    t = gt.astype(np.float32) / np.float32(255)
    thresh_steps = [k * step for k in range(math.floor(1 / step + 1e-9) + 1)]  # 0:step:1
    l_map = -np.ones(p.shape)
    for ii in range(1, len(thresh_steps)):
        both = (p >= thresh_steps[ii]) & (t >= thresh_steps[ii])
        # bwconncomp(.., 4) numbers components in column-major order: label the transpose
        # (scipy numbers in raster order; its default 2D structure is 4-connectivity).
        labels_t, n = ndimage.label(both.T)
        omega = np.zeros(p.shape, dtype=bool)
        if n > 0:
            size_vec = np.bincount(labels_t.ravel())[1:]
            max_id = int(np.argmax(size_vec)) + 1  # first of the largest, like MATLAB's max
            omega = (labels_t == max_id).T
        flag = (l_map == -1) & ~omega
        l_map[flag] = thresh_steps[ii - 1]
    l_map[l_map == -1] = 1
    pred_d = p - l_map
    target_d = t - l_map
    pred_phi = 1 - pred_d * (pred_d >= 0.15)
    target_phi = 1 - target_d * (target_d >= 0.15)
    return float(np.sum(np.abs(pred_phi - target_phi) * (trimap == 128)) / 1000)


# --- fixtures --------------------------------------------------------------------------------


def smooth_alpha(rng: np.random.Generator, shape: tuple[int, int] = (40, 50)) -> np.ndarray:
    """A uint8 alpha with solid 0 and 255 areas and smooth transitions."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), 3.0)
    field = (field - field.mean()) / field.std()
    return np.round(np.clip(0.5 + 0.6 * field, 0, 1) * 255).astype(np.uint8)


def trimap_from(gt: np.ndarray) -> np.ndarray:
    """Unknown band around 0 < gt < 255; known regions agree with gt."""
    trimap = np.full(gt.shape, 128, dtype=np.uint8)
    trimap[ndimage.binary_erosion(gt == 0, iterations=2)] = 0
    trimap[ndimage.binary_erosion(gt == 255, iterations=2)] = 255
    return trimap


def perturbed(rng: np.random.Generator, gt: np.ndarray) -> np.ndarray:
    noise = ndimage.gaussian_filter(rng.standard_normal(gt.shape), 1.5) * 120
    return np.clip(np.round(gt + noise), 0, 255).astype(np.uint8)


def random_case(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gt = smooth_alpha(rng)
    return perturbed(rng, gt), gt, trimap_from(gt)


# --- SAD and MSE: golden values ----------------------------------------------------------

# Columns: background | unknown | unknown | foreground.
GOLDEN_TRIMAP = np.array([[0, 128, 128, 255]] * 4, dtype=np.uint8)
GOLDEN_GT = np.array(
    [[0, 0, 255, 255], [0, 51, 204, 255], [0, 102, 153, 255], [0, 0, 255, 255]], dtype=np.uint8
)
GOLDEN_PRED = np.array(  # 40 and 200 lie in known regions: clamped away, never counted
    [[40, 0, 255, 200], [0, 102, 204, 255], [0, 102, 0, 255], [0, 51, 255, 255]], dtype=np.uint8
)


def test_sad_golden() -> None:
    # unknown differences: (1,1) 102-51 = 51, (2,2) 0-153 = -153, (3,1) 51-0 = 51, rest 0
    # SAD = (51 + 153 + 51) / 255 / 1000 = 255 / 255 / 1000 = 0.001
    assert sad(GOLDEN_PRED, GOLDEN_GT, GOLDEN_TRIMAP) == pytest.approx(0.001, rel=1e-12)


def test_mse_golden() -> None:
    # ((51/255)^2 + (153/255)^2 + (51/255)^2) / 8 unknown = (0.04 + 0.36 + 0.04) / 8 = 0.055
    assert mse(GOLDEN_PRED, GOLDEN_GT, GOLDEN_TRIMAP) == pytest.approx(0.055, rel=1e-12)


# --- connectivity: golden values -----------------------------------------------------------

ALL_UNKNOWN_4x4 = np.full((4, 4), 128, dtype=np.uint8)
CONN_GT = np.array(
    [[255, 255, 0, 0], [255, 255, 0, 0], [0, 0, 0, 0], [0, 0, 0, 255]], dtype=np.uint8
)


def block_pred(value: int) -> np.ndarray:
    pred = CONN_GT.copy()
    pred[:2, :2] = value
    return pred


def test_connectivity_golden_background_is_not_a_component() -> None:
    # min(pred, gt): 2x2 block = 221 (0.867), (3,3) = 255, 11 zeros (the background).
    # t = 0.1 .. 0.8: components {block: 4 px, (3,3): 1 px} -> omega = block. At t = 0.1 the
    #   zeros and (3,3) leave: l = 0.
    # t = 0.9, 1.0: only (3,3) is left -> omega = (3,3); the block leaves at t = 0.9: l = 0.8.
    # block: pred d = 0.867 - 0.8 < 0.15 -> phi 1; gt d = 0.2 -> phi 0.8: |diff| 0.2 x 4 px.
    # (3,3): d = 1 for both -> phi 0 and 0; zeros: d = 0 -> phi 1 and 1.
    # conn = 0.8 / 1000. Counting the 11-px background as the largest component would give
    # l = 0 for the block and 4 * (1 - 221/255) / 1000 = 0.000533 instead.
    pred = block_pred(221)
    assert connectivity_error(pred, CONN_GT, ALL_UNKNOWN_4x4) == pytest.approx(0.0008, rel=1e-9)
    assert ref_connectivity(pred, CONN_GT, ALL_UNKNOWN_4x4) == pytest.approx(0.0008, rel=1e-6)


def test_connectivity_golden_threshold_tie_is_inside() -> None:
    # Block = 204 = 0.8 * 255 exactly: MATLAB's single(204)/255 >= 0.8 is true, so the block
    # is still in omega at t = 0.8 and leaves at t = 0.9 (l = 0.8): pred d = 0 -> phi 1,
    # gt d = 0.2 -> phi 0.8, conn = 4 * 0.2 / 1000. Excluding the tie would give l = 0.7 and
    # 4 * 0.3 / 1000.
    expected = 0.0008
    assert connectivity_error(block_pred(204), CONN_GT, ALL_UNKNOWN_4x4) == pytest.approx(expected)
    # The same alpha as float k/255 (float32 and float64), and one float32 ulp below 0.8,
    # must land on the same side of the threshold.
    for value in (np.float32(0.8), np.float64(204 / 255), np.nextafter(np.float32(0.8), 0)):
        pred = CONN_GT.astype(type(value)) / type(value)(255)
        pred[:2, :2] = value
        gt = CONN_GT.astype(type(value)) / type(value)(255)
        assert connectivity_error(pred, gt, ALL_UNKNOWN_4x4) == pytest.approx(expected, rel=1e-5)


def test_connectivity_golden_equal_sizes_pick_first_in_column_major_order() -> None:
    # Two 1-px components A = (0,2) (min 221) and B = (2,0) (min 255), t = 0.1 .. 0.8 a tie.
    # bwconncomp scans column-major, so B is component 1 and max() keeps it: A leaves at
    # t = 0.1 (l = 0): pred phi = 1 - 221/255, gt phi = 1 - 1 = 0 -> 34/255; B never leaves
    # (l = 1): d = 0 for both. conn = (34/255) / 1000. (Row-major order would keep A until
    # t = 0.9 and give 0.2 / 1000.)
    gt = np.array([[0, 0, 255], [0, 0, 0], [255, 0, 0]], dtype=np.uint8)
    pred = gt.copy()
    pred[0, 2] = 221
    trimap = np.full((3, 3), 128, dtype=np.uint8)
    assert connectivity_error(pred, gt, trimap) == pytest.approx(34 / 255 / 1000, rel=1e-9)
    assert ref_connectivity(pred, gt, trimap) == pytest.approx(34 / 255 / 1000, rel=1e-6)


def test_connectivity_no_component_at_all() -> None:
    # Everything below 0.1: no component at t = 0.1, every pixel gets l = 0, d = alpha.
    # pred 20/255 = 0.078 and gt 0 both have d < 0.15 -> phi 1 = 1: conn 0.
    pred = np.full((3, 3), 20, dtype=np.uint8)
    gt = np.zeros((3, 3), dtype=np.uint8)
    assert connectivity_error(pred, gt, np.full((3, 3), 128, np.uint8)) == 0.0


def test_connectivity_step_that_does_not_divide_one() -> None:
    # step 0.4: thresholds 0, 0.4, 0.8; never left out -> l = 1 (not 0.8).
    pred, gt, trimap = random_case(7)
    assert connectivity_error(pred, gt, trimap, step=0.4) == pytest.approx(
        ref_connectivity(pred, gt, trimap, step=0.4), rel=1e-6
    )


@pytest.mark.parametrize("seed", range(6))
def test_connectivity_matches_slow_reference_on_random_smooth_alphas(seed: int) -> None:
    pred, gt, trimap = random_case(seed)
    expected = ref_connectivity(pred, gt, trimap)
    assert expected > 0
    assert connectivity_error(pred, gt, trimap) == pytest.approx(expected, rel=1e-6)


# --- gradient ------------------------------------------------------------------------------


def test_gradient_kernel_matches_matlab_formula() -> None:
    hx = metrics._gaussgradient_kernel(1.4)
    assert hx.shape == (9, 9)  # halfsize = ceil(1.4 * sqrt(-2 ln(sqrt(2 pi) 1.4 0.01))) = 4
    np.testing.assert_allclose(hx, ref_kernel(1.4), rtol=1e-12, atol=1e-15)
    assert np.sum(hx * hx) == pytest.approx(1.0, rel=1e-12)  # unit L2 norm
    np.testing.assert_allclose(hx[::-1, :], hx, atol=1e-15)  # rows: Gaussian, symmetric
    np.testing.assert_allclose(hx[:, ::-1], -hx, atol=1e-15)  # columns: G', antisymmetric
    assert hx[4, 3] > 0 > hx[4, 5]  # G'(-1) > 0 > G'(1)


def test_gaussgradient_matches_pixel_loop_convolution() -> None:
    rng = np.random.default_rng(0)
    image = rng.random((7, 11))  # smaller than the kernel in one dimension: borders everywhere
    hx = ref_kernel()
    gx, gy = metrics._gaussgradient(image)
    np.testing.assert_allclose(gx, ref_conv_pixel_loops(image, hx), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(gy, ref_conv_pixel_loops(image, hx.T), rtol=1e-10, atol=1e-13)
    # hy = hx': the y gradient of an image is the x gradient of its transpose
    gx_t, _ = metrics._gaussgradient(np.ascontiguousarray(image.T))
    np.testing.assert_allclose(gy, gx_t.T, rtol=1e-12, atol=1e-15)


def test_gaussgradient_step_edge_analytic() -> None:
    # I = 1 for columns >= x0, else 0 (replicated borders keep it a step). With
    # hx = G(v) G'(u) / N: gx(x) = sum_v G(v) * sum_{u <= x - x0} G'(u) / N, and gy = 0
    # because sum_u G'(u) = 0 (G' is odd).
    sigma, x0 = 1.4, 10
    image = np.zeros((12, 20))
    image[:, x0:] = 1.0
    u = range(-4, 5)
    g_sum = sum(ref_gauss(v, sigma) for v in u)
    norm = math.sqrt(sum(ref_gauss(v, sigma) ** 2 for v in u)) * math.sqrt(
        sum(ref_dgauss(v, sigma) ** 2 for v in u)
    )
    expected = [
        g_sum * sum(ref_dgauss(k, sigma) for k in u if k <= x - x0) / norm for x in range(20)
    ]
    gx, gy = metrics._gaussgradient(image)
    for row in gx:
        np.testing.assert_allclose(row, expected, rtol=1e-12, atol=1e-14)
    assert np.abs(gy).max() < 1e-12
    assert gx[:, x0 - 1] == pytest.approx(gx[:, x0])  # peak straddles the edge
    assert gx[0, x0] > 0 and gx[0, x0 - 5] == pytest.approx(0, abs=1e-14)


def test_gradient_error_uses_min_max_normalisation() -> None:
    # mat2gray normalises pred and gt separately by their own min and max, so scaling both by
    # 0.5 (they then span [0, 127.5]) changes nothing, whereas /255 would quarter the error.
    # No foreground in the trimap, because clamping to 255 would not scale.
    rng = np.random.default_rng(3)
    gt = ndimage.gaussian_filter(rng.random((30, 40)), 2)
    gt = (gt - gt.min()) / (gt.max() - gt.min())
    pred = np.clip(gt + ndimage.gaussian_filter(rng.standard_normal(gt.shape), 1.0) * 0.2, 0, 1)
    trimap = np.full(gt.shape, 128, dtype=np.uint8)
    trimap[:, :3] = 0  # known background, where pred and gt agree (pred gets clamped there)
    gt[:, :3] = 0.0
    pred[:, :3] = 0.0
    full = gradient_error(pred, gt, trimap)
    assert full > 0
    assert gradient_error(0.5 * pred, 0.5 * gt, trimap) == pytest.approx(full, rel=1e-9)
    # gt = 0.5 * pred normalises to the same image: zero error (/255 would not give zero)
    assert gradient_error(pred, 0.5 * pred, trimap) == pytest.approx(0.0, abs=1e-15)


def test_gradient_matches_slow_reference_on_random_smooth_alphas() -> None:
    for seed in range(3):
        pred, gt, trimap = random_case(seed)
        assert gradient_error(pred, gt, trimap) == pytest.approx(
            ref_gradient(pred, gt, trimap), rel=1e-9
        )


def test_gradient_matches_slow_reference_across_strips() -> None:
    # Taller than several of the filter's row strips, with unknown rows in only some strips
    # (including the first and last rows), so that strip borders and skipped strips are hit.
    rng = np.random.default_rng(21)
    gt = smooth_alpha(rng, (150, 30))
    pred = perturbed(rng, gt)
    trimap = np.where(gt > 127, 255, 0).astype(np.uint8)
    for rows in (slice(0, 3), slice(60, 70), slice(127, 129), slice(148, 150)):
        trimap[rows, 5:25] = 128
    assert gradient_error(pred, gt, trimap) == pytest.approx(
        ref_gradient(pred, gt, trimap), rel=1e-9
    )


# --- clamping, invariants, conventions ----------------------------------------------------------


def test_errors_in_known_regions_do_not_count() -> None:
    pred, gt, trimap = random_case(11)
    clean = pred.copy()
    clean[trimap == 0] = 0
    clean[trimap == 255] = 255
    dirty = clean.copy()
    rng = np.random.default_rng(12)
    known = trimap != 128
    dirty[known] = rng.integers(0, 256, size=int(known.sum()), dtype=np.uint8)
    assert compute_all(dirty, gt, trimap) == compute_all(clean, gt, trimap)
    assert compute_all(clean, gt, trimap)["sad"] > 0


def test_perfect_prediction_scores_zero() -> None:
    _, gt, trimap = random_case(4)
    assert compute_all(gt, gt, trimap) == {"sad": 0.0, "mse": 0.0, "grad": 0.0, "conn": 0.0}


def test_sad_and_mse_are_symmetric() -> None:
    pred, gt, trimap = random_case(5)
    pred[trimap == 0] = 0  # known regions agree, so clamping pred or gt is the same
    pred[trimap == 255] = 255
    assert sad(pred, gt, trimap) == pytest.approx(sad(gt, pred, trimap), rel=1e-12)
    assert mse(pred, gt, trimap) == pytest.approx(mse(gt, pred, trimap), rel=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_dtype_conventions_agree(seed: int) -> None:
    pred, gt, trimap = random_case(seed)
    # put pixels exactly on connectivity thresholds (k = 25.5 n) to exercise the ties
    grid = pred[::7, ::5]  # a view
    grid[...] = np.resize(np.array([51, 102, 153, 204, 255], np.uint8), grid.shape)
    expected = compute_all(pred, gt, trimap)
    float_trimap = np.select([trimap == 0, trimap == 255], [0.0, 1.0], 0.5).astype(np.float32)
    f32 = np.float32
    variants = [
        (pred.astype(f32) / f32(255), gt.astype(f32) / f32(255), trimap),
        (pred / 255.0, gt / 255.0, float_trimap),
        (pred.astype(np.uint16) * 257, gt.astype(np.uint16) * 257, trimap),
        (pred.astype(np.int64), gt, trimap.astype(np.int32)),
    ]
    for p, g, t in variants:
        got = compute_all(p, g, t)
        for key in expected:
            assert got[key] == pytest.approx(expected[key], rel=1e-6), key


def test_compute_all_keys_and_values() -> None:
    result = compute_all(GOLDEN_PRED, GOLDEN_GT, GOLDEN_TRIMAP)
    assert list(result) == ["sad", "mse", "grad", "conn"]
    assert all(type(v) is float for v in result.values())
    assert result["sad"] == sad(GOLDEN_PRED, GOLDEN_GT, GOLDEN_TRIMAP)
    assert result["grad"] == gradient_error(GOLDEN_PRED, GOLDEN_GT, GOLDEN_TRIMAP)
    assert result["conn"] == connectivity_error(GOLDEN_PRED, GOLDEN_GT, GOLDEN_TRIMAP)


# --- malformed inputs --------------------------------------------------------------------------


def test_shape_mismatch_is_an_input_error() -> None:
    a = np.zeros((4, 4), np.uint8)
    with pytest.raises(InputError, match="same shape"):
        sad(a, np.zeros((4, 5), np.uint8), a)


def test_grey_saved_as_rgb_scores_like_its_channel() -> None:
    """Equal R, G, B (a grey matte saved as RGB) is read as that grey, as files are."""
    rng = np.random.default_rng(4)
    gt = rng.integers(0, 256, (12, 12), dtype=np.uint8)
    pred = rng.integers(0, 256, (12, 12), dtype=np.uint8)
    trimap = np.full((12, 12), 128, np.uint8)
    as_rgb = np.repeat(gt[..., None], 3, axis=2)
    assert compute_all(pred, as_rgb, trimap) == compute_all(pred, gt, trimap)


def test_non_2d_input_is_an_input_error() -> None:
    a = np.zeros((4, 4), np.uint8)
    with pytest.raises(InputError, match=r"pred: .*shape \(4, 4, 4\).*expected an alpha matte HxW"):
        compute_all(np.zeros((4, 4, 4), np.uint8), a, a)
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 200
    with pytest.raises(InputError, match=r"pred: got a colour .*expected an alpha matte"):
        compute_all(red, a, a)
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[..., 0] = 128  # a red trimap: not one grey level per pixel
    with pytest.raises(InputError, match="trimap: got a colour"):
        gradient_error(a, a, colour)


def test_no_unknown_pixels() -> None:
    a = np.zeros((4, 4), np.uint8)
    trimap = np.full((4, 4), 255, np.uint8)
    with pytest.raises(InputError, match="no unknown"):
        mse(a, a, trimap)
    with pytest.raises(InputError, match="no unknown"):
        compute_all(a, a, trimap)
    assert sad(a, a, trimap) == 0.0
    assert gradient_error(a, a, trimap) == 0.0
    assert connectivity_error(a, a, trimap) == 0.0


def test_bad_values_are_input_errors() -> None:
    a = np.zeros((4, 4), np.uint8)
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        sad(np.full((4, 4), 200.0), a, a)  # float on the 0..255 scale
    with pytest.raises(InputError, match="NaN"):
        sad(np.full((4, 4), np.nan), a, a)
    with pytest.raises(InputError, match="0..255"):
        sad(np.full((4, 4), 300), a, a)
    with pytest.raises(InputError, match="got a bool array"):
        sad(np.zeros((4, 4), bool), a, a)
    with pytest.raises(InputError, match="trimap"):
        sad(a, a, np.full((4, 4), 128.0))
    with pytest.raises(InputError, match="step"):
        connectivity_error(a, a, np.full((4, 4), 128, np.uint8), step=0.0)


# --- real data ---------------------------------------------------------------------------------


@pytest.mark.skipif(
    not (DATA_ROOT / "gt_training_lowres").is_dir(),
    reason=f"alphamatting.com data not found at {DATA_ROOT}",
)
@pytest.mark.parametrize("name", ["GT01.png", "GT02.png"])
def test_real_images_match_slow_references(name: str) -> None:
    rgb = np.asarray(Image.open(DATA_ROOT / "gt_training_lowres" / name))
    assert rgb.ndim == 3 and (rgb[..., 0] == rgb[..., 2]).all()  # RGB with equal channels
    gt = np.ascontiguousarray(rgb[..., 0])
    trimap = np.asarray(
        Image.open(DATA_ROOT / "trimap_training_lowres" / "Trimap1" / name).convert("L")
    )
    assert set(np.unique(trimap)) <= {0, 128, 255}
    pred = cv2.GaussianBlur(gt, (0, 0), 2.0)
    got = compute_all(pred, gt, trimap)
    expected = {
        "sad": ref_sad(pred, gt, trimap),
        "mse": ref_mse(pred, gt, trimap),
        "grad": ref_gradient(pred, gt, trimap),
        "conn": ref_connectivity(pred, gt, trimap),
    }
    for key, value in expected.items():
        assert value > 0, key
        assert got[key] == pytest.approx(value, rel=1e-3), key
