"""The EfficientNet-Lite encoder: published weight names, ImageNet behaviour, matting layout."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
import torch
from torch import nn

from alphagan.errors import InputError
from alphagan.models import (
    AlphaGANGenerator,
    EfficientNetLiteEncoder,
    GeneratorConfig,
    load_backbone_weights,
    packaged_weights,
)
from alphagan.models.efficientnet import (
    EFFICIENTNET_LITE_MEAN,
    EFFICIENTNET_LITE_STD,
    lite_stages,
)
from alphagan.tiling import context_radius

LITE0 = GeneratorConfig(
    encoder="efficientnet_lite0", mean=EFFICIENTNET_LITE_MEAN, std=EFFICIENTNET_LITE_STD,
    aspp_channels=32, skip_channels=16, stem_skip_channels=8, decoder_channels=(32, 16, 16),
)
# Cat classes of ImageNet-1k: 281 tabby, 282 tiger cat, 283 Persian, 284 Siamese, 285 Egyptian.
CATS = set(range(281, 286))


def weights_or_skip() -> dict[str, torch.Tensor]:
    try:
        path = packaged_weights("efficientnet_lite0")
    except InputError as exc:
        pytest.skip(f"ImageNet weights not installed ({exc})")
    return torch.load(path, map_location="cpu", weights_only=True)


def chelsea_batch() -> torch.Tensor:
    """scikit-image's photo of a cat, resized to 224x224, normalised as the Lite models expect."""
    skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the photo")
    x = torch.from_numpy(np.ascontiguousarray(skimage_data.chelsea())).permute(2, 0, 1)[None]
    x = nn.functional.interpolate(x.float() / 255, size=(224, 224), mode="bilinear",
                                  antialias=True)
    mean = torch.tensor(EFFICIENTNET_LITE_MEAN).view(1, 3, 1, 1)
    return (x - mean) / torch.tensor(EFFICIENTNET_LITE_STD).view(1, 3, 1, 1)


def lite0_key_shapes() -> dict[str, tuple[int, ...]]:
    """Keys and shapes of the published lite0 state_dict, written out from the block table of
    efficientnet_lite_builder.py independently of the encoder code (classifier excluded)."""
    shapes: dict[str, tuple[int, ...]] = {"_conv_stem.weight": (32, 3, 3, 3)}

    def bn(prefix: str, c: int) -> None:
        for name in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{name}"] = (c,)
        shapes[f"{prefix}.num_batches_tracked"] = ()

    bn("_bn0", 32)
    table = [(1, 3, 16, 1), (6, 3, 24, 2), (6, 5, 40, 2), (6, 3, 80, 3), (6, 5, 112, 3),
             (6, 5, 192, 4), (6, 3, 320, 1)]
    c_in, i = 32, 0
    for expand, k, c_out, repeats in table:
        for _ in range(repeats):
            hidden = c_in * expand
            if expand != 1:
                shapes[f"_blocks.{i}._expand_conv.weight"] = (hidden, c_in, 1, 1)
                bn(f"_blocks.{i}._bn0", hidden)
            shapes[f"_blocks.{i}._depthwise_conv.weight"] = (hidden, 1, k, k)
            bn(f"_blocks.{i}._bn1", hidden)
            shapes[f"_blocks.{i}._project_conv.weight"] = (c_out, hidden, 1, 1)
            bn(f"_blocks.{i}._bn2", c_out)
            c_in, i = c_out, i + 1
    return shapes


def test_names_and_shapes_match_the_published_layout() -> None:
    encoder = EfficientNetLiteEncoder(in_channels=3)
    got = {k: tuple(v.shape) for k, v in encoder.state_dict().items()}
    assert got == lite0_key_shapes()


