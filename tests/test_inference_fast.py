"""The fast inference path: BN folding, bf16, unknown-region crops, tiles, max_side, CLI flags."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from alphagan.checkpoint import save_model
from alphagan.cli import main
from alphagan.examples import make_example
from alphagan.inference import predict_alpha, prepare_for_inference, set_threads
from alphagan.io import read_grey, write_png
from alphagan.models import AlphaGANGenerator, GeneratorConfig, PatchDiscriminator
from alphagan.models.fuse import fold_batchnorm
from alphagan.tiling import (
    ALIGN,
    context_radius,
    feather,
    override_pooled_mean,
    pooled_mean,
    tile_spans,
    unknown_window,
)
from alphagan.trimap import trimap_to_uint8
from tests.helpers import TINY_CONFIG

# Another small layout: uneven stages, one ASPP rate, two final convs, no image skip.
ODD_CONFIG = GeneratorConfig(
    encoder_layers=(2, 1, 2, 1), encoder_width=8, dilations=(2, 3), aspp_rates=(3,),
    aspp_channels=8, skip_channels=8, stem_skip_channels=8, decoder_channels=(8, 8, 8),
    final_convs=2, image_skip=False,
)


def plain_predict(model, image, trimap, **options):
    """predict_alpha with one plain pass over the whole image unless the test says otherwise
    (the package defaults crop to the unknown region and add a mirrored pass)."""
    return predict_alpha(model, image, trimap, **{"region": "full", "tta": "none", "tile": None,
                                                  **options})


def randomize_batchnorm(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial running statistics and affine terms, so folding has something to fold."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.rand(c, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(c, generator=gen) * 0.4 - 0.2)
    return model.eval()


@pytest.fixture(scope="module")
def tiny() -> AlphaGANGenerator:
    torch.manual_seed(0)
    return randomize_batchnorm(AlphaGANGenerator(TINY_CONFIG))


class Recorder(nn.Module):
    """Alpha = the image's red channel; records the (H, W) of every call."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.sizes: list[tuple[int, int]] = []

    def forward(self, image: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
        self.sizes.append(tuple(image.shape[-2:]))
        return image[:, :1] * self.scale


def scene_with_box(h: int, w: int, box: tuple[int, int, int, int], seed: int = 0):
    """A random image and a trimap: background, with an unknown ring and a foreground core
    inside ``box`` (y0, y1, x0, x1)."""
    rng = np.random.default_rng(seed)
    image = rng.random((h, w, 3), dtype=np.float32)
    image[box[0]:box[1], box[2]:box[3]] *= 0.3  # the crop looks different from the rest
    trimap = np.zeros((h, w), np.float32)
    y0, y1, x0, x1 = box
    trimap[y0:y1, x0:x1] = 0.5
    trimap[y0 + 10:y1 - 10, x0 + 10:x1 - 10] = 1.0
    return image, trimap


# --- BatchNorm folding ------------------------------------------------------------------

@pytest.mark.parametrize("config", [GeneratorConfig(), TINY_CONFIG], ids=["paper", "tiny"])
def test_fold_batchnorm_keeps_generator_outputs(config: GeneratorConfig) -> None:
    torch.manual_seed(0)
    model = randomize_batchnorm(AlphaGANGenerator(config))
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # input untouched
    image, trimap = torch.rand(2, 3, 45, 53), torch.rand(2, 1, 45, 53)
    with torch.no_grad():
        assert (folded(image, trimap) - model(image, trimap)).abs().max() < 1e-5


def test_fold_batchnorm_discriminator_and_guards() -> None:
    torch.manual_seed(0)
    disc = randomize_batchnorm(PatchDiscriminator(base_channels=8))
    folded = fold_batchnorm(disc)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    x = torch.rand(2, 4, 70, 70)
    with torch.no_grad():
        assert (folded(x) - disc(x)).abs().max() < 1e-5
    with pytest.raises(ValueError, match="eval"):
        fold_batchnorm(disc.train())
    group = AlphaGANGenerator(TINY_CONFIG, norm="group").eval()
    assert sum(isinstance(m, nn.GroupNorm) for m in fold_batchnorm(group).modules()) == sum(
        isinstance(m, nn.GroupNorm) for m in group.modules()
    )


def test_prepare_for_inference_copies_and_matches(tiny) -> None:
    image, trimap = scene_with_box(75, 91, (20, 60, 25, 70))
    fast = prepare_for_inference(tiny)
    assert fast is not tiny and any(isinstance(m, nn.BatchNorm2d) for m in tiny.modules())
    assert fast.encoder.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    reference = plain_predict(tiny, image, trimap)
    # Float32 rounding only (folded weights, channels-last kernels), but a max-pool window
    # whose ReLU outputs tie can flip its argmax (the unpooling index): measured up to 2.3e-5.
    assert np.abs(plain_predict(fast, image, trimap) - reference).max() < 1e-4


def test_set_threads() -> None:
    before_torch, before_cv = torch.get_num_threads(), cv2.getNumThreads()
    try:
        set_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before_torch)
        cv2.setNumThreads(before_cv)
    with pytest.raises(ValueError):
        set_threads(0)


