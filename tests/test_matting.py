"""alphagan.matte and alphagan.load_model: one call from Python, the CLI's answer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from scipy.ndimage import binary_erosion

import alphagan
from alphagan.checkpoint import DEFAULT_WEIGHTS, save_model
from alphagan.cli import main
from alphagan.errors import InputError
from alphagan.examples import make_example
from alphagan.io import read_alpha, write_png
from alphagan.models import AlphaGANGenerator
from alphagan.models.generator import max_unpool, scatter_unpool
from alphagan.trimap import trimap_from_soft_mask, trimap_to_uint8
from tests.helpers import TINY_CONFIG


@pytest.fixture(scope="module")
def scene():
    return make_example(88, 120, seed=11)


@pytest.fixture(scope="module")
def files(tmp_path_factory, scene):
    folder = tmp_path_factory.mktemp("matte")
    image8 = np.rint(scene.image * 255).astype(np.uint8)
    write_png(folder / "photo.png", image8)
    write_png(folder / "trimap.png", trimap_to_uint8(scene.trimap))
    return folder, image8


# --- load_model --------------------------------------------------------------------------


def test_load_model_by_nothing_name_or_path(tmp_path) -> None:
    shipped = alphagan.load_model()
    by_name = alphagan.load_model("alphagan-prior")
    by_path = alphagan.load_model(DEFAULT_WEIGHTS)
    for other in (by_name, by_path):
        for (k, a), (_, b) in zip(shipped.state_dict().items(), other.state_dict().items()):
            assert torch.equal(a, b), k
    assert shipped.config.prior == "cf+knn"  # the default takes the classical priors
    assert alphagan.load_model("alphagan-light").config.prior == "none"  # the other one
    with pytest.raises(InputError, match="neither a shipped model"):
        alphagan.load_model("alphagan-heavy")
    save_model(AlphaGANGenerator(TINY_CONFIG).eval(), tmp_path / "tiny.safetensors")
    assert alphagan.load_model(tmp_path / "tiny.safetensors").config == TINY_CONFIG


# --- matte against the CLI ---------------------------------------------------------------


def test_matte_equals_the_cli_alpha_for_every_input_form(tmp_path, files) -> None:
    folder, image8 = files
    assert main(["predict", "--image", str(folder / "photo.png"), "--trimap",
                 str(folder / "trimap.png"), "--out", str(tmp_path), "--outputs", "alpha",
                 "--quiet", "--device", "cpu"]) == 0
    cli = read_alpha(tmp_path / "alpha" / "photo.png")
    trimap8 = np.asarray(Image.open(folder / "trimap.png"))
    forms = {
        "paths": (folder / "photo.png", folder / "trimap.png"),
        "PIL": (Image.open(folder / "photo.png"), Image.open(folder / "trimap.png")),
        "uint8 arrays (cv2/PIL)": (image8, trimap8),
        "float arrays": (image8 / np.float32(255), (trimap8 / 255.0).astype(np.float32)),
        "pymatting-style float64": (image8 / 255.0, trimap8 / 255.0),
        "RGBA image": (np.dstack([image8, np.full(trimap8.shape, 255, np.uint8)]), trimap8),
    }
    for name, (image, trimap) in forms.items():
        alpha = alphagan.matte(image, trimap, device="cpu")
        assert alpha.dtype == np.float32 and alpha.shape == cli.shape, name
        assert np.abs(alpha - cli).max() <= 1 / 255 + 1e-6, name


def test_uint8_trimap_is_not_read_as_a_hard_mask(files) -> None:
    # The old failure: a 0/128/255 trimap gave every unknown pixel 1.0.
    folder, image8 = files
    trimap8 = np.asarray(Image.open(folder / "trimap.png"))
    alpha = alphagan.predict_alpha(alphagan.load_model(), image8, trimap8)
    unknown = trimap8 == 128
    assert 0.05 < alpha[unknown].mean() < 0.95 and (alpha[unknown] < 0.99).any()


def test_matte_refuses_what_it_cannot_read(files) -> None:
    folder, image8 = files
    trimap8 = np.asarray(Image.open(folder / "trimap.png"))
    with pytest.raises(ValueError, match=r"divide 0..255 data by 255"):
        alphagan.matte(image8.astype(np.float32), trimap8)
    nan_image = image8 / np.float32(255)
    nan_image[3, 4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        alphagan.matte(nan_image, trimap8)
    with pytest.raises(ValueError, match="labels 0/1/2"):
        alphagan.matte(image8, (trimap8 // 127).astype(np.uint8))
    with pytest.raises(ValueError, match="either a trimap or a mask"):
        alphagan.matte(image8)
    with pytest.raises(ValueError, match="is 60x44 but the image is 120x88"):
        alphagan.matte(image8, trimap8[::2, ::2])
    # a crop of the trimap's known part: the size is what is wrong, not the missing grey
    with pytest.raises(ValueError, match="is 10x10 but the image is 120x88"):
        alphagan.matte(image8, np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="no unknown"):
        alphagan.matte(image8, np.full_like(trimap8, 255))
    with pytest.raises(ValueError, match="unknown method"):
        alphagan.matte(image8, trimap8, method="vitmatte")


def test_matte_with_a_baseline_equals_the_baseline(files) -> None:
    folder, image8 = files
    trimap8 = np.asarray(Image.open(folder / "trimap.png"))
    alpha = alphagan.matte(image8, trimap8, method="cf")
    expected = alphagan.estimate_alpha_baseline("cf", image8 / 255.0, trimap8 / 255.0)
    assert np.abs(alpha - expected).max() < 1e-6
    with pytest.raises(ValueError, match="takes only max_side"):
        alphagan.matte(image8, trimap8, method="cf", tta="flip")


# --- masks -------------------------------------------------------------------------------


def rembg_trimap(mask8: np.ndarray, fg: int = 240, bg: int = 10, size: int = 10) -> np.ndarray:
    """rembg's alpha_matting_cutout trimap, written out with scipy as rembg does it."""
    structure = np.ones((size, size), np.uint8)
    is_fg = binary_erosion(mask8 > fg, structure=structure)
    is_bg = binary_erosion(mask8 < bg, structure=structure, border_value=1)
    trimap = np.full(mask8.shape, 0.5, np.float32)
    trimap[is_fg] = 1.0
    trimap[is_bg] = 0.0
    return trimap


