"""The matting work behind the page and the HTTP API, free of any web framework.

One request: a photo and its trimap (or a mask that becomes one) in, PNG files out. The model
is loaded once; requests run one at a time on a single worker thread (the model and
pymatting already use every core for one image), and at most ``max_pending`` wait or run at
once: more are refused (``QueueFull``) rather than piling up in memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from alphagan.web.uploads import Limits, UploadError, open_upload

__all__ = ["RESULT_KINDS", "Upload", "MatteRequest", "MatteResult", "QueueFull",
           "MattingService"]

# What a request can ask for: the trimap used, the alpha, the RGBA cut-out, the composite.
RESULT_KINDS = ("trimap", "alpha", "cutout", "composite")

T = TypeVar("T")


class QueueFull(Exception):
    """The bounded queue holds ``max_pending`` requests already (HTTP 503)."""


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its bytes and the name the client gave it (for messages)."""

    data: bytes
    filename: str | None = None


@dataclass(frozen=True)
class MatteRequest:
    """What the page or an API client sent. Exactly one of ``trimap`` and ``mask``.

    The mask options are rembg's alpha-matting options: mask values above
    ``foreground_threshold`` (0..255) are foreground and below ``background_threshold``
    background, both regions eroded by ``erode_size`` pixels; the rest is unknown.
    """

    image: Upload
    trimap: Upload | None = None
    mask: Upload | None = None
    method: str = "alphagan"
    results: tuple[str, ...] = ("cutout",)
    background: str = "white"
    background_image: Upload | None = None
    mask_options: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MatteResult:
    """PNG bytes by kind, the alpha's time in seconds, and the picture's size."""

    pngs: dict[str, bytes]
    seconds: float
    width: int
    height: int
    method: str


class MattingService:
    """Holds the model (``None``: the classical methods only) and runs requests in order."""

    def __init__(self, model: Any | None, *, model_name: str | None = None,
                 limits: Limits = Limits(), max_pending: int = 16) -> None:
        from alphagan.matting import METHODS

        if max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {max_pending}")
        self.model = model
        self.model_name = model_name
        self.limits = limits
        self.max_pending = max_pending
        self.methods = tuple(m for m in METHODS if m != "alphagan" or model is not None)
        self._pending = 0
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alphagan-matte")

    @property
    def pending(self) -> int:
        """Requests waiting or running now."""
        return self._pending

    def check(self, request: MatteRequest) -> None:
        """Refuse a malformed request (``UploadError`` 400) before it takes a queue place."""
        if request.method not in self.methods:
            raise UploadError(400, f"method: {request.method!r} is not available here; "
                                   f"choose from {', '.join(self.methods)}")
        unknown = [k for k in request.results if k not in RESULT_KINDS]
        if unknown or not request.results:
            raise UploadError(400, f"output: unknown kind {', '.join(unknown) or '(none)'}; "
                                   f"choose from {', '.join(RESULT_KINDS)}")
        if (request.trimap is None) == (request.mask is None):
            raise UploadError(400, "give either a trimap or a mask (exactly one of them)")
        if request.background_image is None:
            _colour(request.background)

    async def submit(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the worker thread once earlier requests are done.

        Raises ``QueueFull`` at once when ``max_pending`` requests are already waiting or
        running.
        """
        if self._pending >= self.max_pending:
            waiting = f"{self._pending} request{'s' if self._pending != 1 else ''}"
            raise QueueFull(f"the server is busy ({waiting} queued); try again in a moment")
        self._pending += 1  # only touched on the event loop's thread: no lock needed
        try:
            return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)
        finally:
            self._pending -= 1

    async def run(self, request: MatteRequest) -> MatteResult:
        """Check ``request``, wait for its turn, matte it."""
        self.check(request)
        return await self.submit(self.matte, request)

    def matte(self, request: MatteRequest) -> MatteResult:
        """Decode, matte and encode one request (blocking; the worker thread calls it).

        The matting is ``alphagan.matte`` with its defaults, the command line's: the trimap
        (or the mask's trimap, rembg's convention) comes from ``alphagan.matting.trimap_for``
        and is returned as the trimap used.
        """
        from alphagan.convert import to_image
        from alphagan.errors import TrimapError
        from alphagan.foreground import composite_onto, cutout, estimate_foreground
        from alphagan.io import encode_png
        from alphagan.matting import matte, trimap_for
        from alphagan.trimap import trimap_to_uint8

        def picture(upload: Upload | None, field: str) -> Any:
            if upload is None:
                return None
            return open_upload(upload.data, field, upload.filename, self.limits)

        try:
            image = to_image(picture(request.image, "image"))
            trimap = trimap_for(image.shape, picture(request.trimap, "trimap"),
                                picture(request.mask, "mask"), **request.mask_options)
            # read before the matting: a bad background picture is refused at once
            background = (self._background(request) if "composite" in request.results
                          else None)
            arrays: dict[str, np.ndarray] = {"trimap": trimap_to_uint8(trimap)}
            start = time.perf_counter()
            # a trimap alone needs no matting (as the CLI's --outputs trimap)
            if set(request.results) != {"trimap"}:
                arrays["alpha"] = alpha = matte(image, trimap, model=self.model,
                                                method=request.method)
            seconds = time.perf_counter() - start
            if {"cutout", "composite"} & set(request.results):
                foreground = estimate_foreground(image, alpha)
                arrays["cutout"] = cutout(foreground, alpha)
                if "composite" in request.results:
                    arrays["composite"] = composite_onto(foreground, alpha, background)
        except TrimapError as exc:  # a readable trimap the method cannot use: name the field
            field = "mask" if request.mask is not None else "trimap"
            raise UploadError(400, f"{field}: {' '.join(str(exc).split())}") from None
        except ValueError as exc:  # InputError included: the message says what is wrong
            raise UploadError(400, " ".join(str(exc).split())) from None
        pngs = {kind: encode_png(arrays[kind]) for kind in request.results}
        height, width = trimap.shape
        return MatteResult(pngs, seconds, width, height, request.method)

    def _background(self, request: MatteRequest) -> tuple[float, float, float] | np.ndarray:
        from alphagan.convert import to_image

        if request.background_image is None:
            return _colour(request.background)
        upload = request.background_image
        return to_image(open_upload(upload.data, "background", upload.filename, self.limits),
                        name="background")

    def warm_up(self) -> None:
        """Queue one tiny matting job ahead of any request: the first user does not wait for
        the network's first run and pymatting's compiled kernels to load (seconds)."""
        self._worker.submit(self._warm)

    def _warm(self) -> None:
        from alphagan.foreground import estimate_foreground
        from alphagan.matting import matte

        image = np.random.default_rng(0).random((48, 48, 3), dtype=np.float32)
        trimap = np.full((48, 48), 0.5, np.float32)
        trimap[:8], trimap[-8:] = 0.0, 1.0
        try:
            alpha = matte(image, trimap, model=self.model, method=self.methods[0])
            estimate_foreground(image, alpha)
        except Exception:  # noqa: BLE001 - a failed warm-up only costs the first request time
            logging.getLogger("alphagan.web").exception("warm-up failed")

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)


def _colour(text: str) -> tuple[float, float, float]:
    from alphagan.convert import to_color

    try:
        return to_color(text, name="background")
    except ValueError as exc:
        raise UploadError(400, str(exc)) from None
