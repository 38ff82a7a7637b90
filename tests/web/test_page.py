"""The page in a real browser: Playwright driving the system's Chromium, headless.

Playwright cannot download its own browser here, so the tests launch Debian's ``chromium``
(``apt-get install chromium``; ``.ci/run`` installs it) and skip when it or Playwright is
missing. Screenshots land in ``test-artifacts/web/`` at the repository root.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.web.helpers import Scenes, Server, png_array

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"


def _chromium() -> str | None:
    found = os.environ.get("ALPHAGAN_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the page tests need Playwright (pip install playwright)")
    executable = _chromium()
    if executable is None:
        pytest.skip("the page tests need Chromium: apt-get install chromium (or set "
                    "ALPHAGAN_CHROMIUM to a Chromium binary)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser, server: Server):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1200, "height": 1000},
                                  accept_downloads=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.goto(server.url)
    opened.wait_for_selector("#method option", state="attached")  # /api/info answered
    yield opened
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def run_and_wait(page) -> None:  # type: ignore[no-untyped-def]
    page.click("#run")
    page.wait_for_selector("#results:not([hidden])", timeout=120_000)


def shown_png(page, element_id: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The PNG an <img> on the page shows (the bytes the server sent), decoded."""
    data = page.evaluate(f"fetch(document.getElementById('{element_id}').src)"
                         ".then(r => r.arrayBuffer()).then(b => Array.from(new Uint8Array(b)))")
    return png_array(bytes(data))


def download(page, selector: str, tmp_path: Path) -> np.ndarray:  # type: ignore[no-untyped-def]
    with page.expect_download() as info:
        page.click(selector)
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    return png_array(target.read_bytes())


def test_upload_photo_and_trimap_then_download_the_cutout(page, scenes: Scenes,
                                                          tmp_path: Path) -> None:
    page.set_input_files("#photo-file", str(scenes.image(0)))
    page.wait_for_function("document.getElementById('status').textContent.startsWith('photo')")
    page.check("input[name=source][value=trimap]")
    page.set_input_files("#trimap-file", str(scenes.trimap(0)))
    run_and_wait(page)
    page.screenshot(path=ARTIFACTS / "upload_result.png", full_page=True)

    cutout = download(page, "#download-cutout", tmp_path)
    assert cutout.shape == (*scenes.cli_alpha(0).shape, 4)  # an RGBA PNG
    assert np.abs(cutout[..., 3].astype(int) - scenes.cli_alpha(0)).max() <= 1
    alpha = download(page, "#download-alpha", tmp_path)
    assert np.abs(alpha.astype(int) - scenes.cli_alpha(0)).max() <= 1
    assert "alphagan" in page.inner_text("#time") and " s " in page.inner_text("#time")


def test_mask_with_a_band_width(page, scenes: Scenes, tmp_path: Path) -> None:
    """An RGBA cut-out as the mask: a wider band gives more unknown pixels in the trimap
    used, and each answer is a matte (foreground where the mask is opaque)."""
    page.set_input_files("#photo-file", str(scenes.image(2)))
    page.wait_for_function("document.getElementById('status').textContent.startsWith('photo')")
    page.check("input[name=source][value=mask]")
    page.set_input_files("#mask-file", str(scenes.cli_cutout(2)))
    mask = png_array(scenes.cli_cutout(2).read_bytes())[..., 3]
    unknown = []
    for band in ("2", "8"):
        page.fill("#band", band)
        run_and_wait(page)
        used = shown_png(page, "out-trimap")
        assert (mask[used == 255] > 240).all() and (mask[used == 0] < 10).all()
        unknown.append(int((used == 128).sum()))
        page.evaluate("document.getElementById('results').hidden = true")
    assert 0 < unknown[0] < unknown[1]
    page.screenshot(path=ARTIFACTS / "mask_result.png", full_page=True)


def _ring(page, cx: float, cy: float, rx: float, ry: float) -> None:  # type: ignore[no-untyped-def]
    page.mouse.move(cx + rx, cy)
    page.mouse.down()
    for step in range(1, 73):
        angle = 2 * math.pi * step / 72
        page.mouse.move(cx + rx * math.cos(angle), cy + ry * math.sin(angle))
    page.mouse.up()


