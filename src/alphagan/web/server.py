"""The FastAPI application: the page, ``POST /api/matte`` and a few small helpers.

Routes
------
- ``GET /``: the page (one static HTML/JS/CSS page, nothing fetched from elsewhere).
- ``POST /api/matte``: multipart ``image`` plus ``trimap`` or ``mask`` (files); optional
  fields ``method`` (default ``alphagan``), ``output`` (``cutout`` | ``alpha`` | ``trimap`` |
  ``composite`` as a PNG, or ``json`` for all four as data URLs; default ``cutout``),
  ``background`` (a colour for the composite) or a ``background_image`` file, and for masks
  ``erode_size``, ``foreground_threshold``, ``background_threshold`` (rembg's names).
  Errors are JSON ``{"error": "..."}``: 400 bad input, 411 no Content-Length, 413 too
  large, 503 queue full.
- ``POST /api/preview``: the photo as the server reads it (upright), a JPEG to paint on.
- ``GET /api/info``: methods, limits, defaults and example scenes, for the page.
- ``GET /api/examples/{name}/image.png`` and ``.../trimap.png``: the example scenes.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from alphagan.web.scenes import SCENES, scene_png
from alphagan.web.service import MatteRequest, MattingService, QueueFull, Upload
from alphagan.web.uploads import UploadError, preview_jpeg

__all__ = ["create_app"]

_log = logging.getLogger("alphagan.web")

_MASK_OPTIONS = {  # rembg's alpha-matting option names, and the range each accepts
    "erode_size": (0, 200),
    "foreground_threshold": (0, 255),
    "background_threshold": (0, 255),
}
_OUTPUTS = ("cutout", "alpha", "trimap", "composite", "json")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class BodyLimit:
    """Refuse a POST whose declared body is over ``max_bytes`` (413) or undeclared (411),
    before reading any of it; the HTTP server holds the client to its Content-Length."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            length = dict(scope["headers"]).get(b"content-length")
            response = None
            if length is None or not length.isdigit():
                response = _error(411, "send the request with a Content-Length header")
            elif int(length) > self.max_bytes:
                response = _error(413, f"the upload is {int(length) / 2**20:.1f} MB, over this "
                                       f"server's limit of {self.max_bytes / 2**20:g} MB")
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _file(form: FormData, name: str) -> Upload | None:
    value = form.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, UploadFile):
        raise UploadError(400, f"{name}: expected a file upload (multipart form field with a "
                               f"filename), got a text field")
    return Upload(value.file.read(), value.filename)


def _text(form: FormData, name: str, default: str) -> str:
    value = form.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, UploadFile):
        raise UploadError(400, f"{name}: expected a text field, got a file")
    return value.strip()


def _mask_options(form: FormData) -> dict[str, int]:
    options = {}
    for name, (low, high) in _MASK_OPTIONS.items():
        text = _text(form, name, "")
        if not text:
            continue
        if not text.isdigit() or not low <= int(text) <= high:
            raise UploadError(400, f"{name}: expected a whole number from {low} to {high}, "
                                   f"got {text!r}")
        options[name] = int(text)
    return options


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def create_app(service: MattingService) -> FastAPI:
    """The application around ``service`` (which holds the model, limits and queue)."""
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(title="alphagan", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    static = resources.files("alphagan.web") / "static"
    index = (static / "index.html").read_text(encoding="utf-8")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.exception_handler(UploadError)
    async def _upload_error(_: Request, exc: UploadError) -> JSONResponse:
        return _error(exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # malformed multipart bodies, unknown routes, wrong methods: the same JSON shape
        return _error(exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(QueueFull)
    async def _queue_full(_: Request, exc: QueueFull) -> JSONResponse:
        return _error(503, str(exc), headers={"Retry-After": "2"})

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        _log.exception("request failed")
        return _error(500, f"internal error ({type(exc).__name__}: {exc}); see the server log")

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return index

    @app.get("/api/info")
    async def info() -> dict[str, Any]:
        return {
            "methods": list(service.methods),
            "model": service.model_name,
            "limits": service.limits.describe(),
            "queue": {"max_pending": service.max_pending, "pending": service.pending},
            "examples": [{"name": n, "title": t} for n, (t, _) in SCENES.items()],
        }

    @app.get("/api/examples/{name}/{kind}.png")
    async def example(name: str, kind: str) -> Response:
        try:
            png = await run_in_threadpool(scene_png, name, kind)
        except KeyError:
            return _error(404, f"no example {name}/{kind}.png; see /api/info")
        return Response(png, media_type="image/png")

    @app.post("/api/preview")
    async def preview(request: Request) -> Response:
        async with request.form(max_files=2, max_fields=4) as form:
            image = _file(form, "image")
        if image is None:
            raise UploadError(400, "image: no photo was uploaded")
        jpeg, (width, height) = await run_in_threadpool(
            preview_jpeg, image.data, image.filename, service.limits)
        return Response(jpeg, media_type="image/jpeg",
                        headers={"X-Image-Width": str(width), "X-Image-Height": str(height)})

    @app.post("/api/matte")
    async def matte(request: Request) -> Response:
        async with request.form(max_files=6, max_fields=12) as form:
            output = _text(form, "output", "cutout")
            if output not in _OUTPUTS:
                raise UploadError(400, f"output: {output!r} is not one of {', '.join(_OUTPUTS)}")
            image = _file(form, "image")
            if image is None:
                raise UploadError(400, "image: no photo was uploaded")
            job = MatteRequest(
                image=image, trimap=_file(form, "trimap"), mask=_file(form, "mask"),
                method=_text(form, "method", "alphagan"),
                results=("trimap", "alpha", "cutout", "composite") if output == "json"
                else (output,),
                background=_text(form, "background", "white"),
                background_image=_file(form, "background_image"),
                mask_options=_mask_options(form),
            )
        result = await service.run(job)
        headers = {"X-Alphagan-Seconds": f"{result.seconds:.3f}",
                   "X-Alphagan-Method": result.method}
        if output != "json":
            return Response(result.pngs[output], media_type="image/png", headers=headers)
        return JSONResponse({
            "method": result.method, "seconds": round(result.seconds, 3),
            "width": result.width, "height": result.height,
            "images": {kind: _data_url(png) for kind, png in result.pngs.items()},
        })

    app.add_middleware(BodyLimit, max_bytes=service.limits.max_bytes)
    return app
