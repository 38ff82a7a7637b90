"""GeneratorEnsemble: the mean of several generators, saved in one file, run by predict."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from alphagan.checkpoint import load_model, read_metadata, save_ensemble, save_model
from alphagan.errors import InputError
from alphagan.inference import predict_alpha
from alphagan.models import AlphaGANGenerator, GeneratorEnsemble
from tests.helpers import TINY_CONFIG

PRIOR_CONFIG = dataclasses.replace(TINY_CONFIG, prior="cf+knn", prior_clip=True)


def _members(config=TINY_CONFIG, n: int = 2) -> list[AlphaGANGenerator]:
    members = []
    for seed in range(n):
        torch.manual_seed(seed)
        g = AlphaGANGenerator(config)
        if config.prior != "none":  # a prior model's head starts at zero: make it do something
            torch.nn.init.normal_(g.head.weight, std=0.5)
        members.append(g.eval())
    return members


def test_forward_is_the_mean_of_the_members() -> None:
    members = _members()
    ensemble = GeneratorEnsemble.of(members).eval()
    image, trimap = torch.rand(1, 3, 24, 32), torch.full((1, 1, 24, 32), 0.5)
    with torch.no_grad():
        expected = (members[0](image, trimap) + members[1](image, trimap)) / 2
        got = ensemble(image, trimap)
    assert not torch.allclose(members[0](image, trimap), members[1](image, trimap))
    torch.testing.assert_close(got, expected)


def test_members_must_share_one_config_and_be_two_or_more() -> None:
    wide = AlphaGANGenerator(dataclasses.replace(TINY_CONFIG, aspp_channels=24))
    with pytest.raises(ValueError, match="config differs from member 0's in aspp_channels "):
        GeneratorEnsemble.of([_members()[0], wide])
    # the members' mode is kept: eval members give an ensemble in eval mode (clamp applies)
    assert not GeneratorEnsemble.of(_members()).training
    with pytest.raises(ValueError, match="at least 2"):
        GeneratorEnsemble.of(_members(n=1))
    with pytest.raises(ValueError, match="2 to 16"):
        GeneratorEnsemble(TINY_CONFIG, 1)


def test_save_ensemble_round_trips_and_keeps_member_metadata(tmp_path: Path) -> None:
    paths = [save_model(g, tmp_path / f"m{i}.safetensors", extra_metadata={"seed": str(i)})
             for i, g in enumerate(_members(PRIOR_CONFIG))]
    out = save_ensemble(paths, tmp_path / "ens.safetensors", extra_metadata={"note": "x"})
    meta = read_metadata(out)
    assert meta["format_version"] == "2" and meta["members"] == "2"
    assert meta["member0.seed"] == "0" and meta["member1.seed"] == "1" and meta["note"] == "x"
    loaded = load_model(out)
    assert isinstance(loaded, GeneratorEnsemble) and loaded.config == PRIOR_CONFIG
    for member, path in zip(loaded.members, paths):
        for name, tensor in load_model(path).state_dict().items():
            assert torch.equal(member.state_dict()[name], tensor)
    # a single generator's file is still version 1 and loads as one generator
    assert read_metadata(paths[0])["format_version"] == "1"
    assert isinstance(load_model(paths[0]), AlphaGANGenerator)


def test_bad_ensemble_files_are_refused_in_one_line(tmp_path: Path) -> None:
    paths = [save_model(g, tmp_path / f"m{i}.safetensors") for i, g in enumerate(_members())]
    out = save_ensemble(paths, tmp_path / "ens.safetensors")
    with pytest.raises(InputError, match="already an ensemble"):
        save_ensemble([out, paths[0]], tmp_path / "again.safetensors")
    wide = save_model(AlphaGANGenerator(dataclasses.replace(TINY_CONFIG, aspp_channels=24)),
                      tmp_path / "wide.safetensors")
    with pytest.raises(InputError, match="cannot make an ensemble.*config differs"):
        save_ensemble([paths[0], wide], tmp_path / "mixed.safetensors")

    # an ensemble file whose member count is tampered with: refused before anything is built
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(out))
    meta = read_metadata(out)
    for bad in ("3", "1", "99", "two"):
        save_file(tensors, str(tmp_path / "bad.safetensors"), metadata={**meta, "members": bad})
        with pytest.raises(InputError, match="members|do not fit"):
            load_model(tmp_path / "bad.safetensors")


@pytest.mark.parametrize("tta", ["none", "flip"])
def test_predict_alpha_of_an_ensemble_is_the_mean_of_its_members(
        tta: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the defaults (unknown region, image pooling, each member clamped to the priors'
    range): the ensemble's alpha equals the mean of each member's own predict_alpha, and the
    classical prior is solved once for the whole ensemble."""
    import alphagan.inference

    solves = []
    real = alphagan.inference.compute_prior
    monkeypatch.setattr(alphagan.inference, "compute_prior",
                        lambda *a, **k: solves.append(1) or real(*a, **k))
    rng = np.random.default_rng(0)
    image = rng.random((40, 56, 3)).astype(np.float32)
    trimap = np.full((40, 56), 0.5, np.float32)
    trimap[:8], trimap[-8:] = 0.0, 1.0
    members = _members(PRIOR_CONFIG)
    each = [predict_alpha(m, image, trimap, tta=tta) for m in members]
    assert len(solves) == 2
    got = predict_alpha(GeneratorEnsemble.of(members), image, trimap, tta=tta)
    assert len(solves) == 3
    assert np.abs(each[0] - each[1]).max() > 1e-3  # the members differ
    np.testing.assert_allclose(got, (each[0] + each[1]) / 2, atol=1e-6)


