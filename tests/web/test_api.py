"""POST /api/matte against the real server: the CLI's answers, bad uploads, concurrency."""

from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.web.helpers import (
    MAX_MEGAPIXELS, MAX_UPLOAD_MB, N_SCENES, Scenes, Server, as_uint8_image, png_array,
)

httpx = pytest.importorskip("httpx", reason="the API tests' client is httpx (the dev extra)")

pytestmark = pytest.mark.slow  # a server and a CLI run in subprocesses


def post(server: Server, files: dict, data: dict | None = None) -> httpx.Response:
    return httpx.post(f"{server.url}/api/matte", files=files, data=data or {}, timeout=120)


def upload(path: Path) -> tuple[str, bytes, str]:
    return (path.name, path.read_bytes(), "image/png")


def json_images(answer: httpx.Response) -> dict[str, np.ndarray]:
    """output=json: the PNG data URLs, decoded."""
    return {kind: png_array(base64.b64decode(url.split(",", 1)[1]))
            for kind, url in answer.json()["images"].items()}


def scene_files(scenes: Scenes, k: int) -> dict:
    return {"image": upload(scenes.image(k)), "trimap": upload(scenes.trimap(k))}


def test_alpha_and_cutout_equal_the_cli(server: Server, scenes: Scenes) -> None:
    alpha = post(server, scene_files(scenes, 0), {"output": "alpha"})
    assert alpha.status_code == 200, alpha.text
    assert alpha.headers["content-type"] == "image/png"
    got = png_array(alpha.content).astype(int)
    assert got.shape == scenes.cli_alpha(0).shape
    assert np.abs(got - scenes.cli_alpha(0)).max() <= 1

    cut = post(server, scene_files(scenes, 0))  # output=cutout is the default
    assert cut.status_code == 200, cut.text
    rgba = png_array(cut.content).astype(int)
    assert rgba.shape == (*got.shape, 4)
    assert np.abs(rgba[..., 3] - scenes.cli_alpha(0)).max() <= 1
    cli_rgba = png_array(scenes.cli_cutout(0).read_bytes()).astype(int)
    assert np.abs(rgba - cli_rgba).max() <= 1


