"""Shared test fixtures: tiny model configs and paths to the real data in ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from alphagan.models import GeneratorConfig

# A generator with the paper's structure but a handful of channels: fast on CPU.
TINY_CONFIG = GeneratorConfig(
    encoder_layers=(1, 1, 1, 1),
    encoder_width=8,
    aspp_rates=(2, 4, 6),
    aspp_channels=16,
    skip_channels=8,
    stem_skip_channels=8,
    decoder_channels=(16, 16, 8),
    final_convs=1,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ALPHAMATTING = SHARED_DATA / "alphamatting"

requires_alphamatting = pytest.mark.skipif(
    not ALPHAMATTING.is_dir(),
    reason=f"real data not found at {ALPHAMATTING} (the ../shared folder beside the checkout)",
)
