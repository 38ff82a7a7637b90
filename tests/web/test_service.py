"""MattingService without a server: the bounded queue and the request checks."""

from __future__ import annotations

import asyncio
import threading

import pytest

pytest.importorskip("fastapi", reason="alphagan serve needs the 'app' extra")

from alphagan.web.service import MatteRequest, MattingService, QueueFull, Upload  # noqa: E402
from alphagan.web.uploads import UploadError  # noqa: E402


def test_queue_refuses_beyond_max_pending_and_recovers() -> None:
    """With the worker busy and max_pending requests admitted, the next one is refused at
    once; after they finish, requests are admitted again and ran in order."""
    service = MattingService(None, max_pending=3)
    release = threading.Event()
    ran: list[int] = []

    def job(k: int) -> int:
        if k == 0:
            release.wait(10)
        ran.append(k)
        return k

    async def scenario() -> None:
        admitted = [asyncio.create_task(service.submit(job, k)) for k in range(3)]
        await asyncio.sleep(0)  # let the three tasks take their places
        assert service.pending == 3
        with pytest.raises(QueueFull, match="busy"):
            await service.submit(job, 99)
        release.set()
        assert await asyncio.gather(*admitted) == [0, 1, 2]
        assert service.pending == 0
        assert await service.submit(job, 4) == 4

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        service.close()
    assert ran == [0, 1, 2, 4]


def test_check_refuses_malformed_requests() -> None:
    service = MattingService(None)  # no model: the classical methods only
    image = Upload(b"x", "a.png")
    assert "alphagan" not in service.methods and "cf" in service.methods
    cases = [
        (MatteRequest(image, trimap=image, method="alphagan"), "not available"),
        (MatteRequest(image, method="cf"), "exactly one"),
        (MatteRequest(image, trimap=image, mask=image, method="cf"), "exactly one"),
        (MatteRequest(image, trimap=image, method="cf", results=("gif",)), "gif"),
        (MatteRequest(image, trimap=image, method="cf", background="plaid"), "plaid"),
    ]
    for request, phrase in cases:
        with pytest.raises(UploadError, match=phrase) as info:
            service.check(request)
        assert info.value.status == 400
    service.close()



def test_a_bad_background_picture_is_refused_before_the_matting(monkeypatch) -> None:
    """The composite's background upload is decoded before the (slow) matting runs: a text
    file is a 400 naming it, and the solver is never called."""
    import io as _io

    import numpy as np
    from PIL import Image

    import alphagan.matting
    from alphagan.examples import make_example
    from alphagan.trimap import trimap_to_uint8

    def png(array: np.ndarray) -> bytes:
        buffer = _io.BytesIO()
        Image.fromarray(array).save(buffer, format="PNG")
        return buffer.getvalue()

    scene = make_example(60, 84, seed=5)
    calls: list[str] = []
    real = alphagan.matting.matte
    monkeypatch.setattr(alphagan.matting, "matte",
                        lambda *a, **k: calls.append("matte") or real(*a, **k))
    service = MattingService(None)
    image = Upload(png((scene.image * 255).round().astype(np.uint8)), "photo.png")
    trimap = Upload(png(trimap_to_uint8(scene.trimap)), "trimap.png")
    request = MatteRequest(image, trimap=trimap, method="cf", results=("composite",),
                           background_image=Upload(b"not a picture", "notes.png"))
    try:
        with pytest.raises(UploadError, match="notes.png") as info:
            service.matte(request)
        assert info.value.status == 400 and calls == []
        good = MatteRequest(image, trimap=trimap, method="cf", results=("composite",),
                            background="green")
        assert set(service.matte(good).pngs) == {"composite"} and calls == ["matte"]
    finally:
        service.close()


def test_a_trimap_alone_from_a_mask_runs_no_matting(monkeypatch: pytest.MonkeyPatch) -> None:
    """results=("trimap",) with a mask: the trimap rembg's convention gives, without running
    any matting (the CLI's --outputs trimap does the same); found by a new-user trial."""
    import io

    import numpy as np
    from PIL import Image

    import alphagan.matting
    from alphagan.trimap import trimap_from_soft_mask

    def png(array: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="PNG")
        return buffer.getvalue()

    def no_matting(*args, **kwargs):
        raise AssertionError("matte() ran for a trimap-only request")

    monkeypatch.setattr(alphagan.matting, "matte", no_matting)
    mask = np.zeros((40, 48), np.uint8)
    mask[10:30, 12:36] = 255
    image = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    service = MattingService(None)
    try:
        result = service.matte(MatteRequest(Upload(png(image), "a.png"), mask=Upload(
            png(mask), "m.png"), method="cf", results=("trimap",)))
    finally:
        service.close()
    got = np.asarray(Image.open(io.BytesIO(result.pngs["trimap"])))
    expected = trimap_from_soft_mask(mask / 255.0)
    assert set(result.pngs) == {"trimap"} and (result.width, result.height) == (48, 40)
    np.testing.assert_array_equal(got, np.rint(expected * 255).astype(np.uint8))
