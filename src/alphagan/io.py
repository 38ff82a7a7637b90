"""Reading and writing images, alpha mattes and trimaps: the one place that knows file formats.

Everything the rest of the package sees follows one convention:

- image: float32 HxWx3 RGB in [0, 1];
- alpha: float32 HxW in [0, 1];
- grey (trimaps before normalisation): HxW uint8 or uint16 on the file's own scale.

The readers accept 8-bit and 16-bit PNG, JPEG, palette images, greyscale, RGB and RGBA, and
apply the EXIF orientation, so an array always looks like the picture a viewer shows. The
alpha channel of an RGBA file is dropped (not composited): in matting the colour channels are
the photograph, and a transparency channel is not part of it. Bad files raise
:class:`~alphagan.errors.InputError` with a one-line message that names the file.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from alphagan.atomic import write_bytes_atomic
from alphagan.errors import InputError

__all__ = [
    "IMAGE_EXTENSIONS",
    "read_image",
    "read_grey",
    "read_alpha",
    "read_mask",
    "pil_to_array",
    "grey_levels",
    "write_png",
    "encode_png",
    "write_image",
    "OUTPUT_FORMATS",
    "list_images",
]

# A file or folder name as the user gave it; messages quote it as str(path).
PathLike = str | os.PathLike[str]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_EXIF_ORIENTATION = 0x0112


# --------------------------------------------------------------------------------------------
# Reading


def read_image(path: PathLike) -> np.ndarray:
    """Read an image file as float32 HxWx3 RGB in [0, 1], EXIF orientation applied.

    8-bit files are divided by 255, 16-bit files by 65535. Greyscale is replicated to three
    channels, palette images are decoded to their colours, and the alpha channel of RGBA / LA
    files is dropped (the colour values are returned as stored, not composited on a
    background). Raises ``InputError`` if the file is missing or cannot be decoded.
    """
    pixels = _decode(path)  # (H, W) or (H, W, 3), uint8 or uint16
    rgb = pixels if pixels.ndim == 3 else np.repeat(pixels[:, :, None], 3, axis=2)
    return _to_unit_float(rgb)


def read_grey(path: PathLike) -> np.ndarray:
    """Read an image file as one channel on its own scale: HxW uint8 (8-bit) or uint16 (16-bit).

    Palette images are decoded first. For RGB(A) files whose colour channels are all equal
    (a grey picture saved as RGB) that channel is returned unchanged; otherwise the ITU-R 601
    luma ``(299 R + 587 G + 114 B) / 1000`` is used, rounded exactly as PIL's ``convert("L")``
    does. Any alpha channel is ignored. EXIF orientation is applied.
    """
    return grey_levels(_decode(path))


def grey_levels(pixels: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 3) uint8/uint16 pixels -> (H, W) grey on the same scale (see read_grey)."""
    if pixels.ndim == 2:
        return pixels
    r, g, b = pixels[:, :, 0], pixels[:, :, 1], pixels[:, :, 2]
    if np.array_equal(r, g) and np.array_equal(g, b):
        return np.ascontiguousarray(r)
    # PIL's fixed-point luma: weights 19595 + 38470 + 7471 == 65536, +0x8000 rounds to nearest.
    # int64 keeps the 16-bit case (65535 * 65536) from overflowing.
    luma = (
        r.astype(np.int64) * 19595 + g.astype(np.int64) * 38470 + b.astype(np.int64) * 7471
        + 0x8000
    ) >> 16
    return luma.astype(pixels.dtype)


def read_alpha(path: PathLike) -> np.ndarray:
    """Read an alpha matte as float32 HxW in [0, 1] (``read_grey`` / 255 or / 65535)."""
    return _to_unit_float(read_grey(path))


def read_mask(path: PathLike) -> np.ndarray:
    """Read a mask file as HxW uint8 (8-bit) or uint16 (16-bit) on the file's own scale.

    A file with a transparency channel that is not fully opaque everywhere (an RGBA cut-out
    such as rembg writes, LA, a palette with transparency) gives that channel; any other file
    gives its grey levels as :func:`read_grey` does. EXIF orientation is applied.
    """
    return _mask_levels(_decode(path, keep_alpha=True))


def _mask_levels(pixels: np.ndarray) -> np.ndarray:
    """Pixels with an optional last alpha channel -> the mask (alpha if it is used, else grey)."""
    if pixels.ndim == 3 and pixels.shape[2] in (2, 4):
        alpha = pixels[:, :, -1]
        top = 65535 if pixels.dtype == np.uint16 else 255
        if (alpha != top).any():
            return np.ascontiguousarray(alpha)
        pixels = pixels[:, :, 0] if pixels.shape[2] == 2 else pixels[:, :, :3]
    return grey_levels(np.ascontiguousarray(pixels))