# --- precision -------------------------------------------------------------------------

def test_bf16_close_to_fp32(tiny) -> None:
    image, trimap = scene_with_box(96, 120, (20, 80, 30, 100))
    fp32 = plain_predict(tiny, image, trimap)
    bf16 = plain_predict(prepare_for_inference(tiny), image, trimap, precision="bf16")
    assert bf16.dtype == np.float32
    unknown = trimap == 0.5
    # bfloat16 keeps 8 mantissa bits (relative error ~0.4%); measured mean 8e-4 here.
    assert np.abs(bf16 - fp32)[unknown].mean() < 0.01
    assert np.array_equal(bf16[~unknown], fp32[~unknown])


# --- receptive field -------------------------------------------------------------------

def gradient_footprint(config: GeneratorConfig, height: int) -> int:
    """Largest vertical distance from an output pixel to an input pixel with a non-zero
    gradient, over the 8 phases of the stride-8 grid, with the global-pooling branch off.

    A narrow input suffices: the kernels are square, so the horizontal footprint is the same,
    and the path reaching farthest vertically stays in its column.
    """
    torch.manual_seed(0)
    model = AlphaGANGenerator(config).double().eval()
    nn.init.zeros_(model.aspp.convs[-1].conv[0].weight)  # pooling branch: a constant
    image = torch.rand(1, 3, height, 16, dtype=torch.float64, requires_grad=True)
    trimap = torch.rand(1, 1, height, 16, dtype=torch.float64, requires_grad=True)
    alpha = model(image, trimap)
    radius = 0
    centre = height // 2 // ALIGN * ALIGN
    for p in range(centre, centre + ALIGN):
        gi, gt = torch.autograd.grad(alpha[0, 0, p, 8], (image, trimap), retain_graph=True)
        rows = torch.nonzero((gi.abs().sum(dim=(0, 1, 3)) + gt.abs().sum(dim=(0, 1, 3))) != 0)
        assert 0 < rows.min() and rows.max() < height - 1, "input too small for the footprint"
        radius = max(radius, p - int(rows.min()), int(rows.max()) - p)
    return radius


@pytest.mark.parametrize("config", [TINY_CONFIG, ODD_CONFIG], ids=["tiny", "odd"])
def test_context_radius_equals_gradient_footprint(config: GeneratorConfig) -> None:
    radius = context_radius(config)
    assert gradient_footprint(config, height=2 * radius + 80) == radius


def test_context_radius_of_the_paper_model() -> None:
    assert context_radius(TINY_CONFIG) == 133
    assert context_radius(GeneratorConfig()) == 406


# --- region="unknown" ------------------------------------------------------------------

def test_unknown_window_is_aligned_and_keeps_the_last_rows_paddable() -> None:
    unknown = np.zeros((100, 203), bool)
    unknown[40:45, 50:52] = True
    assert unknown_window(unknown, 10) == (24, 56, 40, 64)
    unknown[:] = False
    unknown[98, 201] = True  # at the bottom-right corner of sizes that are not multiples of 8
    y0, y1, x0, x1 = unknown_window(unknown, 0)
    assert (y1, x1) == (100, 203) and y0 % ALIGN == 0 and x0 % ALIGN == 0
    assert y1 - y0 >= ALIGN and x1 - x0 >= ALIGN  # reflect padding, as in the full run
    assert unknown_window(np.zeros((5, 5), bool), 3) is None


@pytest.mark.parametrize(
    ("size", "box"),
    [((400, 480), (180, 240, 200, 270)), ((397, 451), (330, 397, 380, 451))],
    ids=["centre", "bottom-right-edge"],
)
def test_region_unknown_equals_full_run(tiny, size, box) -> None:
    image, trimap = scene_with_box(*size, box)
    full = plain_predict(tiny, image, trimap)
    unknown = trimap == 0.5
    # The defaults, exact context (margin = context radius) and the whole image's pooled
    # mean: the crop computes the same numbers as the full run; only float32 rounding
    # differs (measured <= 1.2e-7: oneDNN blocks differently-sized convolutions differently).
    exact = plain_predict(tiny, image, trimap, region="unknown")
    assert np.abs(exact - full).max() < 1e-5
    # pooling="region": the pooling branch averages over the crop instead (the only
    # difference), a small change, then known pixels are still exact.
    cropped = plain_predict(tiny, image, trimap, region="unknown", pooling="region")
    assert np.abs(cropped - full)[unknown].mean() < 1 / 255
    assert np.array_equal(cropped[~unknown], full[~unknown])
    # The margin matters: without context the crop is visibly different.
    no_context = plain_predict(tiny, image, trimap, region="unknown", margin=0, pooling="image")
    assert np.abs(no_context - full).max() > 1e-3


