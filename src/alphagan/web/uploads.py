"""Uploaded files -> PIL images, with the server's limits; errors users can act on.

Uploads stay in memory: the bytes are opened by Pillow straight from a buffer, upright (EXIF
orientation applied, as ``alphagan.io`` does for files), and handed as PIL images to
``alphagan.convert``, the conversion every other input goes through. Nothing here touches
the disk. One difference from files: Pillow reads 16-bit RGB PNGs at 8 bits per channel.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from alphagan.errors import InputError
from alphagan.io import check_16bit_png

__all__ = ["UploadError", "Limits", "open_upload", "preview_jpeg"]


class UploadError(Exception):
    """An upload the server refuses; ``status`` is the HTTP status (400 bad, 413 too large)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Limits:
    """What one request may hold: total bytes, and pixels per picture."""

    max_bytes: int = 50 * 2**20
    max_pixels: int = 16_000_000

    def describe(self) -> dict[str, float]:
        return {"max_upload_mb": self.max_bytes / 2**20,
                "max_megapixels": self.max_pixels / 1e6}


def open_upload(data: bytes, field: str, filename: str | None, limits: Limits) -> Image.Image:
    """Decode one uploaded picture (form field ``field``) to an upright PIL image, loaded.

    Raises ``UploadError`` 400 for an empty file or one that is not a picture Pillow reads
    (JPEG, PNG, WebP, TIFF, BMP, ...), 413 for one with more than ``limits.max_pixels`` pixels
    (checked from the header, before decoding the pixels).
    """
    label = f"{field} ({filename})" if filename else field
    if not data:
        raise UploadError(400, f"{label}: the file is empty")
    try:
        opened = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise UploadError(413, f"{label}: too many pixels for this server") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise UploadError(
            400, f"{label}: not an image file (expected a JPEG, PNG, WebP or TIFF picture)"
        ) from None
    width, height = opened.size
    if width * height > limits.max_pixels:
        raise UploadError(
            413, f"{label}: {width}x{height} is {width * height / 1e6:.1f} megapixels, over "
                 f"this server's limit of {limits.max_pixels / 1e6:g} megapixels"
        )
    try:
        check_16bit_png(data, label)
    except InputError as exc:
        raise UploadError(400, str(exc)) from None
    try:
        opened.load()
        upright = ImageOps.exif_transpose(opened)
    except Exception:  # noqa: BLE001 - Pillow raises many types for truncated/corrupt data
        raise UploadError(400, f"{label}: the picture is truncated or corrupt") from None
    return upright


def preview_jpeg(data: bytes, filename: str | None,
                 limits: Limits) -> tuple[bytes, tuple[int, int]]:
    """The photo as matting reads it (upright, RGB), as JPEG bytes for the page to paint on,
    and its (width, height). Browsers cannot show every format the server reads (TIFF,
    16-bit PNG), so the page shows this instead of the file itself."""
    import numpy as np

    from alphagan.convert import to_image

    try:
        rgb = to_image(open_upload(data, "image", filename, limits))
    except ValueError as exc:
        raise UploadError(400, " ".join(str(exc).split())) from None
    buffer = io.BytesIO()
    Image.fromarray(np.rint(rgb * 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue(), (rgb.shape[1], rgb.shape[0])