def test_deeper_variants_follow_the_builder() -> None:
    # lite1: depth 1.1 -> ceil(1.1 * r) blocks in stages 2-6, first and last stage fixed.
    assert [s.repeats for s in lite_stages("efficientnet_lite1")] == [1, 3, 3, 4, 4, 5, 1]
    # lite2: width 1.1 rounds 24 -> 24, 40 -> 48, 80 -> 88, 112 -> 120, 192 -> 208, 320 -> 352.
    assert [s.out_channels for s in lite_stages("efficientnet_lite2")] == [
        16, 24, 48, 88, 120, 208, 352]
    with pytest.raises(ValueError, match="unknown EfficientNet-Lite variant"):
        lite_stages("efficientnet_b0")


def test_packaged_weights_classify_a_cat_photo_as_a_cat() -> None:
    """The name mapping is right: the published ImageNet network, rebuilt from our modules and
    loaded from the packaged file without renaming, names scikit-image's cat photo a cat."""
    state = weights_or_skip()
    bn = functools.partial(nn.BatchNorm2d, eps=1e-3)
    x = chelsea_batch()
    for output_stride, min_prob in ((32, 0.5), (8, 0.1)):
        encoder = EfficientNetLiteEncoder(in_channels=3, classifier=True, norm_layer=bn,
                                          output_stride=output_stride)
        encoder.load_state_dict(state)  # strict: every key maps, none is left over
        with torch.no_grad():
            probs = encoder.eval().classify(x).softmax(dim=1)[0]
        top = int(probs.argmax())
        assert top in CATS and float(probs[top]) > min_prob, (output_stride, top)
    # A random network (same code, no weights) does not: the test can fail.
    torch.manual_seed(0)
    untrained = EfficientNetLiteEncoder(in_channels=3, classifier=True, output_stride=32)
    with torch.no_grad():
        assert float(untrained.eval().classify(x).softmax(dim=1)[0, sorted(CATS)].sum()) < 0.1


def test_generator_loads_imagenet_weights_with_zero_trimap_filters() -> None:
    state = weights_or_skip()
    generator = AlphaGANGenerator(LITE0)
    report = load_backbone_weights(generator, "imagenet")
    assert not report.missing
    assert {k.split(".")[0] for k in report.unused} == {"_conv_head", "_bn1", "_fc"}
    stem = generator.encoder._conv_stem.weight
    assert stem.shape == (32, 4, 3, 3)
    assert torch.equal(stem[:, :3], state["_conv_stem.weight"])
    assert torch.count_nonzero(stem[:, 3]) == 0
    # The BatchNorm eps of the published weights (TensorFlow's 1e-3), not torch's default.
    assert generator.encoder._bn0.eps == pytest.approx(1e-3)


def test_resnet_file_is_refused_by_a_lite_generator(tmp_path) -> None:
    path = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, path)
    with pytest.raises(InputError, match="no tensor matches the efficientnet_lite0 encoder"):
        load_backbone_weights(AlphaGANGenerator(LITE0), path)


def test_resnet_encoder_has_no_packaged_weights() -> None:
    with pytest.raises(InputError, match="no installable package"):
        load_backbone_weights(AlphaGANGenerator(GeneratorConfig(
            encoder_layers=(1, 1, 1, 1), encoder_width=8)), "imagenet")


def test_matting_layout_strides_and_unpooling() -> None:
    """Output stride 8 with the 2x2 pool's indices at 1/2 -> 1/4 and skips at 1/4 and 1/2."""
    encoder = EfficientNetLiteEncoder().eval()
    with torch.no_grad():
        feats = encoder(torch.rand(1, 4, 64, 96))
    assert feats.stem.shape == (1, 16, 32, 48)
    assert feats.indices.shape == (1, 16, 16, 24)
    assert feats.layer1.shape == (1, 24, 16, 24)
    assert feats.out.shape == (1, 320, 8, 12)
    # The indices point at each 2x2 cell's maximum of the stage-1 output.
    pooled = nn.functional.max_pool2d(feats.stem, 2)
    at_indices = feats.stem.flatten(2).gather(2, feats.indices.flatten(2))
    assert torch.equal(at_indices, pooled.flatten(2))