def test_region_unknown_runs_only_the_window_and_skips_all_known() -> None:
    model = Recorder()
    image, trimap = scene_with_box(300, 320, (100, 140, 120, 170))
    alpha = plain_predict(model, image, trimap, region="unknown", margin=16)
    # unknown rows 100..139, columns 120..169; +-16 and aligned to 8: rows 80..159, 104..191
    assert model.sizes == [(80, 88)]
    unknown = trimap == 0.5
    assert np.allclose(alpha[unknown], image[..., 0][unknown])
    model.sizes.clear()
    known = np.where(trimap == 0.5, 1.0, trimap).astype(np.float32)
    assert np.array_equal(plain_predict(model, image, known, region="unknown", margin=16), known)
    assert model.sizes == []
    with pytest.raises(ValueError, match="margin"):
        plain_predict(model, image, trimap, region="unknown")


# --- tiles -----------------------------------------------------------------------------

@pytest.mark.parametrize("length", [300, 517, 1000, 1031])
def test_tile_spans_cover_with_overlap(length: int) -> None:
    spans = tile_spans(length, 256, 64)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(s % ALIGN == 0 and e - s <= 256 + ALIGN - 1 for s, e in spans)
    assert all(e0 - s1 >= 64 for (_, e0), (s1, _) in zip(spans, spans[1:]))
    weights = np.zeros(length)
    for s, e in spans:
        weights[s:e] += feather((s, e), length, 64)
    assert weights.min() > 0
    assert tile_spans(200, 256, 64) == [(0, 200)]


def test_feather_ramps_are_complementary() -> None:
    left, right = feather((0, 256), 448, 64), feather((192, 448), 448, 64)
    both = left[192:] + right[:64]
    assert np.allclose(both, 1.0) and left[:192].min() == 1.0 and right[64:].min() == 1.0
    assert right[:16].max() == 0.0  # the outer quarter of the overlap is not used


def test_tiles_bound_the_input_size() -> None:
    model = Recorder()
    image, trimap = scene_with_box(600, 700, (0, 600, 0, 700))
    alpha = plain_predict(model, image, trimap, tile=256, overlap=64)
    assert max(max(s) for s in model.sizes) <= 256 + ALIGN - 1 and len(model.sizes) == 12
    inner = trimap == 0.5  # the recorder is pointwise, so blending must give it back exactly
    assert np.allclose(alpha[inner], image[..., 0][inner], atol=1e-6)


def test_tiled_matches_untiled(tiny) -> None:
    scene = make_example(400, 520, seed=1)
    full = plain_predict(tiny, scene.image, scene.trimap)
    tiled = plain_predict(tiny, scene.image, scene.trimap, tile=272, overlap=64)  # 2 x 3
    unknown = scene.trimap == 0.5
    assert np.abs(tiled - full).mean() < 1 / 255
    assert np.abs(tiled - full)[unknown].mean() < 1 / 255
    assert np.array_equal(tiled[~unknown], full[~unknown])
    # Tiles inside an unknown-region crop, with the pooled mean taken over the whole image.
    both = plain_predict(tiny, scene.image, scene.trimap, region="unknown", pooling="image",
                         tile=272, overlap=64)
    assert np.abs(both - full)[unknown].mean() < 1 / 255


def test_pooled_mean_from_tiles_matches_the_whole_image(tiny) -> None:
    image = torch.rand(1, 3, 203, 301)
    trimap = torch.full((1, 1, 203, 301), 0.5)
    captured = []
    hook = tiny.aspp.convs[-1].pool.register_forward_hook(lambda m, i, o: captured.append(o))
    with torch.inference_mode():
        tiny(image, trimap)
    hook.remove()
    run = lambda x, t: tiny(x, t)[0, 0]  # noqa: E731
    with torch.inference_mode():
        whole = pooled_mean(tiny, run, image, trimap, [(0, 203)], [(0, 301)])
        tiled = pooled_mean(tiny, run, image, trimap, tile_spans(203, 128, 32),
                            tile_spans(301, 128, 32))
        # Injecting the whole-image mean into the full run changes nothing.
        with override_pooled_mean(tiny, whole):
            again = tiny(image, trimap)
        plain = tiny(image, trimap)
    assert torch.allclose(whole.float(), captured[0].flatten(), atol=1e-6)
    assert torch.allclose(tiled.float(), captured[0].flatten(), atol=0.05 * whole.abs().max())
    assert torch.allclose(again, plain, atol=1e-6)


# --- max_side --------------------------------------------------------------------------