@pytest.mark.parametrize("size", [1, 2, 3, 6, 10])
def test_mask_to_trimap_follows_rembg(scene, size) -> None:
    mask8 = np.rint(scene.alpha * 255).astype(np.uint8)
    got = trimap_from_soft_mask(mask8 / np.float32(255), erode_size=size)
    assert np.array_equal(got, rembg_trimap(mask8, size=size))
    got = trimap_from_soft_mask(mask8 / np.float32(255), foreground_threshold=200,
                                background_threshold=50, erode_size=size)
    assert np.array_equal(got, rembg_trimap(mask8, 200, 50, size))


def test_matte_from_a_rembg_style_rgba_cutout(tmp_path, files, scene) -> None:
    folder, image8 = files
    mask8 = np.where(scene.alpha > 0.5, 255, 0).astype(np.uint8)  # a segmentation-like mask
    write_png(tmp_path / "cut.png", np.dstack([image8, mask8]))
    from_file = alphagan.matte(folder / "photo.png", mask=tmp_path / "cut.png", device="cpu")
    expected = alphagan.matte(image8, rembg_trimap(mask8), device="cpu")
    assert np.array_equal(from_file, expected)
    bool_mask = alphagan.matte(image8, mask=scene.alpha > 0.5, device="cpu")
    assert np.array_equal(bool_mask, expected)
    with pytest.raises(ValueError, match="no known pixels"):
        alphagan.matte(image8, mask=np.full(mask8.shape, 128, np.uint8))
    with pytest.raises(ValueError, match="no unknown pixels"):
        alphagan.matte(image8, mask=np.zeros(mask8.shape, np.uint8), erode_size=0)


# --- the other public functions ----------------------------------------------------------


def test_foreground_cutout_composite_accept_uint8(scene) -> None:
    image8 = np.rint(scene.image * 255).astype(np.uint8)
    alpha8 = np.rint(scene.alpha * 255).astype(np.uint8)
    fg8 = alphagan.estimate_foreground(image8, alpha8)
    fg = alphagan.estimate_foreground(image8 / 255.0, alpha8 / 255.0)
    assert np.abs(fg8 - fg).max() < 1e-5 and fg.mean() < 0.95  # not pure white
    cut = alphagan.cutout(fg8, alpha8)
    assert np.abs(cut[..., 3] - alpha8 / 255).max() < 1e-6
    white = alphagan.composite_onto(fg, alpha8, "white")
    for same in ((255, 255, 255), (1.0, 1.0, 1.0), "#ffffff"):
        assert np.array_equal(alphagan.composite_onto(fg, alpha8, same), white)
    expected = (alpha8 / 255)[..., None] * fg + (1 - (alpha8 / 255)[..., None])
    assert np.abs(white - expected).max() < 1e-5


# --- determinism -------------------------------------------------------------------------


def test_max_unpool_is_the_sequential_kernel_in_every_layout() -> None:
    torch.manual_seed(0)
    x = torch.relu(torch.rand(2, 5, 33, 47) - 0.3)
    x[..., 10:20, :] = 0.5  # ties: overlapping windows pick the same pixel
    _, indices = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    values = torch.rand(indices.shape)
    reference = F.max_unpool2d(values, indices, 2, 2, output_size=x.shape[-2:])
    counts = torch.bincount(indices[0, 0].flatten())
    assert (counts > 1).any()  # the case that raced
    assert torch.equal(scatter_unpool(values, indices, 33, 47), reference)
    cl = torch.channels_last
    out = max_unpool(values.contiguous(memory_format=cl), indices.contiguous(memory_format=cl),
                     x.shape[-2:])
    assert torch.equal(out, reference) and out.is_contiguous(memory_format=cl)
