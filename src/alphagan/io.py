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
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from alphagan.atomic import write_bytes_atomic
from alphagan.errors import InputError
from alphagan.files import MAX_IMAGE_BYTES, read_bytes

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_PIXELS",
    "read_image",
    "read_grey",
    "read_alpha",
    "read_mask",
    "pil_to_array",
    "grey_levels",
    "refuse_8bit_in_16bit",
    "check_16bit_png",
    "write_png",
    "encode_png",
    "write_image",
    "encode_image",
    "OUTPUT_FORMATS",
    "list_images",
    "scan_images",
    "shared_stem_problems",
]

# A file or folder name as the user gave it; messages quote it as str(path).
PathLike = str | os.PathLike[str]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

# The most pixels (width x height) a file may declare; checked from the header, before any
# decoder allocates. Pillow's own decompression-bomb threshold, applied to every decoder
# (OpenCV included): an image of that size already needs ~1 GB as float32 RGB.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS

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


def read_grey(path: PathLike, *, colour: str = "luma") -> np.ndarray:
    """Read an image file as one channel on its own scale: HxW uint8 (8-bit) or uint16 (16-bit).

    Palette images are decoded first. For RGB(A) files whose colour channels are all equal
    (a grey picture saved as RGB) that channel is returned unchanged; otherwise, with
    ``colour="luma"``, the ITU-R 601 luma ``(299 R + 587 G + 114 B) / 1000`` is used, rounded
    exactly as PIL's ``convert("L")`` does, and any alpha channel is ignored. EXIF
    orientation is applied.

    ``colour="refuse"`` is for files that must hold grey levels (alpha mattes, trimaps):
    ``InputError`` when more than 0.1% of the pixels are coloured (channels more than 32
    levels apart on the 8-bit scale: a photo, a cut-out or a trimap painted in colour, whose
    brightness would be misread) or when the file has a transparency channel that is not
    fully opaque (an RGBA cut-out rather than its alpha). JPEG noise in grey files passes.
    """
    if colour not in ("luma", "refuse"):
        raise ValueError(f"colour must be 'luma' or 'refuse', got {colour!r}")
    if colour == "refuse":
        return grey_levels(_refuse_colour(_decode(path, keep_alpha=True), str(path)))
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


_COLOUR_SPREAD = 32  # 8-bit levels between channels: more is a colour, not JPEG noise
_MAX_COLOUR_FRACTION = 0.001


def _refuse_colour(pixels: np.ndarray, name: str) -> np.ndarray:
    """``pixels`` without its alpha channel; InputError if colour or transparency is there."""
    if pixels.ndim == 2:
        return pixels
    top = 65535 if pixels.dtype == np.uint16 else 255
    if pixels.shape[2] in (2, 4):
        if int(pixels[:, :, -1].min()) < top:
            raise InputError(
                f"{name}: has a transparency channel (an RGBA cut-out?); expected a grey "
                f"image (an alpha matte or trimap file)"
            )
        pixels = pixels[:, :, 0] if pixels.shape[2] == 2 else pixels[:, :, :3]
    coloured = _coloured_fraction(pixels)
    if coloured > _MAX_COLOUR_FRACTION:
        raise InputError(
            f"{name}: is a colour image ({100.0 * coloured:.1f}% of pixels coloured); "
            f"expected grey levels (an alpha matte or a black/grey/white trimap)"
        )
    return np.ascontiguousarray(pixels)


def _coloured_fraction(pixels: np.ndarray) -> float:
    """The fraction of (H, W, 3) pixels whose channels lie more than ``_COLOUR_SPREAD``
    8-bit levels apart (0 for one-channel pixels)."""
    if pixels.ndim != 3 or not pixels.size:
        return 0.0
    scale = 257 if pixels.dtype == np.uint16 else 1
    spread = pixels.max(axis=2).astype(np.int32) - pixels.min(axis=2).astype(np.int32)
    return np.count_nonzero(spread > _COLOUR_SPREAD * scale) / spread.size


