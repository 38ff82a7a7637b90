"""The AlphaGAN generator: dilated ResNet-50 encoder, ASPP, unpooling decoder, sigmoid.

Data flow for an input of size (H, W) padded to a multiple of 8 (shapes for the defaults)::

    image (B,3,H,W) in [0,1] --ImageNet norm--+
    trimap (B,1,H,W) in {0,.5,1} -------------+-> x (B,4,H,W)
    conv1+bn1+relu          stem    (B,64,H/2,W/2)
    maxpool (indices kept)          (B,64,H/4,W/4)
    layer1                  l1      (B,256,H/4,W/4)
    layer2 (stride 2)               (B,512,H/8,W/8)
    layer3, layer4 (dilated 2, 4)   (B,2048,H/8,W/8)
    ASPP                            (B,256,H/8,W/8)
    bilinear x2 ++ 1x1(l1)          (B,256+48,H/4,W/4) -> 3x3 convs -> (B,64,H/4,W/4)
    max-unpool (indices)            (B,64,H/2,W/2) ++ 1x1(stem) -> 3x3 conv (B,64,H/2,W/2)
    transposed conv x2              (B,32,H,W) ++ x -> 3x3 convs -> 3x3 conv -> 1 -> sigmoid

With classical priors (``GeneratorConfig.prior``, K extra input channels) the last step uses
them: ``sigmoid(head + logit(mean prior))`` for the "correction" head, ``softmax(head) .
priors`` over K head channels for the "gate" (:class:`GeneratorConfig`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from alphagan.models.aspp import ASPP
from alphagan.models.efficientnet import EFFICIENTNET_LITE_VARIANTS, EfficientNetLiteEncoder
from alphagan.models.layers import NormName, conv_norm_act, norm_factory
from alphagan.models.resnet import ResNetEncoder
from alphagan.prior import check_prior, prior_channels

# Prior alphas are clipped to [eps, 1 - eps] before the logit: exact 0/1 would be infinite.
_PRIOR_EPS = 1e-3
PRIOR_HEADS = ("correction", "gate")

__all__ = ["GeneratorConfig", "AlphaGANGenerator", "build_encoder", "PRIOR_HEADS",
           "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture of :class:`AlphaGANGenerator`; the defaults are the paper's model.

    Stored in every saved model so the file alone rebuilds the network.
    """

    # "resnet" (the paper's: a bottleneck ResNet shaped by encoder_layers / encoder_width) or an
    # EfficientNet-Lite variant ("efficientnet_lite0", "_lite1", "_lite2"; encoder_layers and
    # encoder_width are then unused, and mean/std should be EFFICIENTNET_LITE_MEAN/STD).
    encoder: str = "resnet"
    encoder_layers: tuple[int, int, int, int] = (3, 4, 6, 3)  # ResNet-50
    encoder_width: int = 64
    dilations: tuple[int, int] = (2, 4)  # layer3, layer4 (Lite: stages 4-5, 6-7) -> OS 8
    norm: NormName = "batch"
    aspp_rates: tuple[int, ...] = (6, 12, 18)
    aspp_channels: int = 256
    skip_channels: int = 48  # 1x1 reduction of the block-1 skip
    stem_skip_channels: int = 32  # 1x1 reduction of the conv1 skip
    decoder_channels: tuple[int, int, int] = (256, 64, 32)  # at 1/4, 1/2, 1/1
    final_convs: int = 2  # 3x3 convs at full resolution before the output conv
    image_skip: bool = True  # concatenate the input (image + trimap) before the final convs
    # Classical alphas as extra input channels (alphagan.prior: "none", "cf", "cf+knn"),
    # solved at prior_scale of the input size; prior_head says how the output uses them.
    prior: str = "none"
    prior_scale: float = 1.0
    # How the network's head uses the priors. "correction": sigmoid(head + logit(mean prior)),
    # any alpha in (0, 1). "gate" (two or more priors): a per-pixel convex combination of the
    # priors, softmax(head) . priors, so the output never leaves the priors' range: the
    # trained network can only choose between the classical answers, not invent a third.
    # Both start (head at zero) at the priors' mean.
    prior_head: str = "correction"
    # In eval mode (inference) only: the output is prior_blend x the network's alpha +
    # (1 - prior_blend) x the priors' mean. Training optimises the network's own alpha; the
    # weight is chosen afterwards by nested cross-validation (benchmarks.prior_blend).
    prior_blend: float = 1.0
    # In eval mode only, before the blend: clamp the network's alpha, pixel by pixel, to the
    # range the priors span [min, max] (a trained "correction" head can leave it; the gate
    # never does). Chosen with prior_blend by nested cross-validation (benchmarks.prior_blend
    # --choose-clip); off in the shipped file since session 10.
    prior_clip: bool = False
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorConfig:
        """Build from a plain dict (lists become tuples); unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown generator config keys: {', '.join(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def build_encoder(config: GeneratorConfig, norm_layer: Callable[[int], nn.Module],
                  in_channels: int = 4) -> nn.Module:
    """The encoder ``config.encoder`` names, taking ``in_channels`` inputs (RGB, trimap, then
    any prior channels), with output stride 8.

    Raises ``ValueError`` for an unknown encoder name.
    """
    if config.encoder == "resnet":
        return ResNetEncoder(layers=config.encoder_layers, in_channels=in_channels,
                             base_width=config.encoder_width, dilations=config.dilations,
                             norm_layer=norm_layer)
    if config.encoder in EFFICIENTNET_LITE_VARIANTS:
        if config.norm == "batch":
            # The published Lite weights were trained with TensorFlow's BatchNorm eps of 1e-3.
            norm_layer = functools.partial(nn.BatchNorm2d, eps=1e-3)
        return EfficientNetLiteEncoder(config.encoder, in_channels=in_channels,
                                       dilations=config.dilations, norm_layer=norm_layer)
    raise ValueError(f"unknown encoder {config.encoder!r}; expected resnet or one of "
                     f"{', '.join(EFFICIENTNET_LITE_VARIANTS)}")


def _pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, int, int]:
    """Pad bottom/right so H and W are multiples of ``multiple`` (reflect where it can)."""
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if ph == 0 and pw == 0:
        return x, h, w
    # Reflection needs the pad to be smaller than the side; tiny inputs fall back to replicate.
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), h, w


class AlphaGANGenerator(nn.Module):
    """Predict an alpha matte from an RGB image and a trimap.

    ``forward(image, trimap)``: image (B,3,H,W) RGB in [0,1] (the model applies its own
    mean/std normalisation), trimap (B,1,H,W) in {0, 0.5, 1}; returns alpha (B,1,H,W) in
    [0,1] for any H, W (the input is padded to a multiple of 8 inside and cropped back).
    Known trimap regions are *not* clamped here: :func:`alphagan.predict_alpha` and the
    training loop do that, so the loss sees the raw prediction where it needs to.
    """

    size_divisor = 8

    def __init__(self, config: GeneratorConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        config = config or GeneratorConfig()
        if overrides:
            config = dataclasses.replace(config, **overrides)
        check_prior(config.prior, config.prior_scale)
        if config.prior_head not in PRIOR_HEADS:
            raise ValueError(f"prior_head must be one of {', '.join(PRIOR_HEADS)}; "
                             f"got {config.prior_head!r}")
        if not isinstance(config.prior_clip, bool):  # a model file's "false" would be truthy
            raise ValueError(f"prior_clip must be true or false; got {config.prior_clip!r}")
        if config.prior_clip and config.prior == "none":
            raise ValueError("prior_clip needs a prior (config.prior is 'none')")
        if config.prior_head == "gate" and prior_channels(config.prior) < 2:
            raise ValueError(f"prior_head 'gate' chooses between two or more priors; "
                             f"prior={config.prior!r} has {prior_channels(config.prior)}")
        if not 0 <= config.prior_blend <= 1 or (config.prior_blend != 1 and config.prior == "none"):
            raise ValueError(f"prior_blend must be in [0, 1] and needs a prior; got "
                             f"{config.prior_blend} with prior={config.prior!r}")
        self.config = config
        self.prior_channels = prior_channels(config.prior)
        norm_layer = norm_factory(config.norm)
        self.register_buffer("mean", torch.tensor(config.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(config.std).view(1, 3, 1, 1), persistent=False)

        self.encoder = build_encoder(config, norm_layer, 4 + self.prior_channels)
        enc = self.encoder
        c4, c2, c1 = config.decoder_channels
        self.aspp = ASPP(
            enc.out_channels,
            rates=config.aspp_rates,
            out_channels=config.aspp_channels,
            norm_layer=norm_layer,
        )
        self.skip4 = conv_norm_act(enc.layer1_channels, config.skip_channels, 1,
                                   norm_layer=norm_layer)
        # The last 1/4 conv must output the stem's channel count: max-unpooling places each
        # channel's values at the positions its own pooling indices recorded.
        self.decode4 = nn.Sequential(
            conv_norm_act(config.aspp_channels + config.skip_channels, c4, 3,
                          norm_layer=norm_layer),
            conv_norm_act(c4, enc.stem_channels, 3, norm_layer=norm_layer),
        )
        self.skip2 = conv_norm_act(enc.stem_channels, config.stem_skip_channels, 1,
                                   norm_layer=norm_layer)
        self.decode2 = conv_norm_act(enc.stem_channels + config.stem_skip_channels, c2, 3,
                                     norm_layer=norm_layer)
        self.upconv = nn.Sequential(
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1, bias=False),
            norm_layer(c1),
            nn.ReLU(inplace=True),
        )
        in_full = c1 + (4 + self.prior_channels if config.image_skip else 0)
        self.refine = nn.Sequential(
            *[conv_norm_act(in_full if i == 0 else c1, c1, 3, norm_layer=norm_layer)
              for i in range(config.final_convs)]
        )
        gate = config.prior_head == "gate"
        self.head = nn.Conv2d(c1 if config.final_convs else in_full,
                              self.prior_channels if gate else 1, 3, padding=1)
        if self.prior_channels:
            # An untrained network returns the priors' mean; training learns the correction
            # (or, for the gate, which prior to trust where).
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def forward(self, image: torch.Tensor, trimap: torch.Tensor,
                prior: torch.Tensor | None = None) -> torch.Tensor:
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"image must be (B,3,H,W), got {tuple(image.shape)}")
        if trimap.ndim != 4 or trimap.shape[1] != 1 or trimap.shape[-2:] != image.shape[-2:]:
            raise ValueError(
                f"trimap must be (B,1,H,W) matching the image {tuple(image.shape)}, "
                f"got {tuple(trimap.shape)}"
            )
        inputs = [(image - self.mean) / self.std, trimap]
        if self.prior_channels:
            if prior is None or prior.shape != (image.shape[0], self.prior_channels,
                                                *image.shape[-2:]):
                got = None if prior is None else tuple(prior.shape)
                raise ValueError(f"this model takes a {self.config.prior} prior of shape "
                                 f"(B,{self.prior_channels},H,W) matching the image "
                                 f"{tuple(image.shape)}, got {got}")
            inputs.append(prior.to(image.dtype))
        elif prior is not None:
            raise ValueError("this model was built without a prior (config.prior='none')")
        x = torch.cat(inputs, dim=1)  # (B,4+K,H,W)
        x, h, w = _pad_to_multiple(x, self.size_divisor)
        feats = self.encoder(x)
        y = self.aspp(feats.out)  # (B,256,H/8,W/8)
        y = F.interpolate(y, size=feats.layer1.shape[-2:], mode="bilinear", align_corners=False)
        y = self.decode4(torch.cat([y, self.skip4(feats.layer1)], dim=1))  # (B,64,H/4,W/4)
        y = max_unpool(y, feats.indices, feats.stem.shape[-2:])  # (B,64,H/2,W/2)
        y = self.decode2(torch.cat([y, self.skip2(feats.stem)], dim=1))  # (B,64,H/2,W/2)
        y = self.upconv(y)  # (B,32,H,W)
        if self.config.image_skip:
            # In y's dtype: under bf16 autocast a mixed cat would be promoted to a full-size
            # fp32 copy that the next conv casts straight back (same numbers, more traffic).
            y = torch.cat([y, x.to(y.dtype)], dim=1)
        logits = self.head(self.refine(y))  # (B,1,H,W); (B,K,H,W) for the gate
        if not self.prior_channels:
            return torch.sigmoid(logits)[..., :h, :w]
        # In float32 even under autocast: bf16 would round the prior itself (to ~0.4%).
        priors = x[:, 4:].float()
        prior_mean = priors.mean(dim=1, keepdim=True)
        if self.config.prior_head == "gate":
            weights = torch.softmax(logits.float(), dim=1)
            alpha = (weights * priors).sum(dim=1, keepdim=True)
        else:
            start = prior_mean.clamp(_PRIOR_EPS, 1 - _PRIOR_EPS)
            alpha = torch.sigmoid(logits.float() + torch.logit(start))
        if self.config.prior_clip and not self.training:
            alpha = alpha.clamp(priors.amin(dim=1, keepdim=True), priors.amax(dim=1, keepdim=True))
        blend = self.config.prior_blend
        if blend != 1 and not self.training:
            alpha = blend * alpha + (1 - blend) * prior_mean
        return alpha[..., :h, :w]


def max_unpool(values: torch.Tensor, indices: torch.Tensor, size: torch.Size) -> torch.Tensor:
    """``F.max_unpool2d`` that gives the same result on every run, layout and device.

    values, indices: (B, C, h, w), indices into each (H, W) plane of the output; returns
    (B, C, H, W) in ``values``' memory format. The encoder's 3x3 stride-2 max-pool windows
    overlap, so two cells often point at the same pixel (a local maximum shared by two
    windows). PyTorch's kernel then lets the writes race in its channels-last CPU path and on
    CUDA: the same image gave different mattes from run to run (up to 22/255). Here the cell
    that comes last in raster order wins, which is what the sequential per-plane NCHW CPU
    kernel does: that kernel is used on the CPU, an equivalent scatter-max elsewhere.
    """
    channels_last = values.is_contiguous(memory_format=torch.channels_last) and not (
        values.is_contiguous()
    )
    if torch.jit.is_tracing():
        # export: F is swapped for a traceable form; ``size`` stays symbolic (not int()-ed)
        out = F.max_unpool2d(values.contiguous(), indices.contiguous(), kernel_size=2,
                             stride=2, output_size=size)
    elif values.device.type == "cpu":
        # The aten op directly: F.max_unpool2d's Python size check imports sympy-based shape
        # machinery on first use (0.3-0.8 s of a one-photo CLI run) to validate what the
        # encoder's own shapes already guarantee.
        out = torch._C._nn.max_unpool2d(values.contiguous(), indices.contiguous(),
                                        [int(size[0]), int(size[1])])
    else:
        out = scatter_unpool(values, indices, int(size[0]), int(size[1]))
    return out.contiguous(memory_format=torch.channels_last) if channels_last else out


def scatter_unpool(values: torch.Tensor, indices: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Max-unpooling where the last cell in raster order wins, from order-free operations
    (a scatter-max of cell positions, then a gather): deterministic on any device."""
    batch, chans = values.shape[:2]
    flat_index = indices.contiguous().flatten(2)  # (B, C, h*w)
    flat_values = values.contiguous().flatten(2)
    order = torch.arange(flat_index.shape[2], device=values.device).expand_as(flat_index)
    # For every output pixel the raster position of the last cell that points at it.
    winner = torch.full((batch, chans, height * width), -1, dtype=torch.long,
                        device=values.device)
    winner.scatter_reduce_(2, flat_index, order.contiguous(), reduce="amax")
    out = torch.where(winner >= 0, flat_values.gather(2, winner.clamp(min=0)),
                      torch.zeros((), dtype=values.dtype, device=values.device))
    return out.view(batch, chans, height, width)
