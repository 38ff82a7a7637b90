"""Training configs: YAML + overrides into frozen dataclasses, strictly typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from alphagan.config import ConfigError, dump_yaml, from_dict
from alphagan.training.config import TrainConfig, load_config

REPO = Path(__file__).resolve().parents[2]


def test_shipped_configs_load() -> None:
    tiny = load_config(REPO / "configs" / "tiny.yaml", base=REPO)
    assert tiny.model.generator.encoder_layers == (1, 1, 1, 1)
    assert Path(tiny.data.train[0].root).is_absolute()
    paper = load_config(REPO / "configs" / "alphagan_comp1k.yaml", base=REPO)
    assert paper.model.generator.encoder_layers == (3, 4, 6, 3)
    assert paper.data.crop_choices == (320, 480, 640)
    assert paper.model.disc_layers == 3
    assert paper.model.backbone_weights.endswith("resnet50_imagenet.pth")


def test_overrides_and_round_trip(tmp_path: Path) -> None:
    cfg = load_config(REPO / "configs" / "tiny.yaml",
                      ["optim.lr_g=0.5", "steps=7", "model.generator.aspp_rates=[1,2,3]"],
                      base=REPO)
    assert cfg.optim.lr_g == 0.5 and cfg.steps == 7
    assert cfg.model.generator.aspp_rates == (1, 2, 3)
    # YAML 1.1 reads 5e-4 (no dot) as a string; numbers in that spelling still count
    assert load_config(REPO / "configs" / "tiny.yaml", ["optim.lr_g=5e-4"],
                       base=REPO).optim.lr_g == 0.0005
    path = tmp_path / "config.yaml"
    path.write_text(dump_yaml(cfg))
    assert load_config(path, base=tmp_path) == cfg  # absolute paths survive the round trip


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optim.lr_gg=1"], "unknown config key.*optim.lr_gg"),
        (["steps=ten"], "steps: expected an integer"),
        (["optim.lr_g=fast"], "optim.lr_g: expected a number"),
        (["steps=1.5"], "steps: expected an integer"),
        (["data.flip=3"], "data.flip: expected true or false"),
        (["loss.gan_mode=wgan"], "loss.gan_mode: 'wgan' is not one of"),
        (["data.trimap_kernel=[1,2,3]"], "data.trimap_kernel: expected 2 items"),
        (["model.generator.norm=layer"], "model.generator.norm"),
        (["nonsense"], "expected key=value"),
        (["data.augment=heavy"], "data.augment: 'heavy' is not one of"),
        (["data.augmentation.merge_prob=2"], "data.augmentation.*merge_prob must be in"),
        (["data.augmentation.rotate=5"], "unknown config key.*data.augmentation.rotate"),
        # well typed but out of range: refused when read, not by a ZeroDivisionError mid-run
        (["steps=0"], "tiny.yaml with --set steps=0: steps must be >= 1, got 0"),
        (["batch_size=0"], "batch_size must be >= 1, got 0"),
        (["log_every=0"], "log_every must be >= 1, got 0"),
        (["image_every=0"], "image_every must be >= 1, got 0"),
        (["val_every=-1"], "val_every must be >= 1, got -1"),
        (["checkpoint_every=0"], "checkpoint_every must be >= 1, got 0"),
        (["val_max_side=0"], "val_max_side must be >= 1, got 0"),
        (["seed=-1"], "seed must be >= 0, got -1"),
        (["ema_decay=1.5"], r"ema_decay must be in \[0, 1\], got 1.5"),
        (["data.workers=-2"], "data.workers must be >= 0, got -2"),
        (["data.crop_size=0"], "data.crop_size must be >= 1, got 0"),
        (["data.crop_choices=[]"], "data.crop_choices lists no crop size"),
        (["data.crop_choices=[96,0]"], r"data.crop_choices\[1\] must be >= 1, got 0"),
        (["data.trimap_kernel=[5,2]"], r"data.trimap_kernel must be \[low, high\]"),
        (["data.train=[{layout: folder, repeat: 0}]"], r"data.train\[0\].repeat must be >= 1"),
        (["optim.warmup_steps=-1"], "optim.warmup_steps must be >= 0, got -1"),
        (["model.disc_channels=0"], "model.disc_channels must be >= 1, got 0"),
    ],
)
def test_bad_configs_name_the_key(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(REPO / "configs" / "tiny.yaml", overrides, base=REPO)


def test_frozen_and_from_dict_defaults() -> None:
    cfg = from_dict(TrainConfig, {})
    assert cfg.loss.w_gan == cfg.loss.w_alpha == cfg.loss.w_comp == 1.0
    with pytest.raises(AttributeError):
        cfg.steps = 3  # type: ignore[misc]


def test_augmentation_defaults_to_dim_and_switches_on() -> None:
    tiny = load_config(REPO / "configs" / "tiny.yaml", base=REPO)
    assert tiny.data.augment == "dim"
    strong = load_config(REPO / "configs" / "tiny.yaml",
                         ["data.augment=strong", "data.augmentation.rotation=5",
                          "data.augmentation.trimap_dilate=[3,9]"], base=REPO)
    assert strong.data.augment == "strong"
    assert strong.data.augmentation.rotation == 5.0
    assert strong.data.augmentation.trimap_dilate == (3, 9)
    assert strong.data.augmentation.merge_prob == 0.5  # the rest keep their defaults