def read_alpha(path: PathLike) -> np.ndarray:
    """Read an alpha matte as float32 HxW in [0, 1] (``read_grey`` / 255 or / 65535)."""
    return _to_unit_float(read_grey(path))


def read_mask(path: PathLike) -> np.ndarray:
    """Read a mask file as HxW uint8 (8-bit) or uint16 (16-bit) on the file's own scale.

    A file with a transparency channel that is not fully opaque everywhere (an RGBA cut-out
    such as rembg writes, LA, a palette with transparency) gives that channel; any other file
    gives its grey levels as :func:`read_grey` does. EXIF orientation is applied. Raises
    ``InputError`` for a colour picture without transparency (a photo is not a mask: its
    brightness would be read as foreground).
    """
    return _mask_levels(_decode(path, keep_alpha=True), str(path))


def _mask_levels(pixels: np.ndarray, name: str) -> np.ndarray:
    """Pixels with an optional last alpha channel -> the mask (alpha if it is used, else grey)."""
    if pixels.ndim == 3 and pixels.shape[2] in (2, 4):
        alpha = pixels[:, :, -1]
        top = 65535 if pixels.dtype == np.uint16 else 255
        if (alpha != top).any():
            return np.ascontiguousarray(alpha)
        pixels = pixels[:, :, 0] if pixels.shape[2] == 2 else pixels[:, :, :3]
    coloured = _coloured_fraction(pixels)
    if coloured > _MAX_COLOUR_FRACTION:
        raise InputError(
            f"{name}: is a colour image without transparency ({100.0 * coloured:.1f}% of "
            f"pixels coloured); expected a mask: grey levels, or an RGBA cut-out whose alpha "
            f"channel is the mask (as rembg writes)"
        )
    return grey_levels(np.ascontiguousarray(pixels))


def pil_to_array(image: Image.Image, *, as_mask: bool = False, name: str = "image") -> np.ndarray:
    """A PIL image -> uint8/uint16 pixels as the file readers see them, EXIF orientation applied.

    Default: (H, W) grey or (H, W, 3) RGB, alpha dropped (as :func:`read_image` and
    :func:`read_grey` decode). ``as_mask``: (H, W), the transparency channel if one is used,
    else the grey levels (as :func:`read_mask`, which refuses colour pictures without
    transparency). Raises ``InputError`` for modes that hold no 8 or 16-bit picture (32-bit
    float or integer images out of range).
    """
    upright = ImageOps.exif_transpose(image)
    pixels = _pil_to_array(upright, name, keep_alpha=as_mask)
    return _mask_levels(pixels, name) if as_mask else pixels


def _to_unit_float(pixels: np.ndarray) -> np.ndarray:
    scale = 65535.0 if pixels.dtype == np.uint16 else 255.0
    # Division (not multiplication by 1/255) so that k/255 written back rounds to k exactly.
    return pixels.astype(np.float32) / np.float32(scale)


def _decode(path: PathLike, *, keep_alpha: bool = False) -> np.ndarray:
    """Decode a file to (H, W) grey or (H, W, 3) RGB, uint8 or uint16, oriented, alpha dropped
    (``keep_alpha``: (H, W, 2) grey + alpha or (H, W, 4) RGBA when the file has alpha)."""
    name = str(path)
    # The guarded reader refuses folders, FIFOs, devices and oversized files before reading.
    data = read_bytes(path, MAX_IMAGE_BYTES, what="image file")
    if not data:
        raise InputError(f"{name}: cannot decode image (empty file)")

    try:
        if _is_16bit_png(data):
            _check_pixels(name, *_png_size(data))
            pixels = _decode_16bit_png(data, keep_alpha)
        elif (tiff16 := _decode_16bit_tiff(data, keep_alpha)) is not None:
            pixels = tiff16
        else:
            pixels = _decode_with_pil(data, name, keep_alpha)
    except InputError:
        raise
    except Image.DecompressionBombError:
        raise InputError(f"{name}: image declares too many pixels (limit {MAX_PIXELS:,})") from None
    except MemoryError:
        raise InputError(f"{name}: not enough memory to decode this image") from None
    except Exception as exc:  # noqa: BLE001 - PIL/OpenCV raise many types for corrupt files
        raise InputError(f"{name}: cannot decode image (not an image file, or corrupt?)") from exc
    if pixels is None or pixels.size == 0:
        raise InputError(f"{name}: cannot decode image (not an image file, or corrupt?)")
    if pixels.dtype == np.uint16:
        _refuse_8bit_file(pixels, name)
    return pixels