def pil_to_array(image: Image.Image, *, as_mask: bool = False, name: str = "image") -> np.ndarray:
    """A PIL image -> uint8/uint16 pixels as the file readers see them, EXIF orientation applied.

    Default: (H, W) grey or (H, W, 3) RGB, alpha dropped (as :func:`read_image` and
    :func:`read_grey` decode). ``as_mask``: (H, W), the transparency channel if one is used,
    else the grey levels (as :func:`read_mask`). Raises ``InputError`` for modes that hold no
    8 or 16-bit picture (32-bit float or integer images out of range).
    """
    upright = ImageOps.exif_transpose(image)
    pixels = _pil_to_array(upright, name, keep_alpha=as_mask)
    return _mask_levels(pixels) if as_mask else pixels


def _to_unit_float(pixels: np.ndarray) -> np.ndarray:
    scale = 65535.0 if pixels.dtype == np.uint16 else 255.0
    # Division (not multiplication by 1/255) so that k/255 written back rounds to k exactly.
    return pixels.astype(np.float32) / np.float32(scale)


def _decode(path: PathLike, *, keep_alpha: bool = False) -> np.ndarray:
    """Decode a file to (H, W) grey or (H, W, 3) RGB, uint8 or uint16, oriented, alpha dropped
    (``keep_alpha``: (H, W, 2) grey + alpha or (H, W, 4) RGBA when the file has alpha)."""
    name = str(path)
    file = Path(path)
    if not file.exists():
        raise InputError(f"{name}: no such file")
    if file.is_dir():
        raise InputError(f"{name}: is a folder, not an image file")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot read file ({exc.strerror or exc})") from exc
    if not data:
        raise InputError(f"{name}: cannot decode image (empty file)")

    try:
        if _is_16bit_png(data):
            pixels = _decode_16bit_png(data, keep_alpha)
        elif (tiff16 := _decode_16bit_tiff(data, keep_alpha)) is not None:
            pixels = tiff16
        else:
            pixels = _decode_with_pil(data, name, keep_alpha)
    except InputError:
        raise
    except MemoryError:
        raise
    except Image.DecompressionBombError as exc:
        raise InputError(f"{name}: image too large to decode ({exc})") from exc
    except Exception as exc:  # noqa: BLE001 - PIL/OpenCV raise many types for corrupt files
        raise InputError(f"{name}: cannot decode image (not an image file, or corrupt?)") from exc
    if pixels is None or pixels.size == 0:
        raise InputError(f"{name}: cannot decode image (not an image file, or corrupt?)")
    return pixels


def _decode_with_pil(data: bytes, name: str, keep_alpha: bool = False) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        # exif_transpose returns a new, upright image (a copy when there is no tag).
        image = ImageOps.exif_transpose(opened)
    return _pil_to_array(image, name, keep_alpha)


def _pil_to_array(image: Image.Image, name: str, keep_alpha: bool = False) -> np.ndarray:
    mode = image.mode
    if keep_alpha:
        if mode in ("LA", "RGBA"):
            return np.asarray(image)
        if mode == "PA" or (mode == "P" and "transparency" in image.info):
            return np.asarray(image.convert("RGBA"))
    if mode in ("L", "RGB"):
        return np.asarray(image)
    if mode == "1":
        return np.asarray(image.convert("L"))
    if mode == "LA":
        return np.asarray(image.getchannel("L"))
    if mode in ("RGBA", "RGBX"):
        return np.ascontiguousarray(np.asarray(image)[:, :, :3])
    if mode in ("P", "PA"):
        # Via RGBA: a palette with a transparent entry must not be converted to RGB directly
        # (PIL warns); the transparency itself is dropped like any alpha channel.
        return np.ascontiguousarray(np.asarray(image.convert("RGBA"))[:, :, :3])
    if mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16)
    if mode == "I":
        values = np.asarray(image)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise InputError(f"{name}: unsupported 32-bit integer image (values outside 0..65535)")
        return values.astype(np.uint16)
    if mode == "F":
        raise InputError(f"{name}: unsupported floating-point image (save it as 8 or 16-bit)")
    # CMYK, YCbCr, LAB, HSV, premultiplied RGBa ...: let PIL convert to RGB.
    return np.asarray(image.convert("RGB"))


def _is_16bit_png(data: bytes) -> bool:
    """True for a PNG whose IHDR bit depth is 16 (Pillow would truncate 16-bit RGB to 8 bit)."""
    # Layout: 8-byte signature, then IHDR: length(4) "IHDR"(4) width(4) height(4) depth(1) ...
    return (
        len(data) > 25 and data[:8] == _PNG_SIGNATURE and data[12:16] == b"IHDR" and data[24] == 16
    )


