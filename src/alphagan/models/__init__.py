"""AlphaGAN networks: the generator, the PatchGAN discriminator, backbone weight loading."""

from alphagan.models.backbone import (
    BackboneLoadReport,
    adapt_first_conv,
    load_backbone_weights,
    packaged_weights,
)
from alphagan.models.discriminator import PatchDiscriminator
from alphagan.models.efficientnet import EfficientNetLiteEncoder
from alphagan.models.ensemble import GeneratorEnsemble
from alphagan.models.generator import AlphaGANGenerator, GeneratorConfig
from alphagan.models.resnet import ResNetEncoder

__all__ = [
    "AlphaGANGenerator",
    "BackboneLoadReport",
    "EfficientNetLiteEncoder",
    "GeneratorConfig",
    "GeneratorEnsemble",
    "PatchDiscriminator",
    "ResNetEncoder",
    "adapt_first_conv",
    "load_backbone_weights",
    "packaged_weights",
]