def test_generator_output_shape_range_and_backward() -> None:
    generator = AlphaGANGenerator(LITE0)
    image, trimap = torch.rand(2, 3, 50, 70), torch.full((2, 1, 50, 70), 0.5)
    alpha = generator(image, trimap)
    assert alpha.shape == (2, 1, 50, 70)
    assert 0 <= float(alpha.detach().min()) and float(alpha.detach().max()) <= 1
    alpha.mean().backward()
    assert generator.encoder._conv_stem.weight.grad is not None


def test_context_radius_equals_gradient_footprint_for_lite() -> None:
    from tests.test_inference_fast import gradient_footprint

    config = dataclasses.replace(LITE0, aspp_rates=(2,), dilations=(2, 3))
    radius = context_radius(config)
    assert gradient_footprint(config, height=2 * radius + 80) == radius


@pytest.mark.parametrize(("kernel", "dilation", "size"), [(5, 2, (28, 28)), (3, 4, (27, 30)),
                                                          (5, 4, (13, 9)), (3, 1, (10, 7))])
def test_depthwise_phases_equal_the_dilated_convolution(kernel, dilation, size) -> None:
    from alphagan.models.efficientnet import DepthwiseConv2d

    torch.manual_seed(0)
    conv = DepthwiseConv2d(6, kernel, dilation=dilation).double()
    reference = nn.Conv2d(6, 6, kernel, padding=dilation * (kernel // 2), dilation=dilation,
                          groups=6, bias=False).double()
    reference.weight.data.copy_(conv.weight.data)
    x = torch.randn(2, 6, *size, dtype=torch.float64, requires_grad=True)
    y, y_ref = conv(x), reference(x)
    assert torch.allclose(y, y_ref, atol=1e-12)
    g, = torch.autograd.grad(y.square().sum(), x)
    g_ref, = torch.autograd.grad(y_ref.square().sum(), x)
    assert torch.allclose(g, g_ref, atol=1e-10)


def test_batchnorm_folding_covers_the_lite_blocks() -> None:
    from alphagan.models.fuse import fold_batchnorm
    from tests.test_inference_fast import randomize_batchnorm

    torch.manual_seed(0)
    generator = randomize_batchnorm(AlphaGANGenerator(LITE0))
    folded = fold_batchnorm(generator)
    remaining = [n for n, m in folded.encoder.named_modules() if isinstance(m, nn.BatchNorm2d)]
    assert remaining == []
    image, trimap = torch.rand(1, 3, 40, 56), torch.full((1, 1, 40, 56), 0.5)
    with torch.no_grad():
        assert torch.allclose(folded(image, trimap), generator(image, trimap), atol=1e-5)


@pytest.mark.slow
def test_lite_model_round_trips_and_predicts_exactly_on_the_unknown_region(tmp_path) -> None:
    """A saved Lite generator rebuilds from its file alone, and predict's default crop to the
    unknown region (margin = the traced context radius) equals the whole-image run."""
    from alphagan.checkpoint import load_model, save_model
    from alphagan.inference import predict_alpha
    from tests.test_inference_fast import randomize_batchnorm

    torch.manual_seed(0)
    model = randomize_batchnorm(AlphaGANGenerator(dataclasses.replace(LITE0, aspp_rates=(2,))))
    path = tmp_path / "lite.safetensors"
    save_model(model, path)
    loaded = load_model(path)
    assert loaded.config == model.config
    rng = np.random.default_rng(0)
    size = 2 * context_radius(model.config) + 64
    image = rng.random((size, size + 8, 3), dtype=np.float32)
    trimap = np.zeros((size, size + 8), np.float32)
    trimap[:, size // 2 + 40:] = 1.0
    trimap[size // 2 - 8: size // 2 + 8, size // 2 - 8: size // 2 + 8] = 0.5
    full = predict_alpha(loaded, image, trimap, region="full", tta="none")
    crop = predict_alpha(loaded, image, trimap, region="unknown", tta="none")
    unknown = trimap == 0.5
    assert np.abs(full[unknown] - crop[unknown]).max() < 1e-5