def _decode_16bit_png(data: bytes, keep_alpha: bool = False) -> np.ndarray | None:
    decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None:
        return None
    decoded = decoded.astype(np.uint16, copy=False)
    if decoded.ndim == 3:
        channels = decoded.shape[2]
        if channels == 1:
            decoded = decoded[:, :, 0]
        elif channels == 2:  # grey + alpha
            decoded = decoded if keep_alpha else decoded[:, :, 0]
        elif channels == 4 and keep_alpha:  # OpenCV order is BGRA: to RGBA
            decoded = decoded[:, :, [2, 1, 0, 3]]
        else:  # OpenCV order is BGR(A): reverse the colour channels, drop alpha
            decoded = decoded[:, :, 2::-1]
    # IMREAD_UNCHANGED ignores EXIF orientation, so apply the PNG eXIf chunk's tag ourselves.
    return np.ascontiguousarray(_apply_orientation(decoded, _png_exif_orientation(data)))


def _decode_16bit_tiff(data: bytes, keep_alpha: bool) -> np.ndarray | None:
    """A 16-bit TIFF (as ``--bit-depth 16`` writes) decoded by OpenCV; None for any other
    file (Pillow reads 16-bit colour TIFFs only as 8 bits). Orientation tags are not applied."""
    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.dtype != np.uint16:
        return None
    if decoded.ndim == 3 and decoded.shape[2] == 1:
        return decoded[:, :, 0]
    if decoded.ndim == 3 and decoded.shape[2] == 4 and keep_alpha:
        return np.ascontiguousarray(decoded[:, :, [2, 1, 0, 3]])
    if decoded.ndim == 3:
        return np.ascontiguousarray(decoded[:, :, 2::-1] if decoded.shape[2] >= 3 else decoded[:, :, 0])
    return decoded


def _png_exif_orientation(data: bytes) -> int:
    """The EXIF orientation (1..8) stored in a PNG's eXIf chunk, 1 if there is none."""
    offset = 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind == b"eXIf":
            exif = Image.Exif()
            exif.load(data[offset + 8 : offset + 8 + length])
            orientation = exif.get(_EXIF_ORIENTATION, 1)
            return orientation if orientation in range(1, 9) else 1
        if kind == b"IEND":
            break
        offset += 12 + length  # length + type + data + CRC
    return 1


def _apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels into displayed ones, as PIL.ImageOps.exif_transpose does."""
    if orientation == 2:  # mirrored horizontally
        return pixels[:, ::-1]
    if orientation == 3:  # rotated 180
        return pixels[::-1, ::-1]
    if orientation == 4:  # mirrored vertically
        return pixels[::-1]
    if orientation == 5:  # transpose
        return pixels.swapaxes(0, 1)
    if orientation == 6:  # display = stored rotated 90 degrees clockwise
        return np.rot90(pixels, k=-1)
    if orientation == 7:  # transverse
        return pixels.swapaxes(0, 1)[::-1, ::-1]
    if orientation == 8:  # display = stored rotated 90 degrees counter-clockwise
        return np.rot90(pixels, k=1)
    return pixels


# --------------------------------------------------------------------------------------------
# Writing


def write_png(path: PathLike, array: np.ndarray, *, bit_depth: int = 8) -> None:
    """Write an array as an 8 or 16-bit PNG, atomically.

    ``array``: HxW (grey), HxWx3 (RGB) or HxWx4 (RGBA); float in [0, 1] (clipped, then
    rounded to the nearest 8 or 16-bit level), uint8 or uint16. ``bit_depth`` is the depth of
    the file: uint8 data written at 16 bits is scaled by 257 (exact), uint16 data written at 8
    bits is divided by 257 and rounded. The PNG is encoded in memory, written to a temporary
    file in the destination folder and renamed over ``path``, so readers never see a
    half-written file; parent folders are created. Raises ``ValueError`` for an unsupported
    array or bit depth.
    """
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth!r}")
    dest = Path(path)
    if dest.suffix.lower() != ".png":
        raise ValueError(f"{dest}: write_png writes PNG files; the name must end in .png")
    encoded = _encode_png(np.asarray(array), bit_depth)

    write_bytes_atomic(dest, encoded)


def encode_png(array: np.ndarray, *, bit_depth: int = 8) -> bytes:
    """The bytes of the PNG file ``write_png`` would write (same arrays, same rules)."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth!r}")
    return _encode_png(np.asarray(array), bit_depth)


