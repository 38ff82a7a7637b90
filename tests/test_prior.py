"""Classical priors (alphagan.prior) and the generator / inference / training paths using them."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from alphagan.checkpoint import load_model, save_model
from alphagan.examples import make_example
from alphagan.inference import model_prior, predict_alpha, prepare_for_inference
from alphagan.models import AlphaGANGenerator
from alphagan.prior import PRIORS, compute_prior, prior_channels
from alphagan.trimap import unknown_mask
from tests.helpers import TINY_CONFIG
from tests.test_inference_fast import randomize_batchnorm

pymatting = pytest.importorskip("pymatting", reason="the priors are solved by pymatting")

PRIOR_CONFIG = dataclasses.replace(TINY_CONFIG, prior="cf+knn", prior_scale=0.5)  # a scaled solve


@pytest.fixture(scope="module")
def scene():
    """A procedural scene: image (H,W,3) in [0,1], trimap in {0, 0.5, 1}, true alpha."""
    return make_example(72, 96, seed=3)


def trained_like(config=PRIOR_CONFIG, seed: int = 0) -> AlphaGANGenerator:
    """A prior generator whose head is not zero (as after training), in eval mode."""
    torch.manual_seed(seed)
    model = randomize_batchnorm(AlphaGANGenerator(config))
    with torch.no_grad():
        model.head.weight.normal_(0, 0.1)
        model.head.bias.fill_(0.2)
    return model


def test_full_scale_prior_is_pymattings_solution(scene) -> None:
    image = scene.image.astype(np.float64)
    trimap = scene.trimap.astype(np.float64)
    prior = compute_prior(scene.image, scene.trimap, "cf+knn", scale=1.0)
    assert prior.shape == (2, *scene.trimap.shape) and prior.dtype == np.float32
    unknown = unknown_mask(scene.trimap)
    for k, solver in enumerate(PRIORS["cf+knn"]):
        expected = np.clip(getattr(pymatting, solver)(image, trimap), 0, 1)
        np.testing.assert_allclose(prior[k][unknown], expected[unknown], atol=1e-6)
        assert (prior[k][scene.trimap == 1] == 1).all() and (prior[k][scene.trimap == 0] == 0).all()


def test_concurrent_solves_equal_solves_in_turn(scene, monkeypatch) -> None:
    """predict's concurrent=True (closed-form in a second thread) gives the same bits as
    solving in turn, and an error in the second thread reaches the caller."""
    import alphagan.prior as prior_module

    monkeypatch.setattr(prior_module, "_usable_cores", lambda: 2)  # a 1-core runner too
    in_turn = compute_prior(scene.image, scene.trimap, "cf+knn")
    together = compute_prior(scene.image, scene.trimap, "cf+knn", concurrent=True)
    np.testing.assert_array_equal(together, in_turn)

    def broken(*args, **kwargs):
        raise ValueError("closed-form failed")

    monkeypatch.setattr(prior_module, "run_solver", broken)
    with pytest.raises(ValueError, match="closed-form failed"):
        compute_prior(scene.image, scene.trimap, "cf+knn", concurrent=True)


def test_concurrent_solves_need_cores_and_memory(monkeypatch) -> None:
    import alphagan.prior as prior_module

    both = PRIORS["cf+knn"]
    monkeypatch.setattr(prior_module, "_usable_cores", lambda: 2)
    monkeypatch.setattr(prior_module, "available_memory", lambda: 10 * 2**30)
    assert prior_module._fits_concurrently(both, 1_000_000)  # (1200 + 3700) B x 1 MP fits
    assert not prior_module._fits_concurrently(both, 3_000_000)  # 14.7 GB > 80% of 10 GiB
    assert not prior_module._fits_concurrently(PRIORS["cf"], 1_000)  # nothing to overlap
    monkeypatch.setattr(prior_module, "_usable_cores", lambda: 1)
    assert not prior_module._fits_concurrently(both, 1_000)


@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs util-linux's taskset")
def test_usable_cores_follow_the_process_affinity() -> None:
    """A process pinned to one core (taskset, a container's cpuset) does not solve the two
    priors side by side, however many cores the machine has."""
    code = "from alphagan.prior import _usable_cores; print(_usable_cores())"
    pinned = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code],
                            capture_output=True, text=True, check=True)
    assert pinned.stdout.strip() == "1"


def test_half_scale_prior_is_close_to_the_truth(scene) -> None:
    # an independent answer: the procedural scene's own alpha
    prior = compute_prior(scene.image, scene.trimap, "cf", scale=0.5)
    unknown = unknown_mask(scene.trimap)
    assert prior.shape == (1, *scene.trimap.shape)
    assert np.abs(prior[0] - scene.alpha)[unknown].mean() < 0.1


def test_trimaps_the_solvers_cannot_take() -> None:
    image = np.random.default_rng(0).random((40, 50, 3)).astype(np.float32)
    only_fg = np.full((40, 50), 0.5, np.float32)
    only_fg[:10] = 1.0
    assert (compute_prior(image, only_fg, "cf+knn") == 1).all()  # cf's solution: constant 1
    only_bg = np.where(only_fg == 1, 0.0, 0.5).astype(np.float32)
    assert (compute_prior(image, only_bg, "cf") == 0).all()
    assert (compute_prior(image, np.full((40, 50), 0.5, np.float32), "cf") == 0.5).all()
    known = np.zeros((40, 50), np.float32)
    known[20:] = 1
    np.testing.assert_array_equal(compute_prior(image, known, "cf+knn")[1], known)
    assert compute_prior(image, known, "none").shape == (0, 40, 50)


def test_bad_prior_names_and_scales() -> None:
    with pytest.raises(ValueError, match="unknown prior 'knn'"):
        prior_channels("knn")
    with pytest.raises(ValueError, match="prior_scale must be in"):
        AlphaGANGenerator(dataclasses.replace(PRIOR_CONFIG, prior_scale=0.0))
    with pytest.raises(ValueError, match="unknown prior"):
        AlphaGANGenerator(dataclasses.replace(TINY_CONFIG, prior="cf+lkm"))


def test_untrained_prior_generator_returns_the_priors_mean() -> None:
    model = randomize_batchnorm(AlphaGANGenerator(PRIOR_CONFIG))
    image, trimap = torch.rand(2, 3, 37, 45), torch.full((2, 1, 37, 45), 0.5)
    prior = torch.rand(2, 2, 37, 45)
    with torch.no_grad():
        alpha = model(image, trimap, prior)
    expected = prior.mean(1, keepdim=True).clamp(1e-3, 1 - 1e-3)
    torch.testing.assert_close(alpha, expected, rtol=0, atol=1e-6)


def test_prior_blend_mixes_in_the_priors_mean_at_inference_only() -> None:
    blended_config = dataclasses.replace(PRIOR_CONFIG, prior_blend=0.75)
    plain, blended = trained_like(), trained_like(blended_config)
    blended.load_state_dict(plain.state_dict())
    image, trimap = torch.rand(2, 3, 37, 45), torch.full((2, 1, 37, 45), 0.5)
    prior = torch.rand(2, 2, 37, 45)
    with torch.no_grad():
        network = plain(image, trimap, prior)
        expected = 0.75 * network + 0.25 * prior.mean(1, keepdim=True)  # unclamped mean
        torch.testing.assert_close(blended(image, trimap, prior), expected, rtol=0, atol=1e-6)
        assert (blended(image, trimap, prior) - network).abs().max() > 1e-3
        blended.train()  # training optimises the network's own alpha
        plain.train()
        torch.testing.assert_close(blended(image, trimap, prior), plain(image, trimap, prior))
    for bad in (dataclasses.replace(PRIOR_CONFIG, prior_blend=1.5),
                dataclasses.replace(TINY_CONFIG, prior_blend=0.5)):
        with pytest.raises(ValueError, match="prior_blend must be in"):
            AlphaGANGenerator(bad)


GATE_CONFIG = dataclasses.replace(PRIOR_CONFIG, prior_head="gate")


def test_untrained_gate_returns_the_priors_mean_unclamped() -> None:
    model = randomize_batchnorm(AlphaGANGenerator(GATE_CONFIG))
    image, trimap = torch.rand(2, 3, 37, 45), torch.full((2, 1, 37, 45), 0.5)
    prior = torch.rand(2, 2, 37, 45)
    prior[:, :, :5] = torch.tensor([0.0, 1.0]).view(1, 2, 1, 1)  # exact ends stay exact
    with torch.no_grad():
        alpha = model(image, trimap, prior)
    torch.testing.assert_close(alpha, prior.mean(1, keepdim=True), rtol=0, atol=1e-6)


def test_trained_gate_stays_between_the_priors() -> None:
    model = trained_like(GATE_CONFIG)
    with torch.no_grad():
        model.head.weight.normal_(0, 1.0)  # strong, far from the mean
    image, trimap = torch.rand(2, 3, 37, 45), torch.full((2, 1, 37, 45), 0.5)
    prior = torch.rand(2, 2, 37, 45)
    with torch.no_grad():
        alpha = model(image, trimap, prior)
    low, high = prior.min(1, keepdim=True).values, prior.max(1, keepdim=True).values
    assert bool(((alpha >= low - 1e-6) & (alpha <= high + 1e-6)).all())
    # Not the mean any more: the gate chose, per pixel, mostly one prior or the other.
    assert (alpha - prior.mean(1, keepdim=True)).abs().max() > 0.1
    # Where the priors agree the output is that value whatever the gate says.
    prior[:, 1] = prior[:, 0]
    with torch.no_grad():
        torch.testing.assert_close(model(image, trimap, prior), prior[:, :1], rtol=0, atol=1e-6)


def test_gate_needs_two_priors_and_a_known_head() -> None:
    with pytest.raises(ValueError, match="chooses between two or more priors"):
        AlphaGANGenerator(dataclasses.replace(GATE_CONFIG, prior="cf"))
    with pytest.raises(ValueError, match="prior_head must be one of correction, gate"):
        AlphaGANGenerator(dataclasses.replace(PRIOR_CONFIG, prior_head="mix"))


def test_gate_model_saves_reloads_and_predicts(tmp_path: Path, scene) -> None:
    model = trained_like(GATE_CONFIG)
    save_model(model, tmp_path / "g.safetensors")
    loaded = load_model(tmp_path / "g.safetensors")
    assert loaded.config.prior_head == "gate"
    a = predict_alpha(loaded, scene.image, scene.trimap, tta="none")
    prior = compute_prior(scene.image, scene.trimap, "cf+knn", 0.5)
    unknown = unknown_mask(scene.trimap)
    low, high = prior.min(0)[unknown], prior.max(0)[unknown]
    assert bool(((a[unknown] >= low - 1e-5) & (a[unknown] <= high + 1e-5)).all())
    np.testing.assert_allclose(a, predict_alpha(model, scene.image, scene.trimap, tta="none"),
                               atol=1e-5)


def test_prior_clip_keeps_the_network_between_the_priors_at_inference_only() -> None:
    plain = trained_like()
    clipped = trained_like(dataclasses.replace(PRIOR_CONFIG, prior_clip=True, prior_blend=0.5))
    clipped.load_state_dict(plain.state_dict())
    image, trimap = torch.rand(2, 3, 37, 45), torch.full((2, 1, 37, 45), 0.5)
    prior = torch.rand(2, 2, 37, 45)
    low, high = prior.min(1, keepdim=True).values, prior.max(1, keepdim=True).values
    with torch.no_grad():
        network = plain(image, trimap, prior)
        outside = (network < low) | (network > high)
        assert outside.float().mean() > 0.1  # the head's bias pushes many pixels out
        inside = torch.maximum(torch.minimum(network, high), low)
        expected = 0.5 * inside + 0.5 * prior.mean(1, keepdim=True)  # clip, then the blend
        torch.testing.assert_close(clipped(image, trimap, prior), expected, rtol=0, atol=1e-6)
        clipped.train()
        plain.train()
        torch.testing.assert_close(clipped(image, trimap, prior), plain(image, trimap, prior))
    with pytest.raises(ValueError, match="prior_clip needs a prior"):
        AlphaGANGenerator(dataclasses.replace(TINY_CONFIG, prior_clip=True))
    with pytest.raises(ValueError, match="prior_clip must be true or false; got 'false'"):
        AlphaGANGenerator(dataclasses.replace(PRIOR_CONFIG, prior_clip="false"))


def test_prior_generator_checks_its_inputs() -> None:
    image, trimap = torch.rand(1, 3, 32, 32), torch.full((1, 1, 32, 32), 0.5)
    with pytest.raises(ValueError, match=r"cf\+knn prior of shape \(B,2,H,W\)"):
        AlphaGANGenerator(PRIOR_CONFIG)(image, trimap)
    with pytest.raises(ValueError, match="got \\(1, 1, 32, 32\\)"):
        AlphaGANGenerator(PRIOR_CONFIG)(image, trimap, torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="built without a prior"):
        AlphaGANGenerator(TINY_CONFIG)(image, trimap, torch.rand(1, 2, 32, 32))


def test_predict_alpha_feeds_the_prior(scene) -> None:
    model = trained_like()
    prior = compute_prior(scene.image, scene.trimap, "cf+knn", 0.5)
    np.testing.assert_array_equal(model_prior(model, scene.image, scene.trimap), prior)
    with torch.no_grad():
        direct = model(torch.from_numpy(scene.image.transpose(2, 0, 1))[None],
                       torch.from_numpy(scene.trimap)[None, None],
                       torch.from_numpy(prior)[None])[0, 0].numpy()
    got = predict_alpha(model, scene.image, scene.trimap, region="full", tta="none")
    unknown = unknown_mask(scene.trimap)
    np.testing.assert_allclose(got[unknown], direct[unknown], atol=1e-6)
    # the CLI's defaults (unknown-region crop, flip TTA, folded BN) on the same prior
    fast = predict_alpha(prepare_for_inference(model), scene.image, scene.trimap)
    flipped = predict_alpha(model, scene.image[:, ::-1].copy(), scene.trimap[:, ::-1].copy(),
                            region="full", tta="none")[:, ::-1]
    # the mirrored pass mirrors the prior rather than re-solving it (solvers are symmetric
    # up to solver tolerance), so compare against the mean with that tolerance
    np.testing.assert_allclose(fast[unknown], 0.5 * (got + flipped)[unknown], atol=2e-3)


def test_prior_model_saves_and_reloads(tmp_path: Path, scene) -> None:
    model = trained_like()
    save_model(model, tmp_path / "g.safetensors")
    loaded = load_model(tmp_path / "g.safetensors")
    assert loaded.config.prior == "cf+knn" and loaded.config.prior_scale == 0.5
    a = predict_alpha(model, scene.image, scene.trimap, tta="none")
    b = predict_alpha(loaded, scene.image, scene.trimap, tta="none")
    np.testing.assert_allclose(a, b, atol=1e-5)


def small_training_data(folder: Path, **changes):
    """A DataConfig over two procedural foregrounds and backgrounds written to ``folder``."""
    from alphagan.io import write_png
    from alphagan.training.config import DataConfig, SourceConfig

    for seed in range(2):
        ex = make_example(64, 80, seed=seed)
        write_png(folder / "fg" / f"s{seed}.png", ex.foreground)
        write_png(folder / "alpha" / f"s{seed}.png", ex.alpha)
        write_png(folder / "bg" / f"s{seed}.png", ex.background)
    return DataConfig(train=(SourceConfig(layout="folder", alpha_dir=str(folder / "alpha"),
                                          fg_dir=str(folder / "fg")),),
                      backgrounds=(str(folder / "bg"),), crop_size=48, crop_choices=(48,),
                      trimap_kernel=(3, 8), **changes)


def test_training_samples_carry_their_prior(tmp_path: Path) -> None:
    from alphagan.training.data import build_train_set

    data = small_training_data(tmp_path)
    dataset = build_train_set(data, seed=0, verbose=False, prior="cf", prior_scale=1.0)
    plain = build_train_set(data, seed=0, verbose=False)
    sample, same = dataset[5], plain[5]
    torch.testing.assert_close(sample["image"], same["image"], rtol=0, atol=0)
    expected = compute_prior(sample["image"].numpy().transpose(1, 2, 0),
                             sample["trimap"][0].numpy(), "cf", 1.0)
    assert sample["prior"].shape == (1, 48, 48)
    np.testing.assert_array_equal(sample["prior"].numpy(), expected)
    assert "prior" not in same


def test_training_knn_prior_takes_a_photo_span(tmp_path: Path) -> None:
    """``data.prior_knn_span``: the crop's KNN prior is solved with the coordinate pitch of a
    photo 1 / span across (here a single value), the closed-form prior and the sample as
    without it; spans outside 0 < low <= high are refused."""
    from alphagan.errors import InputError
    from alphagan.training.data import build_train_set

    spanned = build_train_set(small_training_data(tmp_path, prior_knn_span=(200.0, 200.0)),
                              seed=0, verbose=False, prior="cf+knn")
    plain = build_train_set(small_training_data(tmp_path), seed=0, verbose=False,
                            prior="cf+knn")
    for index in (1, 4):
        sample, same = spanned[index], plain[index]
        torch.testing.assert_close(sample["image"], same["image"], rtol=0, atol=0)
        image = sample["image"].numpy().transpose(1, 2, 0)
        trimap = sample["trimap"][0].numpy()
        expected = compute_prior(image, trimap, "cf+knn", knn_pixel_pitch=1 / 200)
        np.testing.assert_array_equal(sample["prior"].numpy(), expected)
        np.testing.assert_array_equal(same["prior"].numpy(),
                                      compute_prior(image, trimap, "cf+knn"))
        np.testing.assert_array_equal(sample["prior"][0].numpy(), same["prior"][0].numpy())
    for bad in ((0.0, 10.0), (30.0, 20.0)):
        with pytest.raises(InputError, match="prior_knn_span"):
            build_train_set(small_training_data(tmp_path, prior_knn_span=bad), seed=0,
                            verbose=False, prior="cf+knn")


def test_a_downscaled_knn_prior_keeps_the_photo_pitch(scene) -> None:
    """At scale 0.5 a solved pixel is two of the image's: the pitch given per image pixel is
    doubled for the solve, which equals solving the half-size image with twice the pitch."""
    import cv2

    from alphagan.knn_matting import estimate_alpha_knn
    from alphagan.scaling import downscale_trimap

    height, width = scene.trimap.shape
    prior = compute_prior(scene.image, scene.trimap, "cf+knn", 0.5, knn_pixel_pitch=0.01)
    size = (width // 2, height // 2)
    small_image = cv2.resize(scene.image, size, interpolation=cv2.INTER_AREA)
    small_trimap = downscale_trimap(scene.trimap, size)
    expected = estimate_alpha_knn(small_image.astype(np.float64),
                                  small_trimap.astype(np.float64), pixel_pitch=0.02)
    upsampled = cv2.resize(expected.astype(np.float32), (width, height),
                           interpolation=cv2.INTER_LINEAR)
    unknown = unknown_mask(scene.trimap)
    np.testing.assert_allclose(prior[1][unknown], np.clip(upsampled, 0, 1)[unknown], atol=1e-6)


def test_large_images_are_solved_at_a_bounded_size() -> None:
    from alphagan.prior import PRIOR_MAX_PIXELS, solve_scale

    assert solve_scale((600, 800), "cf+knn", 1.0, available=10**12) == 1.0
    scale = solve_scale((2160, 3840), "cf+knn", 1.0, available=10**12)
    assert 2160 * 3840 * scale**2 == pytest.approx(PRIOR_MAX_PIXELS)
    # KNN's 3.7 kB a pixel must fit in 80% of the memory there is
    scale = solve_scale((1000, 1000), "cf+knn", 1.0, available=2 * 10**9)
    assert 3700 * 10**6 * scale**2 == pytest.approx(0.8 * 2 * 10**9)
    assert solve_scale((1000, 1000), "cf", 1.0, available=2 * 10**9) == 1.0  # cf: 1.2 GB


def test_prediction_refuses_a_trimap_without_one_label(scene) -> None:
    from alphagan.errors import InputError

    model = trained_like()
    no_bg = np.where(scene.trimap == 0, 1.0, scene.trimap).astype(np.float32)
    with pytest.raises(InputError, match="no known background"):
        predict_alpha(model, scene.image, no_bg)
    no_fg = np.where(scene.trimap == 1, 0.0, scene.trimap).astype(np.float32)
    with pytest.raises(InputError, match="no known foreground"):
        predict_alpha(model, scene.image, no_fg)
    known = (scene.alpha > 0.5).astype(np.float32)  # nothing unknown: still fine
    np.testing.assert_array_equal(predict_alpha(model, scene.image, known), known)
