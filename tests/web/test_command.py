"""``alphagan serve``'s arguments: refused before anything is loaded."""

from __future__ import annotations

import pytest

from alphagan.cli import main


@pytest.mark.parametrize("args", [["--port", "0"], ["--port", "70000"], ["--queue", "0"],
                                  ["--max-megapixels", "0"], ["--max-upload-mb", "-1"]])
def test_bad_settings_are_usage_errors(args: list[str], capsys: pytest.CaptureFixture) -> None:
    assert main(["serve", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("alphagan: error:") and len(err.strip().splitlines()) == 1


def test_help_has_an_example(capsys: pytest.CaptureFixture) -> None:
    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert "127.0.0.1" in out and "7860" in out and "curl -F image=@" in out


def test_a_port_in_use_is_one_line_before_anything_loads(
        capsys: pytest.CaptureFixture) -> None:
    """Found by a new-user trial: serve printed "serving on ..." and then uvicorn's error."""
    import socket

    pytest.importorskip("uvicorn", reason="alphagan serve needs the 'app' extra")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--checkpoint", "alphagan-light"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"cannot listen on 127.0.0.1:{port}" in err[0]
    assert "in use" in err[0] and "serving on" not in err[0]