# Output format -> file suffix, and the bit depths each can store.
OUTPUT_FORMATS = {"png": ".png", "webp": ".webp", "tiff": ".tif"}
_SUFFIX_FORMATS = {".png": "png", ".webp": "webp", ".tif": "tiff", ".tiff": "tiff"}
_FORMAT_DEPTHS = {"png": (8, 16), "webp": (8,), "tiff": (8, 16)}


def format_of(path: PathLike) -> str:
    """The output format a file name asks for (png, webp, tiff); ValueError for others."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIX_FORMATS:
        raise ValueError(
            f"{path}: cannot write {suffix or 'a name without extension'}; use .png, .webp, "
            ".tif or .tiff"
        )
    return _SUFFIX_FORMATS[suffix]


def write_image(path: PathLike, array: np.ndarray, *, bit_depth: int = 8) -> None:
    """Write an array as PNG, WebP (lossless) or TIFF, chosen by the file's suffix, atomically.

    ``array`` as for :func:`write_png`. PNG and TIFF store 8 or 16 bits per channel, WebP
    8 only (a ValueError otherwise). Straight (non-premultiplied) alpha in every format.
    """
    kind = format_of(path)
    if bit_depth not in _FORMAT_DEPTHS[kind]:
        raise ValueError(f"{path}: {kind} stores {' or '.join(map(str, _FORMAT_DEPTHS[kind]))}-bit "
                         f"images, not {bit_depth}-bit")
    write_bytes_atomic(Path(path), _encode_png(np.asarray(array), bit_depth, kind))


def _encode_png(array: np.ndarray, bit_depth: int, kind: str = "png") -> bytes:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ValueError(f"expected an HxW, HxWx3 or HxWx4 array, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"cannot write an empty array (shape {array.shape})")

    target = np.uint8 if bit_depth == 8 else np.uint16
    top = 255 if bit_depth == 8 else 65535
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ValueError("cannot write an array with NaN or infinite values")
        pixels = np.rint(np.clip(array.astype(np.float64), 0.0, 1.0) * top).astype(target)
    elif array.dtype == np.uint8:
        pixels = array if bit_depth == 8 else array.astype(np.uint16) * np.uint16(257)
    elif array.dtype == np.uint16:
        pixels = array if bit_depth == 16 else np.rint(array / 257.0).astype(np.uint8)
    else:
        raise ValueError(f"expected a float, uint8 or uint16 array, got dtype {array.dtype}")

    if kind == "tiff":
        return _encode_tiff(pixels)
    if pixels.ndim == 3:  # OpenCV wants BGR(A)
        order = [2, 1, 0] if pixels.shape[2] == 3 else [2, 1, 0, 3]
        pixels = pixels[:, :, order]
    params: list[int] = []
    if kind == "webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, 101]  # above 100: lossless
    ok, buffer = cv2.imencode(OUTPUT_FORMATS[kind], np.ascontiguousarray(pixels), params)
    if not ok:
        raise ValueError(f"OpenCV could not encode the array as {kind.upper()}")
    return buffer.tobytes()


def _encode_tiff(pixels: np.ndarray) -> bytes:
    """RGB(A) or grey pixels -> deflate-compressed TIFF bytes, the fourth channel tagged as
    unassociated (straight) alpha so compositing programs read it as transparency (OpenCV's
    writer leaves it untagged)."""
    import tifffile  # only when a TIFF is written

    buffer = io.BytesIO()
    rgba = pixels.ndim == 3 and pixels.shape[2] == 4
    tifffile.imwrite(
        buffer, np.ascontiguousarray(pixels),
        photometric="rgb" if pixels.ndim == 3 else "minisblack",
        extrasamples=["unassalpha"] if rgba else None,
        compression="zlib",
    )
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# Folders


def list_images(folder: PathLike) -> dict[str, Path]:
    """Map stem -> path for the image files directly in ``folder``, sorted by stem.

    A file counts when its extension (any case) is in ``IMAGE_EXTENSIONS``; hidden files
    (names starting with ".", e.g. macOS "._photo.jpg" resource forks) are skipped. Raises
    ``InputError`` if the folder does not exist or two files share a stem (``a.png`` and
    ``a.jpg``), since images, trimaps and alphas are matched by stem.
    """
    name = str(folder)
    root = Path(folder)
    if not root.exists():
        raise InputError(f"{name}: no such folder")
    if not root.is_dir():
        raise InputError(f"{name}: not a folder")
    found: dict[str, Path] = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or entry.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        if not entry.is_file():
            continue
        if entry.stem in found:
            raise InputError(
                f"{name}: two images share the stem {entry.stem!r}: "
                f"{found[entry.stem].name} and {entry.name}"
            )
        found[entry.stem] = entry
    return dict(sorted(found.items()))