@pytest.mark.parametrize("fmt", ["TIFF", "WEBP", "JPEG-EXIF"])
def test_photo_formats_read_like_png(server: Server, scenes: Scenes, fmt: str) -> None:
    """TIFF and lossless WebP give the PNG's alpha; a JPEG stored sideways with an EXIF
    orientation is turned upright before matting (it fits the upright trimap)."""
    pixels = Image.fromarray(as_uint8_image(scenes.image(1)))
    buffer = io.BytesIO()
    if fmt == "JPEG-EXIF":
        exif = Image.Exif()
        exif[0x0112] = 6  # display = stored turned 90 degrees clockwise
        pixels.transpose(Image.Transpose.ROTATE_90).save(buffer, "JPEG", quality=98, exif=exif)
    else:
        pixels.save(buffer, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    files = {"image": ("photo", buffer.getvalue(), "application/octet-stream"),
             "trimap": upload(scenes.trimap(1))}
    answer = post(server, files, {"output": "alpha"})
    assert answer.status_code == 200, answer.text
    diff = np.abs(png_array(answer.content).astype(int) - scenes.cli_alpha(1))
    if fmt == "JPEG-EXIF":  # lossy: the same matte up to JPEG noise (sideways: a 400)
        assert diff.mean() < 8.0
    else:
        assert diff.max() <= 1


def test_mask_becomes_the_trimap_used(server: Server, scenes: Scenes) -> None:
    """An RGBA cut-out as the mask: its alpha channel decides; the answer's trimap has
    foreground where the mask is opaque, background where it is clear, unknown between."""
    cutout = scenes.cli_cutout(2).read_bytes()
    files = {"image": upload(scenes.image(2)), "mask": ("cutout.png", cutout, "image/png")}
    answer = post(server, files, {"output": "trimap", "erode_size": "3"})
    assert answer.status_code == 200, answer.text
    trimap = png_array(answer.content)
    mask = png_array(cutout)[..., 3]
    assert set(np.unique(trimap)) <= {0, 128, 255}
    assert (trimap == 128).any()
    assert (mask[trimap == 255] > 240).all()
    assert (mask[trimap == 0] < 10).all()
    # exactly the trimap alphagan.matte makes from that mask file
    from alphagan.matting import trimap_for
    from alphagan.trimap import trimap_to_uint8

    expected = trimap_for(trimap.shape, mask=scenes.cli_cutout(2), erode_size=3)
    assert np.array_equal(trimap, trimap_to_uint8(expected))


def test_json_output_has_every_result(server: Server, scenes: Scenes) -> None:
    answer = post(server, scene_files(scenes, 3), {"output": "json", "background": "#00ff00"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["method"] == "alphagan" and body["seconds"] >= 0

    images = json_images(answer)
    assert set(images) == {"trimap", "alpha", "cutout", "composite"}
    alpha = images["alpha"].astype(np.float64) / 255
    assert np.abs(images["alpha"].astype(int) - scenes.cli_alpha(3)).max() <= 1
    # composite = a F + (1 - a) green, with F the cut-out's colours
    fg = images["cutout"][..., :3] / 255.0
    expected = alpha[..., None] * fg + (1 - alpha[..., None]) * np.array([0.0, 1.0, 0.0])
    assert np.abs(images["composite"] / 255.0 - expected).max() <= 2.5 / 255


def test_composite_onto_an_uploaded_picture(server: Server, scenes: Scenes) -> None:
    """A background picture of the photo's size is used as it is: a F + (1 - a) B."""
    h, w = scenes.cli_alpha(5).shape
    picture = np.random.default_rng(5).integers(0, 256, (h, w, 3), dtype=np.uint8)
    files = {**scene_files(scenes, 5), "background_image": ("bg.png", _png(picture))}
    answer = post(server, files, {"output": "json"})
    assert answer.status_code == 200, answer.text
    images = json_images(answer)
    a = images["alpha"][..., None] / 255.0
    expected = a * images["cutout"][..., :3] / 255.0 + (1 - a) * picture / 255.0
    assert np.abs(images["composite"] / 255.0 - expected).max() <= 2.5 / 255


def test_baseline_method(server: Server, scenes: Scenes) -> None:
    method = "cf"
    from alphagan.baselines import estimate_alpha_baseline
    from alphagan.io import read_image
    from alphagan.trimap import read_trimap

    answer = post(server, scene_files(scenes, 4), {"output": "alpha", "method": method})
    assert answer.status_code == 200, answer.text
    expected = estimate_alpha_baseline(method, read_image(scenes.image(4)),
                                       read_trimap(scenes.trimap(4)))
    assert np.abs(png_array(answer.content) / 255.0 - expected).max() <= 0.5 / 255 + 1e-6


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def bad_cases(scenes: Scenes) -> list[tuple[str, dict, dict, int, str]]:
    """(what, files, fields, expected status, a phrase the message must hold)."""
    image, trimap = upload(scenes.image(0)), upload(scenes.trimap(0))
    text = ("notes.txt", b"just some text, not a picture\n", "text/plain")
    other_size = ("small.png", _png(np.full((40, 50), 128, np.uint8)), "image/png")
    no_unknown = ("bw.png", _png(np.where(np.arange(128) < 64, 0, 255).astype(np.uint8)
                                 [None].repeat(96, 0)), "image/png")
    fg_unknown = ("fgu.png", _png(np.where(np.arange(128) < 64, 128, 255).astype(np.uint8)
                                  [None].repeat(96, 0)), "image/png")
    side = int((MAX_MEGAPIXELS * 1e6) ** 0.5) + 10
    huge = ("huge.png", _png(np.zeros((side, side, 3), np.uint8)), "image/png")
    from alphagan.io import encode_png  # an 8-bit photo's values saved at 16 bits

    photo16 = ("p16.png", encode_png(as_uint8_image(scenes.image(0)).astype(np.uint16),
                                     bit_depth=16), "image/png")
    return [
        ("text as photo", {"image": text, "trimap": trimap}, {}, 400, "not an image"),
        ("text as trimap", {"image": image, "trimap": text}, {}, 400, "not an image"),
        ("trimap of another size", {"image": image, "trimap": other_size}, {}, 400, "50x40"),
        ("trimap without unknown", {"image": image, "trimap": no_unknown}, {}, 400, "unknown"),
        ("trimap without background", {"image": image, "trimap": fg_unknown}, {}, 400,
         "trimap: the trimap has no known background"),
        ("no trimap or mask", {"image": image}, {}, 400, "trimap or a mask"),
        ("trimap and mask", {"image": image, "trimap": trimap, "mask": trimap}, {}, 400,
         "exactly one"),
        ("no photo", {"trimap": trimap}, {}, 400, "no photo"),
        ("unknown method", {"image": image, "trimap": trimap}, {"method": "magic"}, 400,
         "magic"),
        ("unknown output", {"image": image, "trimap": trimap}, {"output": "gif"}, 400, "gif"),
        ("bad colour", {"image": image, "trimap": trimap}, {"background": "plaid"}, 400,
         "plaid"),
        ("bad erode size", {"image": image, "mask": trimap}, {"erode_size": "-3"}, 400,
         "erode_size"),
        ("mask option with a trimap", {"image": image, "trimap": trimap}, {"erode_size": "3"},
         400, "erode_size: only with a mask"),
        ("8-bit values in a 16-bit photo", {"image": photo16, "trimap": trimap}, {}, 400,
         "image (p16.png): a 16-bit file whose values are all within 0.."),
        ("photo over the pixel limit", {"image": huge, "trimap": trimap}, {}, 413,
         "megapixels"),
    ]


def test_bad_uploads_get_their_status_and_a_message(server: Server, scenes: Scenes) -> None:
    for what, files, fields, status, phrase in bad_cases(scenes):
        answer = post(server, files, fields)
        assert answer.status_code == status, (what, answer.text)
        assert answer.headers["content-type"] == "application/json", what
        message = answer.json()["error"]
        assert phrase in message, (what, message)
        assert "Traceback" not in message and "\n" not in message, what


def test_malformed_requests_get_json_errors(server: Server) -> None:
    broken = httpx.post(f"{server.url}/api/matte", content=b"--x\r\nnonsense",
                        headers={"content-type": "multipart/form-data; boundary=x"})
    assert broken.status_code == 400 and broken.json()["error"]
    assert httpx.get(f"{server.url}/api/nothing").json()["error"] == "Not Found"
    assert httpx.get(f"{server.url}/api/matte").status_code == 405


def test_request_over_the_byte_limit_is_413(server: Server, scenes: Scenes) -> None:
    big = ("big.png", b"\0" * int((MAX_UPLOAD_MB + 1) * 2**20), "image/png")
    answer = post(server, {"image": big, "trimap": upload(scenes.trimap(0))})
    assert answer.status_code == 413
    assert "MB" in answer.json()["error"]


def test_eight_concurrent_requests_all_answered_correctly(server: Server,
                                                          scenes: Scenes) -> None:
    """Eight different scenes at once: each answer is its own scene's CLI alpha."""
    assert N_SCENES == 8
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(
            lambda k: post(server, scene_files(scenes, k), {"output": "alpha"}), range(8)))
    for k, answer in enumerate(answers):
        assert answer.status_code == 200, (k, answer.text)
        assert np.abs(png_array(answer.content).astype(int) - scenes.cli_alpha(k)).max() <= 1


def test_examples_and_preview(server: Server) -> None:
    info = httpx.get(f"{server.url}/api/info").json()
    assert info["methods"][0] == "alphagan" and "cf" in info["methods"]
    name = info["examples"][0]["name"]
    image = png_array(httpx.get(f"{server.url}/api/examples/{name}/image.png").content)
    trimap = png_array(httpx.get(f"{server.url}/api/examples/{name}/trimap.png").content)
    assert image.shape == (*trimap.shape, 3)
    assert set(np.unique(trimap)) == {0, 128, 255}
    assert httpx.get(f"{server.url}/api/examples/nothing/image.png").status_code == 404

    preview = httpx.post(f"{server.url}/api/preview",
                         files={"image": ("x.png", _png(image), "image/png")})
    assert preview.status_code == 200
    assert (preview.headers["x-image-width"], preview.headers["x-image-height"]) == (
        str(image.shape[1]), str(image.shape[0]))
    shown = np.asarray(Image.open(io.BytesIO(preview.content)).convert("RGB")).astype(int)
    assert np.abs(shown - image).mean() < 3  # a JPEG of the same picture


def test_page_is_served(server: Server) -> None:
    page = httpx.get(server.url)
    assert page.status_code == 200 and "<canvas" in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert httpx.get(server.url + asset).status_code == 200
    # everything the page loads comes from this server
    assert "http://" not in page.text and "https://" not in page.text
    # the warm-up job ran ahead of the first request (earlier tests) without an error
    assert "warm-up failed" not in server.log.read_text()


def test_nothing_is_left_on_disk(server: Server) -> None:
    """A large upload (Starlette spools those over 1 MB to a temporary file) leaves nothing
    in the server's TMPDIR once answered."""
    noise = np.random.default_rng(0).integers(0, 256, (560, 700, 3), dtype=np.uint8)
    data = _png(noise)
    assert 1 * 2**20 < len(data) < MAX_UPLOAD_MB * 2**20
    answer = httpx.post(f"{server.url}/api/preview", files={"image": ("n.png", data)})
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-image-width"] == "700"
    assert [p.name for p in server.tmpdir.rglob("*")] == []