def test_paint_a_trimap_on_an_example_and_get_a_matte(page, tmp_path: Path) -> None:
    """Clear the example's trimap, paint an unknown band over the furry ball's rim with the
    mouse, undo a stray dab, fill the inside with foreground, and matte: the page sends the
    painted trimap, and the matte in the band follows the scene's true alpha."""
    from alphagan.examples import make_example

    page.click("button[data-example=furry-ball]")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('example')")
    page.click("#clear-trimap")
    box = page.locator("#paint-canvas").bounding_box()
    truth = make_example()  # the scene the server made: centre and radii from examples.py
    h, w = truth.alpha.shape
    scale = box["width"] / w
    cx, cy = box["x"] + 0.5 * w * scale, box["y"] + 0.52 * h * scale
    rx, ry = 0.22 * w * scale, 0.28 * h * scale
    page.check("input[name=label][value='128']")
    page.fill("#brush-size", "36")
    for grow in (-5, 25, 50):  # three rings of a 36-pixel brush: rim to hair tips
        _ring(page, cx, cy, rx + grow * scale, ry + grow * scale)
    page.check("input[name=label][value='255']")
    page.mouse.click(box["x"] + 10 * scale, box["y"] + 10 * scale)  # a stray dab ...
    page.click("#undo")  # ... undone: the corner stays background (checked below)
    page.check("input[name=tool][value=fill]")
    page.mouse.click(cx, cy)
    page.screenshot(path=ARTIFACTS / "painted.png", full_page=True)
    run_and_wait(page)
    page.screenshot(path=ARTIFACTS / "painted_result.png", full_page=True)

    alpha = download(page, "#download-alpha", tmp_path) / 255.0
    used = shown_png(page, "out-trimap")
    centre = (round(0.52 * h), round(0.5 * w))
    assert used[centre] == 255 and used[0, 0] == 0 and used[-1, -1] == 0
    band = used == 128
    rim = (centre[0], round(0.5 * w + 0.22 * w + 25))  # on the painted band, right of centre
    assert band[rim]
    assert band.mean() > 0.1
    error = np.abs(alpha - truth.alpha)[band].mean()
    guess = np.abs(0.5 - truth.alpha)[band].mean()  # what knowing only the band gives
    print(f"painted band: mean |alpha - truth| {error:.3f}; 0.5 everywhere: {guess:.3f}")
    assert error < guess / 2, (error, guess)


def test_bad_files_get_readable_messages(page, scenes: Scenes, tmp_path: Path) -> None:
    """A text file as the photo, then a trimap of another size, a trimap without unknown
    pixels and a photo over the server's size limit: each a message on the page."""
    from alphagan.io import write_png

    notes = tmp_path / "notes.txt"
    notes.write_text("this is not a photo\n")
    page.set_input_files("#photo-file", str(notes))
    message = page.locator("#message")
    message.wait_for(state="visible")
    assert "notes.txt" in message.inner_text() and "not an image file" in message.inner_text()
    page.screenshot(path=ARTIFACTS / "text_file_message.png", full_page=True)

    page.set_input_files("#photo-file", str(scenes.image(0)))
    page.wait_for_function("document.getElementById('status').textContent.startsWith('photo')")
    assert message.is_hidden()
    page.check("input[name=source][value=trimap]")
    small = tmp_path / "small_trimap.png"
    write_png(small, np.full((40, 50), 128, np.uint8))
    black_white = tmp_path / "black_white.png"
    write_png(black_white, np.repeat(np.where(np.arange(128) < 64, 0, 255).astype(np.uint8)
                                     [None], 96, axis=0))
    # a trimap of another size: said as soon as it is chosen, before "Make the matte"
    page.set_input_files("#trimap-file", str(small))
    message.wait_for(state="visible")
    assert "50x40" in message.inner_text() and "photo" in message.inner_text()
    page.evaluate("document.getElementById('message').hidden = true")
    # the server's own check ("width x height" is in its message only), and its next one
    for trimap, phrase in ((small, "width x height"), (black_white, "no unknown")):
        page.set_input_files("#trimap-file", str(trimap))
        page.click("#run")
        page.wait_for_function("!document.getElementById('message').hidden")
        assert phrase in message.inner_text(), message.inner_text()
        page.evaluate("document.getElementById('message').hidden = true")

    big = tmp_path / "big.png"
    write_png(big, np.zeros((800, 800, 3), np.uint8))
    page.set_input_files("#photo-file", str(big))
    message.wait_for(state="visible")
    assert "megapixels" in message.inner_text()
    page.screenshot(path=ARTIFACTS / "size_limit_message.png", full_page=True)
