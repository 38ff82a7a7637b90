"""Several generators of one architecture whose alphas are averaged (e.g. training seeds).

Networks trained with the same recipe and different seeds make different errors; their mean
alpha is a cheap variance reduction (an ensemble; on the cross-validated alphamatting scenes
the shipped recipe's seeds are compared in MODEL_CARD.md). Each member runs its own forward,
including a prior model's inference-time clamp (``prior_clip``) and blend (``prior_blend``),
and the ensemble returns the mean of the members' outputs.

:func:`alphagan.predict_alpha` runs the members one by one through the same path as a single
generator (crops, tiles, the image-pooling override, flip TTA) and averages their alphas; the
classical prior of a prior model is solved once and shared. ``forward`` here is the plain
mean, what :func:`alphagan.export.export_model` traces.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from torch import nn

from alphagan.models.generator import AlphaGANGenerator, GeneratorConfig

__all__ = ["GeneratorEnsemble", "MAX_MEMBERS", "members_of"]

# A model file naming more members than this is refused before anything is built.
MAX_MEMBERS = 16


class GeneratorEnsemble(nn.Module):
    """The mean alpha of ``members`` :class:`AlphaGANGenerator` networks built from ``config``.

    ``forward(image, trimap, prior=None)`` takes what a single generator takes (image
    (B,3,H,W) RGB in [0,1], trimap (B,1,H,W) in {0, 0.5, 1}, a prior model's (B,K,H,W) prior)
    and returns the members' mean alpha (B,1,H,W) in [0,1]. Parameters are named
    ``members.<i>.<the generator's name>``.

    Raises ``ValueError`` for a member count outside 2..:data:`MAX_MEMBERS` or a config the
    generator refuses.
    """

    size_divisor = AlphaGANGenerator.size_divisor

    def __init__(self, config: GeneratorConfig, members: int) -> None:
        super().__init__()
        if isinstance(members, bool) or not isinstance(members, int) or not (
                2 <= members <= MAX_MEMBERS):
            raise ValueError(f"an ensemble has 2 to {MAX_MEMBERS} members, got {members!r}")
        self.members = nn.ModuleList(AlphaGANGenerator(config) for _ in range(members))
        self.config = self.members[0].config
        self.prior_channels = self.members[0].prior_channels

    @classmethod
    def of(cls, generators: Sequence[AlphaGANGenerator]) -> GeneratorEnsemble:
        """An ensemble holding copies of ``generators`` (same config, at least two; their
        weights are copied, the originals are not modified), on the first one's device and
        dtype and in its train / eval mode. ``ValueError`` otherwise."""
        generators = list(generators)
        if len(generators) < 2:
            raise ValueError(f"an ensemble needs at least 2 generators, got {len(generators)}")
        for i, g in enumerate(generators):
            if not isinstance(g, AlphaGANGenerator):
                raise ValueError(f"member {i} is a {type(g).__name__}, not an AlphaGANGenerator")
            if g.config != generators[0].config:
                differ = [f.name for f in dataclasses.fields(g.config)
                          if getattr(g.config, f.name) != getattr(generators[0].config, f.name)]
                raise ValueError(f"member {i}'s config differs from member 0's in "
                                 f"{', '.join(differ)} (architecture or inference settings); "
                                 f"an ensemble's members share one config")
        ensemble = cls(generators[0].config, len(generators))
        for member, g in zip(ensemble.members, generators):
            member.load_state_dict(g.state_dict())
        first = next(generators[0].parameters())
        # the first generator's device, dtype and mode (eval: its clamp and blend apply)
        return ensemble.to(first.device, first.dtype).train(generators[0].training)

    def forward(self, image: torch.Tensor, trimap: torch.Tensor,
                prior: torch.Tensor | None = None) -> torch.Tensor:
        total = self.members[0](image, trimap, prior)
        for member in self.members[1:]:
            total = total + member(image, trimap, prior)
        return total / len(self.members)


def members_of(model: nn.Module) -> list[nn.Module]:
    """The networks whose alphas ``model``'s output averages: its members, or ``[model]``."""
    return list(model.members) if isinstance(model, GeneratorEnsemble) else [model]
