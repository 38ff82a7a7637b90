"""The real server in a subprocess on a free loopback port, and the CLI's answers to compare.

Both are session-wide: one server and one CLI run serve every API and page test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from alphagan.examples import make_example
from alphagan.io import write_png
from alphagan.trimap import trimap_to_uint8
from tests.web.helpers import (
    MAX_MEGAPIXELS, MAX_UPLOAD_MB, N_SCENES, SCENE_SIZE, Scenes, Server,
)


@pytest.fixture(scope="session")
def scenes(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Scenes:
    """Eight small project-made scenes, matted once by ``python -m alphagan predict``."""
    root = tmp_path_factory.mktemp("web_scenes")
    found = Scenes(root)
    for k in range(N_SCENES):
        scene = make_example(*SCENE_SIZE, seed=k)
        write_png(found.image(k), scene.image)
        write_png(found.trimap(k), trimap_to_uint8(scene.trimap))
    cli = subprocess.Popen(
        [sys.executable, "-m", "alphagan", "predict", "--image-dir", str(root / "images"),
         "--trimap-dir", str(root / "trimaps"), "--out", str(root / "cli"),
         "--outputs", "alpha,cutout", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    request.getfixturevalue("server")  # start the server while the CLI works
    output, _ = cli.communicate(timeout=300)
    assert cli.returncode == 0, output
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``python -m alphagan serve`` on a free 127.0.0.1 port, ready to answer."""
    pytest.importorskip("fastapi", reason="alphagan serve needs the 'app' extra (pip install "
                                          "'alphagan[app]')")
    httpx = pytest.importorskip("httpx", reason="the API tests' client is httpx (dev extra)")
    root = tmp_path_factory.mktemp("web_server")
    tmpdir = root / "tmp"
    tmpdir.mkdir()
    log = root / "server.log"
    port = _free_port()
    env = dict(os.environ, TMPDIR=str(tmpdir))
    cmd = [sys.executable, "-m", "alphagan", "serve", "--host", "127.0.0.1", "--port",
           str(port), "--max-megapixels", str(MAX_MEGAPIXELS), "--max-upload-mb",
           str(MAX_UPLOAD_MB)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            pytest.fail(f"alphagan serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/api/info", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"alphagan serve did not answer within 120 s:\n{log.read_text()}")
        time.sleep(0.25)
    try:
        yield Server(url, tmpdir, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
