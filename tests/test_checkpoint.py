"""save_model / load_model: round trip, metadata, and refusing files that are not ours."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from alphagan.checkpoint import load_model, read_metadata, save_model
from alphagan.errors import InputError
from alphagan.models import AlphaGANGenerator
from tests.helpers import TINY_CONFIG


def _trained_looking(seed: int = 0) -> AlphaGANGenerator:
    torch.manual_seed(seed)
    g = AlphaGANGenerator(TINY_CONFIG, norm="batch")
    g.train()
    with torch.no_grad():  # give BatchNorm non-default running statistics
        g(torch.rand(2, 3, 32, 32), torch.rand(2, 1, 32, 32))
    return g.eval()


def test_round_trip_rebuilds_the_same_model(tmp_path: Path) -> None:
    g = _trained_looking()
    path = save_model(g, tmp_path / "sub" / "g.safetensors", extra_metadata={"step": "7"})
    loaded = load_model(path)
    assert loaded.config == g.config
    assert not loaded.training
    x, t = torch.rand(1, 3, 29, 35), torch.rand(1, 1, 29, 35)
    with torch.no_grad():
        assert torch.equal(g(x, t), loaded(x, t))
    meta = read_metadata(path)
    assert meta["step"] == "7"
    assert json.loads(meta["preprocessing"])["mean"] == [0.485, 0.456, 0.406]
    assert json.loads(meta["config"])["encoder_layers"] == [1, 1, 1, 1]
    assert [p.name for p in path.parent.iterdir()] == ["g.safetensors"]  # no temp files


def test_map_location(tmp_path: Path) -> None:
    path = save_model(_trained_looking(), tmp_path / "g.safetensors")
    loaded = load_model(path, map_location=torch.device("cpu"))
    assert next(loaded.parameters()).device.type == "cpu"


def test_refuses_foreign_and_broken_files(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign), metadata={"format": "pt"})
    with pytest.raises(InputError, match="foreign.safetensors: .*not an alphagan generator"):
        load_model(foreign)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(InputError, match="junk.safetensors: not a safetensors file"):
        load_model(junk)
    pth = tmp_path / "model.pth"
    torch.save({"a": torch.zeros(1)}, pth)
    with pytest.raises(InputError, match="model.pth: not a safetensors file but a PyTorch "
                                         "checkpoint .*generator.safetensors"):
        load_model(pth)
    with pytest.raises(InputError, match="no such file"):
        load_model(tmp_path / "absent.safetensors")


def test_detects_corrupted_weights(tmp_path: Path) -> None:
    path = save_model(_trained_looking(), tmp_path / "g.safetensors")
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # flip bits inside the last tensor's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="checksum"):
        load_model(path)
