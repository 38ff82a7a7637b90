"""Export to ONNX (parity with ONNX Runtime) and TorchScript (round trip)."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from alphagan.checkpoint import save_model
from alphagan.errors import InputError
from alphagan.export import _scatter_unpool2d, build_export_parser, export_model, run_export
from alphagan.models import AlphaGANGenerator
from tests.helpers import TINY_CONFIG
from tests.test_inference_fast import randomize_batchnorm

# Two sizes that are not the tracing example's (67x83) and not multiples of 8, one batched.
SIZES = [(2, 72, 96), (1, 101, 77)]


@pytest.fixture(scope="module")
def generator() -> AlphaGANGenerator:
    torch.manual_seed(0)
    return randomize_batchnorm(AlphaGANGenerator(TINY_CONFIG))


def inputs(batch: int, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(h * w)
    image = torch.rand(batch, 3, h, w, generator=gen)
    trimap = torch.randint(0, 3, (batch, 1, h, w), generator=gen).float() / 2
    return image, trimap


def test_scatter_unpool_equals_max_unpool() -> None:
    x = torch.rand(2, 5, 30, 22)
    pooled, indices = F.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    values = torch.rand_like(pooled)  # like the decoder: other values at the same indices
    expected = F.max_unpool2d(values, indices, 2, stride=2, output_size=x.shape[-2:])
    got = _scatter_unpool2d(values, indices, 2, stride=2, output_size=x.shape[-2:])
    assert torch.equal(got, expected)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_torchscript_round_trip(tmp_path: Path, generator) -> None:
    path = export_model(generator, tmp_path / "g.pt", format="torchscript")
    loaded = torch.jit.load(str(path))
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in generator.modules())  # untouched
    for size in SIZES:
        image, trimap = inputs(*size)
        with torch.no_grad():
            expected = generator(image, trimap)
            got = loaded(image, trimap)
        assert got.shape == expected.shape
        assert (got - expected).abs().max() < 1e-5


def test_onnx_runtime_parity(tmp_path: Path, generator) -> None:
    pytest.importorskip("onnx", reason="ONNX export needs the onnx extra: pip install '.[onnx]'")
    ort = pytest.importorskip(
        "onnxruntime", reason="the parity check needs the onnx extra: pip install '.[onnx]'"
    )
    path = export_model(generator, tmp_path / "g.onnx", format="onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image", "trimap"]
    for size in SIZES:
        image, trimap = inputs(*size)
        with torch.no_grad():
            expected = generator(image, trimap).numpy()
        (got,) = session.run(None, {"image": image.numpy(), "trimap": trimap.numpy()})
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < 1e-4


def export_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="alphagan")
    build_export_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["export", *argv])


def test_export_command(tmp_path: Path, generator, capsys) -> None:
    checkpoint = save_model(generator, tmp_path / "tiny.safetensors")
    out = tmp_path / "sub" / "g.pt"
    args = export_args("--format", "torchscript", "--checkpoint", str(checkpoint),
                       "--out", str(out))
    assert args.opset == 17
    assert run_export(args) == 0
    assert out.is_file() and "wrote" in capsys.readouterr().err
    with pytest.raises(InputError):
        run_export(export_args("--format", "torchscript", "--checkpoint",
                               str(tmp_path / "missing.safetensors"), "--out", str(out)))
    if importlib.util.find_spec("onnx") is not None:
        onnx_out = tmp_path / "g.onnx"
        assert run_export(export_args("--format", "onnx", "--checkpoint", str(checkpoint),
                                      "--out", str(onnx_out), "--opset", "17")) == 0
        assert onnx_out.is_file()


@pytest.mark.parametrize(("head", "clip"), [("correction", False), ("gate", False),
                                           ("correction", True)])
def test_onnx_export_of_a_prior_model_takes_the_prior(tmp_path: Path, head: str,
                                                      clip: bool) -> None:
    pytest.importorskip("onnx", reason="ONNX export needs the onnx extra: pip install '.[onnx]'")
    ort = pytest.importorskip(
        "onnxruntime", reason="the parity check needs the onnx extra: pip install '.[onnx]'"
    )
    import dataclasses

    torch.manual_seed(1)
    # with the shipped model's blend of the priors' mean (an eval-mode step: it must export)
    model = randomize_batchnorm(AlphaGANGenerator(dataclasses.replace(
        TINY_CONFIG, prior="cf+knn", prior_blend=0.75, prior_head=head,
        prior_clip=clip)))
    with torch.no_grad():
        model.head.weight.normal_(0, 0.1)  # not the untrained zero head
    path = export_model(model, tmp_path / "p.onnx", format="onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image", "trimap", "prior"]
    image, trimap = inputs(1, 101, 77)
    prior = torch.rand(1, 2, 101, 77)
    with torch.no_grad():
        expected = model(image, trimap, prior).numpy()
    (got,) = session.run(None, {"image": image.numpy(), "trimap": trimap.numpy(),
                                "prior": prior.numpy()})
    assert np.abs(got - expected).max() < 1e-4
    unblended = (expected - 0.25 * prior.mean(1, keepdim=True).numpy()) / 0.75
    assert np.abs(got - unblended).max() > 1e-3  # the blend is in the exported graph