def test_max_side_downscales_and_keeps_known_exact() -> None:
    model = Recorder()
    image, trimap = scene_with_box(150, 400, (30, 120, 100, 300))
    alpha = plain_predict(model, image, trimap, max_side=200)
    assert model.sizes == [(75, 200)]
    assert alpha.shape == (150, 400) and alpha.dtype == np.float32
    assert (alpha[trimap == 0] == 0).all() and (alpha[trimap == 1] == 1).all()
    model.sizes.clear()
    plain_predict(model, image, trimap, max_side=400)  # already small enough: no resize
    assert model.sizes == [(150, 400)]


# --- CLI -------------------------------------------------------------------------------

@pytest.fixture
def restore_threads():
    before_torch, before_cv = torch.get_num_threads(), cv2.getNumThreads()
    yield
    torch.set_num_threads(before_torch)
    cv2.setNumThreads(before_cv)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    torch.manual_seed(0)
    save_model(randomize_batchnorm(AlphaGANGenerator(TINY_CONFIG)), path)
    return path


@pytest.mark.parametrize(
    "flags",
    [
        [],
        ["--precision", "bf16", "--threads", "1"],
        ["--region", "full", "--tile", "64"],
        ["--region", "unknown", "--tile", "off", "--max-side", "64"],
    ],
    ids=["defaults", "bf16-threads", "full-tiled", "max-side"],
)
def test_cli_predict_fast_flags(tmp_path, checkpoint, flags, restore_threads, capsys) -> None:
    scene = make_example(72, 96, seed=3)
    image, trimap = tmp_path / "cat.png", tmp_path / "cat_trimap.png"
    write_png(image, scene.image)
    write_png(trimap, trimap_to_uint8(scene.trimap))
    out = tmp_path / "out"
    code = main(["predict", "--checkpoint", str(checkpoint), "--image", str(image),
                 "--trimap", str(trimap), "--out", str(out), "--outputs", "alpha", "--quiet",
                 *flags])
    assert code == 0, capsys.readouterr().err
    alpha = read_grey(out / "alpha" / "cat.png")
    assert alpha.shape == (72, 96)
    assert (alpha[scene.trimap == 0] == 0).all() and (alpha[scene.trimap == 1] == 255).all()


@pytest.mark.parametrize(
    "flags",
    [["--tile", "7"], ["--tile", "big"], ["--threads", "0"], ["--max-side", "4"],
     ["--precision", "fp16"], ["--region", "some"]],
)
def test_cli_predict_rejects_bad_fast_flags(tmp_path, checkpoint, flags) -> None:
    code = main(["predict", "--checkpoint", str(checkpoint), "--image", "a.png",
                 "--trimap", "b.png", "--out", str(tmp_path), *flags])
    assert code == 2


# --- test-time augmentation -------------------------------------------------------------

def test_flip_tta_is_the_mean_of_both_passes_and_mirror_equivariant(
        tiny: AlphaGANGenerator) -> None:
    image, trimap = scene_with_box(72, 88, (8, 60, 10, 70), seed=3)
    plain = plain_predict(tiny, image, trimap)
    mirror = plain_predict(tiny, image[:, ::-1].copy(), trimap[:, ::-1].copy())[:, ::-1]
    assert np.abs(plain - mirror).max() > 1e-4  # the model itself is not symmetric
    flip = plain_predict(tiny, image, trimap, tta="flip")
    np.testing.assert_allclose(flip, 0.5 * (plain + mirror), atol=1e-6)
    # averaging over {id, mirror} makes the prediction commute with mirroring
    flip_of_mirror = plain_predict(tiny, image[:, ::-1].copy(), trimap[:, ::-1].copy(),
                                   tta="flip")
    np.testing.assert_allclose(flip_of_mirror[:, ::-1], flip, atol=1e-6)
    assert set(np.unique(flip[trimap != 0.5])) <= {0.0, 1.0}  # known pixels stay exact
    with pytest.raises(ValueError, match="tta"):
        plain_predict(tiny, image, trimap, tta="rotate")


def test_one_model_from_several_threads_gives_single_thread_answers(tiny) -> None:
    """predict_alpha with the package defaults (crop to the unknown region, so the whole
    image's pooled mean is computed through a hook on the shared model; tiles, flip TTA) from
    4 threads at once on different scenes: every answer equals the same call made alone (a
    new-user trial saw the hook of one thread stop another thread's forward)."""
    from concurrent.futures import ThreadPoolExecutor

    scenes = [scene_with_box(320, 400, (60 + 8 * k, 260, 80, 320), seed=k) for k in range(4)]
    options = {"tile": 128, "overlap": 32}
    alone = [predict_alpha(tiny, image, trimap, **options) for image, trimap in scenes]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(2):
            together = list(pool.map(lambda s: predict_alpha(tiny, *s, **options), scenes))
            for a, b in zip(together, alone):
                np.testing.assert_array_equal(a, b)
