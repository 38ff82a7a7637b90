"""Loading a torchvision-format resnet50 state_dict into the 4-channel encoder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from alphagan.errors import InputError
from alphagan.models import AlphaGANGenerator, adapt_first_conv, load_backbone_weights
from tests.helpers import TINY_CONFIG


def torchvision_resnet50_shapes() -> dict[str, tuple[int, ...]]:
    """The keys and shapes of ``torchvision.models.resnet50().state_dict()``, written out from
    torchvision's layout (Bottleneck, expansion 4, downsample in each stage's first block)
    independently of our encoder code."""
    shapes: dict[str, tuple[int, ...]] = {"conv1.weight": (64, 3, 7, 7)}

    def bn(prefix: str, c: int) -> None:
        for name in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{name}"] = (c,)
        shapes[f"{prefix}.num_batches_tracked"] = ()

    bn("bn1", 64)
    in_c = 64
    for stage, (blocks, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), start=1):
        for b in range(blocks):
            p = f"layer{stage}.{b}"
            shapes[f"{p}.conv1.weight"] = (width, in_c, 1, 1)
            bn(f"{p}.bn1", width)
            shapes[f"{p}.conv2.weight"] = (width, width, 3, 3)
            bn(f"{p}.bn2", width)
            shapes[f"{p}.conv3.weight"] = (width * 4, width, 1, 1)
            bn(f"{p}.bn3", width * 4)
            if b == 0:
                shapes[f"{p}.downsample.0.weight"] = (width * 4, in_c, 1, 1)
                bn(f"{p}.downsample.1", width * 4)
            in_c = width * 4
    shapes["fc.weight"] = (1000, 2048)
    shapes["fc.bias"] = (1000,)
    return shapes


def fake_torchvision_file(path: Path, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    state = {
        k: (torch.randint(0, 100, s, generator=gen) if k.endswith("num_batches_tracked")
            else torch.randn(s, generator=gen))
        for k, s in torchvision_resnet50_shapes().items()
    }
    torch.save(state, path)
    return state


def test_encoder_has_torchvision_names_and_shapes() -> None:
    expected = torchvision_resnet50_shapes()
    ours = {k: tuple(v.shape) for k, v in AlphaGANGenerator().encoder.state_dict().items()}
    assert len(expected) == 320  # torchvision's resnet50 state_dict has 320 entries
    del expected["fc.weight"], expected["fc.bias"]
    expected["conv1.weight"] = (64, 4, 7, 7)
    assert ours == expected


def test_load_copies_rgb_filters_and_zeroes_trimap(tmp_path: Path) -> None:
    path = tmp_path / "resnet50.pth"
    state = fake_torchvision_file(path)
    g = AlphaGANGenerator()
    report = load_backbone_weights(g, path)
    w = g.encoder.conv1.weight.detach()
    assert torch.equal(w[:, :3], state["conv1.weight"])
    assert torch.count_nonzero(w[:, 3]) == 0
    assert torch.equal(g.encoder.layer4[2].conv3.weight.detach(), state["layer4.2.conv3.weight"])
    assert torch.equal(g.encoder.layer2[0].downsample[1].running_var,
                       state["layer2.0.downsample.1.running_var"])
    assert sorted(report.unused) == ["fc.bias", "fc.weight"]
    assert report.missing == []
    assert len(report.loaded) == 318


def test_load_accepts_wrapped_and_ddp_prefixed_dicts(tmp_path: Path) -> None:
    path = tmp_path / "plain.pth"
    state = fake_torchvision_file(path)
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, wrapped)
    g = AlphaGANGenerator()
    load_backbone_weights(g, wrapped)
    assert torch.equal(g.encoder.layer1[0].conv1.weight.detach(), state["layer1.0.conv1.weight"])


def test_group_norm_model_reports_unused_statistics(tmp_path: Path) -> None:
    path = tmp_path / "resnet50.pth"
    fake_torchvision_file(path)
    report = load_backbone_weights(AlphaGANGenerator(norm="group"), path)
    assert "bn1.running_mean" in report.unused
    assert "layer1.0.conv1.weight" in report.loaded


def test_wrong_files_are_refused_clearly(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"definitely not a checkpoint")
    with pytest.raises(InputError, match="garbage.pth: not a PyTorch state_dict"):
        load_backbone_weights(AlphaGANGenerator(), garbage)
    other = tmp_path / "other.pth"
    torch.save({"encoder.weight": torch.zeros(3, 3)}, other)
    with pytest.raises(InputError, match="other.pth: no tensor matches"):
        load_backbone_weights(AlphaGANGenerator(), other)
    with pytest.raises(InputError, match="no such file"):
        load_backbone_weights(AlphaGANGenerator(), tmp_path / "missing.pth")


def test_resnet50_file_into_a_small_encoder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "resnet50.pth"
    fake_torchvision_file(path)
    with pytest.raises(InputError, match="wrong shape"):
        load_backbone_weights(AlphaGANGenerator(TINY_CONFIG), path)


def test_adapt_first_conv() -> None:
    w = torch.randn(8, 3, 7, 7)
    wide = adapt_first_conv(w, 5)
    assert wide.shape == (8, 5, 7, 7)
    assert torch.equal(wide[:, :3], w) and torch.count_nonzero(wide[:, 3:]) == 0
    with pytest.raises(ValueError):
        adapt_first_conv(torch.randn(8, 4, 7, 7), 5)