def refuse_8bit_in_16bit(values: np.ndarray, what: str, advice: str) -> None:
    """``InputError`` for 16-bit pixels whose values all lie in 1..255: 8-bit data in a 16-bit
    container (``img.astype(np.uint16)``, PIL's ``convert("I")``, an 8-bit array saved as a
    16-bit PNG). Read on the 0..65535 scale it would be nearly black, a silent wrong answer;
    a real 16-bit picture that dark (under 0.4% of full scale) is not a matting input.
    ``what`` starts the message (e.g. ``"photo.png: a 16-bit file"``), ``advice`` ends it."""
    high = int(values.max()) if values.size else 0
    if 0 < high <= 255:
        raise InputError(f"{what} whose values are all within 0..{high}: 8-bit values stored as "
                         f"16 bits? 16 bits are read on the 0..65535 scale, where this is "
                         f"nearly black; {advice}")


def check_16bit_png(data: bytes, name: str) -> None:
    """For code that decodes with Pillow (the web server's uploads): refuse a 16-bit PNG
    holding only 8-bit values as :func:`read_image` does. Pillow reads 16-bit RGB at 8 bits,
    so such a file would become a black picture there without a word."""
    if _is_16bit_png(data):
        pixels = _decode_16bit_png(data)
        if pixels is not None:
            _refuse_8bit_file(pixels, name)


def _refuse_8bit_file(pixels: np.ndarray, name: str) -> None:
    refuse_8bit_in_16bit(pixels, f"{name}: a 16-bit file",
                         "re-save it as 8-bit, or with its values scaled to 0..65535")


def _check_pixels(name: str, width: int, height: int) -> None:
    """Refuse a header's size before decoding: empty, or more than ``MAX_PIXELS`` pixels."""
    if width <= 0 or height <= 0:
        raise InputError(f"{name}: image declares an empty size ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise InputError(
            f"{name}: image declares {width}x{height} = {width * height:,} pixels, more than "
            f"the {MAX_PIXELS:,} alphagan decodes (alphagan.io.MAX_PIXELS)"
        )


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    return struct.unpack(">II", data[16:24])