def test_an_ensemble_exports_to_onnx_with_the_same_alpha(tmp_path: Path) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    from alphagan.export import export_model

    ensemble = GeneratorEnsemble.of(_members(PRIOR_CONFIG)).eval()
    path = export_model(ensemble, tmp_path / "ens.onnx", format="onnx")
    image = torch.rand(1, 3, 24, 40)
    trimap = torch.full((1, 1, 24, 40), 0.5)
    prior = torch.rand(1, 2, 24, 40)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": image.numpy(), "trimap": trimap.numpy(),
                             "prior": prior.numpy()})[0]
    with torch.no_grad():
        expected = ensemble(image, trimap, prior).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert json.loads(read_metadata(save_model(ensemble, tmp_path / "e.safetensors"))[
        "config"])["prior_clip"] is True


def test_cli_ensemble_writes_a_loadable_file_and_refuses_bad_calls(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from alphagan.cli import main

    paths = [str(save_model(g, tmp_path / f"m{i}.safetensors")) for i, g in enumerate(_members())]
    out = tmp_path / "ens.safetensors"
    assert main(["ensemble", *paths, "-o", str(out)]) == 0
    assert len(load_model(out).members) == 2
    capsys.readouterr()
    assert main(["ensemble", paths[0], "-o", str(tmp_path / "one.safetensors")]) == 2
    assert main(["ensemble", *paths, "-o", paths[0]]) == 2  # never over an input
    (tmp_path / "dir.safetensors").mkdir()
    assert main(["ensemble", *paths, "-o", str(tmp_path / "dir.safetensors")]) == 1
    (tmp_path / "junk.safetensors").write_bytes(b"not a model")
    assert main(["ensemble", paths[0], str(tmp_path / "junk.safetensors"), "-o",
                 str(tmp_path / "x.safetensors")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and "is a folder" in err[2]
    assert "junk.safetensors: not a safetensors file" in err[-1]
    assert not (tmp_path / "x.safetensors").exists()
    same = str(Path(paths[0]).parent / "." / Path(paths[0]).name)  # the same file, respelt
    assert main(["ensemble", paths[0], same, "-o", str(tmp_path / "y.safetensors")]) == 2
    assert "given twice" in capsys.readouterr().err
    copy = tmp_path / "copy.safetensors"  # another file, the same weights
    copy.write_bytes(Path(paths[0]).read_bytes())
    assert main(["ensemble", paths[0], str(copy), "-o", str(tmp_path / "y.safetensors")]) == 1
    assert "the same weights as" in capsys.readouterr().err
    assert not (tmp_path / "y.safetensors").exists()


def test_predict_with_an_ensemble_of_one_network_twice_writes_that_networks_alpha(
        tmp_path: Path) -> None:
    """A shipped single-network model given twice (by name and by file): the CLI loads the
    ensemble (BN folded, channels last) and writes the same PNG as that model alone."""
    from alphagan.checkpoint import SHIPPED_MODELS
    from alphagan.cli import main
    from alphagan.io import write_png

    rng = np.random.default_rng(5)
    image = rng.random((48, 64, 3)).astype(np.float32)
    image[:, 32:] *= 0.3  # two halves of different brightness: something to matte
    trimap = np.full((48, 64), 128, np.uint8)
    trimap[:, :20], trimap[:, 44:] = 255, 0
    write_png(tmp_path / "img.png", image)
    write_png(tmp_path / "tri.png", trimap)
    light = SHIPPED_MODELS["alphagan-light"]
    # save_ensemble refuses a network twice; the class itself takes it
    ens = save_model(GeneratorEnsemble.of([load_model("alphagan-light"), load_model(light)]),
                     tmp_path / "ens.safetensors")
    outs = []
    for i, checkpoint in enumerate([str(light), str(ens)]):
        out = tmp_path / f"a{i}.png"
        assert main(["predict", str(tmp_path / "img.png"), str(tmp_path / "tri.png"), "-o",
                     str(out), "--outputs", "alpha", "--checkpoint", checkpoint,
                     "--quiet"]) == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_files_get_the_usual_mode_and_an_ensemble_is_no_init_from(tmp_path: Path) -> None:
    import os

    from alphagan.models import PatchDiscriminator
    from alphagan.training.build import init_models

    paths = [save_model(g, tmp_path / f"m{i}.safetensors") for i, g in enumerate(_members())]
    out = save_ensemble(paths, tmp_path / "ens.safetensors")
    umask = os.umask(0)
    os.umask(umask)
    for path in (*paths, out):  # safetensors alone would leave them owner-only (0600)
        assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(InputError, match="an ensemble of 2 generators; give one member"):
        init_models(AlphaGANGenerator(TINY_CONFIG), PatchDiscriminator(), str(out))
