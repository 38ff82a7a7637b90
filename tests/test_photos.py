"""alphagan.data.photos: training crops of real photos with their user trimaps and priors
solved on the whole photo; how a training set mixes them with composites."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alphagan.data import photos as photos_module
from alphagan.data.layouts import folder_eval_items
from alphagan.data.photos import PhotoSet
from alphagan.errors import InputError
from alphagan.examples import make_example
from alphagan.io import write_png
from alphagan.prior import compute_prior
from alphagan.training.config import SourceConfig


def write_photo(folder: Path, seed: int = 0, size: tuple[int, int] = (72, 96)) -> None:
    """A composite scene with its alpha and trimap, as a photo folder (8-bit PNGs)."""
    ex = make_example(*size, seed=seed)
    write_png(folder / "image" / f"p{seed}.png", ex.image)
    write_png(folder / "alpha" / f"p{seed}.png", ex.alpha)
    write_png(folder / "trimap" / f"p{seed}.png", ex.trimap)


def photo_set(folder: Path, crop: int = 48, choices: tuple[int, ...] = (48,),
              seeds: tuple[int, ...] = (0,), prior: str = "cf+knn") -> PhotoSet:
    for seed in seeds:
        write_photo(folder, seed)
    items = folder_eval_items(folder / "image", folder / "alpha", folder / "trimap")
    return PhotoSet(items, prior, crop_size=crop, crop_choices=choices, flip=True,
                    cache_dir=folder / "cache", progress=False)


def check_sample(sample: dict, crop: int, channels: int = 2) -> None:
    """What aligned crops satisfy whatever the window and flip: shapes, trimap labels that
    agree with the alpha, priors exactly 0/1 on known pixels and close to the alpha on this
    easy scene, and the estimated colours composing back to the photo."""
    image, alpha = sample["image"].numpy(), sample["alpha"].numpy()[0]
    trimap, prior = sample["trimap"].numpy()[0], sample["prior"].numpy()
    fg, bg = sample["fg"].numpy(), sample["bg"].numpy()
    assert image.shape == fg.shape == bg.shape == (3, crop, crop)
    assert prior.shape == (channels, crop, crop) and alpha.shape == (crop, crop)
    assert set(np.unique(trimap)) <= {0.0, 0.5, 1.0}
    assert (alpha[trimap == 1] > 0.9).all() and (alpha[trimap == 0] < 0.1).all()
    assert (prior[:, trimap == 1] == 1).all() and (prior[:, trimap == 0] == 0).all()
    assert np.abs(prior - alpha).mean() < 0.1  # a misaligned or flipped prior is far off
    composed = alpha * fg + (1 - alpha) * bg
    assert np.abs(composed - image).mean() < 0.01


def test_crops_are_aligned_and_priors_are_those_of_the_whole_photo(tmp_path: Path) -> None:
    photos = photo_set(tmp_path)
    rng = np.random.default_rng(0)
    photo = photos.photos[0]
    whole = compute_prior(photo.image, photo.trimap, "cf+knn")  # (K, H, W), as predict solves
    np.testing.assert_array_equal(photo.prior.transpose(2, 0, 1), whole)
    flipped = 0
    for _ in range(12):
        sample = photos.sample(rng)
        check_sample(sample, 48)
        # no resize here (crop = choice): the crop is a window of the photo, maybe mirrored
        image = sample["image"].numpy().transpose(1, 2, 0)
        found = [(top, left, flip) for top in range(72 - 47) for left in range(96 - 47)
                 for flip in (False, True)
                 if np.array_equal((photo.image[top:top + 48, left:left + 48][:, ::-1] if flip
                                    else photo.image[top:top + 48, left:left + 48]), image)]
        assert found, "the crop is not a window of the photo"
        top, left, flip = found[0]
        window = whole[:, top:top + 48, left:left + 48]
        np.testing.assert_array_equal(sample["prior"].numpy(),
                                      window[:, :, ::-1] if flip else window)
        flipped += flip
    assert 0 < flipped < 12


def test_resized_crops_stay_aligned(tmp_path: Path) -> None:
    photos = photo_set(tmp_path, crop=32, choices=(64, 48, 20))
    rng = np.random.default_rng(1)
    for _ in range(12):
        check_sample(photos.sample(rng), 32)


def test_the_solve_is_cached_by_content(tmp_path: Path, monkeypatch) -> None:
    photo_set(tmp_path)
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("solved again")

    monkeypatch.setattr(photos_module, "_solve", refuse)
    items = folder_eval_items(tmp_path / "image", tmp_path / "alpha", tmp_path / "trimap")
    again = PhotoSet(items, "cf+knn", crop_size=48, crop_choices=(48,), flip=False,
                     cache_dir=tmp_path / "cache", progress=False)
    assert again.photos[0].prior.shape[-1] == 2
    with pytest.raises(AssertionError, match="solved again"):  # another prior: another key
        PhotoSet(items, "cf", crop_size=48, crop_choices=(48,), flip=False,
                 cache_dir=tmp_path / "cache", progress=False)


def test_refusals(tmp_path: Path) -> None:
    write_photo(tmp_path)
    items = folder_eval_items(tmp_path / "image", tmp_path / "alpha", tmp_path / "trimap")
    kwargs = dict(crop_size=48, crop_choices=(48,), flip=False, cache_dir=tmp_path / "c",
                  progress=False)
    with pytest.raises(InputError, match="no photo"):
        PhotoSet([], "cf", **kwargs)
    with pytest.raises(InputError, match="prior"):
        PhotoSet(items, "none", **kwargs)
    no_background = np.ones((72, 96), np.float32)
    no_background[:, :40] = 0.5
    write_png(tmp_path / "trimap" / "p0.png", no_background)
    with pytest.raises(InputError, match="p0.png.*unknown, foreground and background"):
        PhotoSet(items, "cf", **kwargs)


def training_data(folder: Path, fraction: float):
    from tests.test_prior import small_training_data

    write_photo(folder / "photos")
    photos = SourceConfig(layout="folder", image_dir=str(folder / "photos" / "image"),
                          alpha_dir=str(folder / "photos" / "alpha"),
                          trimap_dir=str(folder / "photos" / "trimap"))
    return small_training_data(folder, photos=(photos,), photo_fraction=fraction,
                               photo_cache_dir=str(folder / "photo_cache"))


def test_training_set_mixes_photos_and_composites(tmp_path: Path) -> None:
    from alphagan.training.data import build_train_set

    plain = build_train_set(training_data(tmp_path, 0.0), seed=0, verbose=False, prior="cf")
    mixed = build_train_set(training_data(tmp_path, 0.5), seed=0, verbose=False, prior="cf")
    only = build_train_set(training_data(tmp_path, 1.0), seed=0, verbose=False, prior="cf")
    assert plain.photos is None and mixed.photos is not None
    photo_ids = []
    for v in range(40):
        sample = mixed[v]
        same = plain[v]
        if np.array_equal(sample["image"].numpy(), same["image"].numpy()):
            continue  # a composite: the very sample of a run without photos
        photo_ids.append(v)
        check_sample(sample, 48, channels=1)
    assert 10 <= len(photo_ids) <= 30
    for v in photo_ids[:3]:  # fraction 1: every sample is a photo crop; the same ones here
        np.testing.assert_array_equal(only[v]["image"].numpy(), mixed[v]["image"].numpy())
    with pytest.raises(InputError, match="photo_fraction"):
        build_train_set(training_data(tmp_path, 0.5), seed=0, verbose=False)  # no prior


def test_settings_that_cannot_train_are_refused_before_any_work(tmp_path: Path) -> None:
    """Checked by ``train`` before the run folder or any data: photo fractions, and one
    sample per BatchNorm."""
    import dataclasses

    from alphagan.config import ConfigError
    from alphagan.training.config import TrainConfig, check_trainable
    from alphagan.training.loop import train

    base = TrainConfig()
    data = dataclasses.replace(base.data, photo_fraction=2.0)
    with pytest.raises(ConfigError, match=r"photo_fraction must be in \[0, 1\], got 2.0"):
        train(dataclasses.replace(base, data=data, batch_size=2), tmp_path / "run")
    assert not (tmp_path / "run").exists()
    no_photos = dataclasses.replace(base, batch_size=2, data=dataclasses.replace(
        base.data, photo_fraction=0.5))
    with pytest.raises(ConfigError, match="needs data.photos"):
        check_trainable(no_photos)
    photos = (SourceConfig(layout="folder", image_dir="i", alpha_dir="a", trimap_dir="t"),)
    no_prior = dataclasses.replace(no_photos, data=dataclasses.replace(
        no_photos.data, photos=photos))
    with pytest.raises(ConfigError, match="needs a generator with a prior"):
        check_trainable(no_prior)
    half = dataclasses.replace(no_prior, model=dataclasses.replace(no_prior.model, generator=(
        dataclasses.replace(no_prior.model.generator, prior="cf", prior_scale=0.5))))
    with pytest.raises(ConfigError, match="prior_scale 1"):
        check_trainable(half)
    one = dataclasses.replace(base, batch_size=1)  # norm: batch by default
    with pytest.raises(ConfigError, match="batch_size 1 cannot train"):
        check_trainable(one)
    pooled = dataclasses.replace(one, model=dataclasses.replace(one.model, sync_batchnorm=True))
    check_trainable(pooled, world_size=2)  # SyncBatchNorm pools the processes' samples
    group = dataclasses.replace(one, model=dataclasses.replace(one.model, generator=(
        dataclasses.replace(one.model.generator, norm="group"))))
    check_trainable(group)