def _decode_with_pil(data: bytes, name: str, keep_alpha: bool = False) -> np.ndarray:
    with warnings.catch_warnings():
        # PIL warns about sizes near its limit; _check_pixels below refuses them in one line
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        opened = Image.open(io.BytesIO(data))
    with opened:
        # Image.open has parsed only the header: check the size before load() decodes.
        _check_pixels(name, *opened.size)
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

    ``array``: HxW (grey), HxWx3 (RGB) or HxWx4 (RGBA); float in [0, 1] (rounded to the
    nearest 8 or 16-bit level; values up to 0.001 outside are clipped, further out is a
    ``ValueError``), uint8 or uint16. ``bit_depth`` is the depth of
    the file: uint8 data written at 16 bits is scaled by 257 (exact), uint16 data written at 8
    bits is divided by 257 and rounded. The PNG is encoded in memory, written to a temporary
    file in the destination folder and renamed over ``path``, so readers never see a
    half-written file; parent folders are created. Raises ``ValueError`` for an unsupported
    array or bit depth, NaN or infinite values, floats outside [0, 1].
    """
    dest = Path(path)
    if dest.suffix.lower() != ".png":
        raise ValueError(f"{dest}: write_png writes PNG files; the name must end in .png")
    write_bytes_atomic(dest, encode_png(array, bit_depth=bit_depth))


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
    write_bytes_atomic(Path(path), encode_image(path, array, bit_depth=bit_depth))


def encode_image(path: PathLike, array: np.ndarray, *, bit_depth: int = 8) -> bytes:
    """The bytes :func:`write_image` would write to ``path`` (format from its suffix), so a
    caller can encode several outputs before writing any of them."""
    kind = format_of(path)
    if bit_depth not in _FORMAT_DEPTHS[kind]:
        raise ValueError(f"{path}: {kind} stores {' or '.join(map(str, _FORMAT_DEPTHS[kind]))}-bit "
                         f"images, not {bit_depth}-bit")
    return _encode_png(np.asarray(array), bit_depth, kind)


# Float data this far outside [0, 1] is float rounding (it is clipped); beyond it, an error.
_FLOAT_SLACK = 1e-3


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
        pixels = np.empty(array.shape, target)
        # In blocks of rows: float64 keeps the rounding exact (k/255 -> k), and the blocks keep
        # a 6000x4000 RGBA cut-out from needing 3 x 768 MB of float64 temporaries at once.
        step = max(1, (1 << 22) // max(1, array[0].size))
        for start in range(0, array.shape[0], step):
            block = array[start : start + step].astype(np.float64)
            if not np.isfinite(block).all():
                raise ValueError("cannot write an array with NaN or infinite values")
            low, high = block.min(), block.max()
            if low < -_FLOAT_SLACK or high > 1 + _FLOAT_SLACK:
                # e.g. a 0..255 float image: clipping would write it all white, silently
                raise ValueError(f"float values must be in [0, 1]; got values from {low:.4g} "
                                 f"to {high:.4g} (for 0..255 data pass uint8 or divide by 255)")
            np.clip(block, 0.0, 1.0, out=block)
            block *= top
            pixels[start : start + step] = np.rint(block, out=block)
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
    (names starting with ".", e.g. macOS "._photo.jpg" resource forks, and alphagan's own
    temporary files) are skipped. Raises ``InputError`` if the folder does not exist or two
    files share a stem (``a.png`` and ``a.jpg``), since images, trimaps and alphas are matched
    by stem; :func:`scan_images` reports those per file instead.
    """
    found, shared = scan_images(folder)
    if shared:
        raise InputError(shared_stem_problems(shared)[0])
    return found


def scan_images(folder: PathLike) -> tuple[dict[str, Path], dict[str, list[Path]]]:
    """Like :func:`list_images`, but files sharing a stem are returned apart, not fatal.

    Returns ``(found, shared)``: ``found`` maps stem -> path for every stem held by exactly
    one file; ``shared`` maps each stem held by several files to those files, so a folder run
    can report them (:func:`shared_stem_problems`) and go on with the rest. Entries that are
    not folders (a FIFO or a broken link named ``x.png``) are listed too: reading them fails
    with a line naming them, instead of being silently ignored. Raises ``InputError`` if
    ``folder`` is missing, not a folder, or cannot be listed.
    """
    name = str(folder)
    root = Path(folder)
    if not root.exists():
        raise InputError(f"{name}: no such folder")
    if not root.is_dir():
        raise InputError(f"{name}: not a folder")
    by_stem: dict[str, list[Path]] = {}
    try:
        entries = sorted(root.iterdir())
    except OSError as exc:
        raise InputError(f"{name}: cannot list folder ({exc.strerror or exc})") from None
    for entry in entries:
        if entry.name.startswith(".") or entry.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        if entry.is_dir():
            continue
        by_stem.setdefault(entry.stem, []).append(entry)
    found = {stem: paths[0] for stem, paths in sorted(by_stem.items()) if len(paths) == 1}
    shared = {stem: paths for stem, paths in sorted(by_stem.items()) if len(paths) > 1}
    return found, shared


def shared_stem_problems(shared: dict[str, list[Path]]) -> list[str]:
    """One line per file of :func:`scan_images`'s ``shared``, naming it and its namesakes."""
    return [
        f"{path}: shares the stem {stem!r} with {', '.join(p.name for p in paths if p != path)}"
        f" (files are paired by stem; rename one)"
        for stem, paths in shared.items()
        for path in paths
    ]
