"""What a user's input means: the one module that turns the forms people hold into the
package's convention, or refuses them.

Inside the package: image float32 HxWx3 RGB in [0, 1]; alpha and mask float32 HxW in [0, 1];
trimap float32 HxW in {0, 0.5, 1}; colour a tuple of three floats in [0, 1].

Accepted at the edge (every public function goes through here):

- a path (``str`` or ``os.PathLike``): read with :mod:`alphagan.io` (8/16-bit, palette, grey,
  RGB(A), EXIF orientation);
- a PIL image of any mode: decoded as the file readers decode (EXIF orientation applied);
- a NumPy array: ``uint8`` (0..255), ``uint16`` (0..65535), ``bool`` (masks only) or float in
  [0, 1]; HxW, HxWx1, HxWx3 or HxWx4 as the kind allows.

What cannot be read unambiguously is a ``ValueError`` (:class:`~alphagan.errors.InputError`)
that says what was given and what is expected, never a guess: float values outside [0, 1]
(a 0..255 float image; up to 0.15 beyond, the overshoot of cubic resampling, is clipped), NaN
or infinity, 8-bit values in a uint16 array (all within 1..255), integer types other than
uint8/uint16, a trimap of labels 0/1/2, a 0/1 uint8 mask, a colour image where one channel
is expected, shapes that are not a picture.
"""

from __future__ import annotations

import os
from typing import Any, Union

import numpy as np
from PIL import Image, ImageColor

from alphagan import io as _io
from alphagan.errors import InputError

__all__ = [
    "ImageLike",
    "ColorLike",
    "to_image",
    "to_alpha",
    "to_mask",
    "to_trimap",
    "to_color",
    "to_background",
    "alpha_255",
]

# Everything a public function accepts as a picture.
ImageLike = Union[str, "os.PathLike[str]", Image.Image, np.ndarray]
# A colour: a name or hex string ("white", "#00ff00", "0,255,0"), or 3 numbers.
ColorLike = Union[str, tuple[float, float, float], list[float], np.ndarray]

# Float inputs may overshoot [0, 1]: cubic and Lanczos resampling of a photo went to -0.02
# and 1.13 on the alphamatting.com images; such values are clipped. Beyond this margin the
# array is almost certainly on the 0..255 scale, which would silently give wrong answers.
_FLOAT_TOLERANCE = 0.15


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike))


def _describe(array: np.ndarray) -> str:
    """``uint8 array of shape (4, 5, 3)`` (with its value range when not empty)."""
    text = f"{array.dtype} array of shape {array.shape}"
    if array.size and array.dtype.kind in "biuf" and np.isfinite(array).all():
        text += f" with values {array.min():g}..{array.max():g}"
    return text


def _array(value: Any, name: str, expected: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (list, tuple)):
        return np.asarray(value)
    # torch tensors and other array-likes: refuse rather than guess their layout
    raise InputError(f"{name}: got a {type(value).__name__}; expected {expected}")


def _unit_float(array: np.ndarray, name: str) -> np.ndarray:
    """uint8 / uint16 / float array -> float32 in [0, 1]; refuses anything else."""
    if array.size == 0:
        raise InputError(f"{name}: empty array (shape {array.shape})")
    if array.dtype == np.uint8:
        # Division (not multiplication by 1/255) so that k/255 written back rounds to k.
        return array.astype(np.float32) / np.float32(255.0)
    if array.dtype == np.uint16:
        _refuse_8bit_in_16bit(array, name)
        return array.astype(np.float32) / np.float32(65535.0)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            bad = int(np.count_nonzero(~np.isfinite(array)))
            raise InputError(
                f"{name}: {array.dtype} array of shape {array.shape} holds {bad} NaN or "
                "infinite value(s); expected finite values in [0, 1]"
            )
        low, high = float(array.min()), float(array.max())
        if low < -_FLOAT_TOLERANCE or high > 1.0 + _FLOAT_TOLERANCE:
            hint = " (divide 0..255 data by 255)" if high > 1.0 else ""
            raise InputError(
                f"{name}: float values must be in [0, 1], got {low:g}..{high:g}{hint}"
            )
        if array.dtype == np.float32 and low >= 0.0 and high <= 1.0:
            # Already what is asked for: no copy (a 6000x4000 RGB image is 288 MB, and the
            # pipeline passes its image through here twice). Callers do not modify it.
            return array
        return np.clip(array, 0.0, 1.0).astype(np.float32, copy=False)
    raise InputError(
        f"{name}: got a {_describe(array)}; expected uint8 (0..255), uint16 (0..65535) or "
        "float in [0, 1]"
    )


def _refuse_8bit_in_16bit(array: np.ndarray, name: str) -> None:
    """16-bit arrays (and PIL images) holding only 8-bit values are refused
    (:func:`alphagan.io.refuse_8bit_in_16bit`); files are checked when decoded."""
    _io.refuse_8bit_in_16bit(
        array, f"{name}: 16-bit values",
        "pass uint8 (array.astype(np.uint8)), values scaled to 0..65535, or for truly dark "
        "16-bit data floats (array / 65535)")


def _single_channel(array: np.ndarray, name: str, what: str) -> np.ndarray:
    """HxW, HxWx1, or HxWx3 whose channels are equal (grey stored as RGB) -> HxW."""
    if array.ndim == 3 and array.shape[2] == 1:
        return array[:, :, 0]
    if array.ndim == 3 and array.shape[2] == 3:
        if np.array_equal(array[:, :, 0], array[:, :, 1]) and np.array_equal(
            array[:, :, 1], array[:, :, 2]
        ):
            return array[:, :, 0]
        raise InputError(
            f"{name}: got a colour {_describe(array)}; expected {what} (HxW, one channel)"
        )
    if array.ndim != 2:
        raise InputError(f"{name}: got a {_describe(array)}; expected {what} (HxW, one channel)")
    return array


# --------------------------------------------------------------------------------------------
# Images


def to_image(image: ImageLike, *, name: str = "image") -> np.ndarray:
    """Any accepted picture -> float32 HxWx3 RGB in [0, 1].

    Grey (HxW, HxWx1) is replicated to three channels; the alpha channel of HxWx4 (RGBA)
    input is dropped, not composited, as for files. Raises ``ValueError`` (``InputError``)
    for other shapes and the ambiguous forms listed in the module docstring.
    """
    if _is_path(image):
        return _io.read_image(image)
    if isinstance(image, Image.Image):
        pixels = _io.pil_to_array(image, name=name)
    else:
        pixels = _array(image, name, "a path, a PIL image or an HxWx3 array")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = pixels[:, :, :3]
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    if pixels.ndim != 3 or pixels.shape[2] != 3 or min(pixels.shape[:2]) == 0:
        raise InputError(
            f"{name}: got a {_describe(pixels)}; expected an image HxWx3 (RGB), HxWx4 (RGBA) "
            "or HxW (grey)"
        )
    return np.ascontiguousarray(_unit_float(pixels, name))


# --------------------------------------------------------------------------------------------
# Alpha mattes and masks


def to_alpha(alpha: ImageLike, *, name: str = "alpha") -> np.ndarray:
    """An alpha matte -> float32 HxW in [0, 1].

    Files are read as grey levels (:func:`alphagan.io.read_alpha`); PIL images of modes L,
    I;16, I, 1, F and RGB with equal channels; arrays HxW, HxWx1 or HxWx3 with equal channels
    (grey saved as RGB, as files are read). A colour image or an RGBA one is refused: pass its
    alpha channel (``rgba[..., 3]``) or use ``mask=`` where a mask is meant.
    """
    if _is_path(alpha):
        return _io.read_alpha(alpha)
    if isinstance(alpha, Image.Image):
        if alpha.mode == "F":
            array = np.asarray(alpha)
        elif alpha.mode in ("L", "1", "I", "I;16", "I;16B", "I;16L", "RGB"):
            array = _io.pil_to_array(alpha, name=name)
        else:
            raise InputError(
                f"{name}: got a PIL image of mode {alpha.mode}; expected a one-channel alpha "
                "(mode L, I;16 or F); for an RGBA image pass image.getchannel('A')"
            )
    else:
        array = _array(alpha, name, "a path, a PIL image or an HxW array")
    if array.ndim == 3 and array.shape[2] in (2, 4):
        raise InputError(
            f"{name}: got a {_describe(array)}; expected an alpha matte HxW (one channel); "
            "for an RGBA array pass rgba[..., 3]"
        )
    return _unit_float(_single_channel(array, name, "an alpha matte"), name)


def alpha_255(alpha: ImageLike, *, name: str = "alpha") -> np.ndarray:
    """An alpha matte -> float64 HxW on the 0..255 scale, exact for 8-bit input (the metrics').

    uint8 is kept as is, uint16 divided by 257, float in [0, 1] multiplied by 255. Other
    integer arrays must hold values in 0..255. Same refusals as :func:`to_alpha`.
    """
    if _is_path(alpha):
        array = _io.read_grey(alpha)
    elif (isinstance(alpha, np.ndarray) and alpha.dtype.kind in "iu"
          and (alpha.ndim == 2 or (alpha.ndim == 3 and alpha.shape[2] in (1, 3)))):
        array = _single_channel(alpha, name, "an alpha matte")
        if array.dtype == np.uint16 and array.size:
            _refuse_8bit_in_16bit(array, name)
        if array.dtype not in (np.uint8, np.uint16) and array.size and (
            array.min() < 0 or array.max() > 255
        ):
            raise InputError(
                f"{name}: got an {_describe(array)}; expected integer alpha in 0..255 "
                "(uint16: 0..65535)"
            )
    else:
        return to_alpha(alpha, name=name).astype(np.float64) * 255.0
    if array.dtype == np.uint16:
        return array.astype(np.float64) / 257.0  # 65535 / 255 == 257
    return array.astype(np.float64)


def to_mask(mask: ImageLike, *, name: str = "mask") -> np.ndarray:
    """A soft or binary mask -> float32 HxW in [0, 1] (1 = foreground).

    Files and PIL images give their transparency channel when they have one in use (an RGBA
    cut-out such as rembg writes), else their grey levels (:func:`alphagan.io.read_mask`).
    Arrays: bool; uint8 0..255; uint16; float in [0, 1]; HxW, HxWx1, HxWx2 / HxWx4 (the last
    channel is the alpha) or grey HxWx3. A uint8/uint16 array holding only 0 and 1 is refused
    as ambiguous (pass ``mask > 0`` or scale it to 0..255).
    """
    if _is_path(mask):
        array = _io.read_mask(mask)
    elif isinstance(mask, Image.Image):
        array = _io.pil_to_array(mask, as_mask=True, name=name)
    else:
        array = _array(mask, name, "a path, a PIL image or an HxW array")
        if array.ndim == 3 and array.shape[2] in (2, 4):
            array = array[:, :, -1]
        array = _single_channel(array, name, "a mask")
    if array.dtype == bool:
        return array.astype(np.float32)
    if array.dtype in (np.uint8, np.uint16) and array.size and array.max() == 1:
        raise InputError(
            f"{name}: got a {_describe(array)}; a 0/1 {array.dtype} mask is ambiguous on the "
            f"0..{np.iinfo(array.dtype).max} scale: pass a bool array (mask > 0) or 0/255 values"
        )
    return _unit_float(array, name)


# --------------------------------------------------------------------------------------------
# Trimaps


def to_trimap(trimap: ImageLike, *, name: str = "trimap", require_unknown: bool = True) -> np.ndarray:
    """A trimap -> float32 HxW in {0, 0.5, 1} (0 background, 0.5 unknown, 1 foreground).

    Accepts files, PIL images (L, P, RGB grey, I;16, ...), uint8/uint16 arrays on the
    0/128/255 scale (cv2.imread gives these, also as grey HxWx3) and float arrays in [0, 1]
    ({0, 0.5, 1}, or 128/255 for unknown as pymatting's loader gives). Every value snaps to
    the nearest level within the tolerance rule of :mod:`alphagan.trimap`; a picture that is
    not a trimap is refused, and so is one with no unknown pixel when ``require_unknown``.
    Integer arrays of labels 0/1/2 (or 0/1) are refused: the scale would be a guess.
    """
    from alphagan.trimap import read_trimap, refuse_labels, trimap_from_levels

    if _is_path(trimap):
        return read_trimap(trimap, require_unknown=require_unknown)
    if isinstance(trimap, Image.Image):
        levels = _io.grey_levels(_io.pil_to_array(trimap, name=name))
    else:
        levels = _single_channel(
            _array(trimap, name, "a path, a PIL image or an HxW array"), name, "a trimap"
        )
    if levels.size == 0:
        raise InputError(f"{name}: empty trimap (shape {levels.shape})")
    if levels.dtype == bool:
        raise InputError(
            f"{name}: got a bool array; a trimap has three levels (0, 128, 255 or 0, 0.5, 1); "
            "for a binary mask use mask= (or alphagan.trimap_from_mask)"
        )
    if levels.dtype.kind in "iu":
        refuse_labels(levels, name, f"a {levels.dtype} array of shape {levels.shape}")
        low, high = int(levels.min()), int(levels.max())
        limit = 65535 if levels.dtype == np.uint16 else 255
        if low < 0 or high > limit:
            raise InputError(
                f"{name}: got an {_describe(levels)}; expected uint8 0/128/255 or float "
                "0/0.5/1"
            )
        grey = levels.astype(np.float32)
        if levels.dtype == np.uint16:
            _refuse_8bit_in_16bit(levels, name)  # 0/128/255 in uint16: not 0/32896/65535
            grey /= np.float32(257.0)
    else:
        grey = _unit_float(levels, name) * np.float32(255.0)
    return trimap_from_levels(grey, name=name, require_unknown=require_unknown)


# --------------------------------------------------------------------------------------------
# Colours and backgrounds


def to_color(color: ColorLike, *, name: str = "colour") -> tuple[float, float, float]:
    """A colour -> (r, g, b) floats in [0, 1].

    Strings: any CSS/PIL colour name ("white", "skyblue"), ``#rgb``, ``#rrggbb``,
    ``rgb(0, 255, 0)``, or ``r,g,b`` with 0..255 values. Three numbers: integers are on the
    0..255 scale (as PIL's), floats in [0, 1]; a float above 1, four numbers (RGBA) and
    integers that are all 0 or 1 but not all 0 (``(1, 1, 1)``: white meant on the [0, 1]
    scale, or nearly black on 0..255?) raise ``InputError`` (a ``ValueError``).
    """
    if isinstance(color, str):
        text = color.strip()
        parts = text.split(",")
        if len(parts) == 3 and all(p.strip().lstrip("-").isdigit() for p in parts):
            return _color_from_numbers(np.array([int(p) for p in parts]), text, name,
                                       hint="255,255,255 or a name such as 'white'")
        try:
            rgb = ImageColor.getrgb(text)
        except ValueError:
            raise InputError(
                f"{name}: not a colour: {color!r} (use a name like 'white', '#00ff00' or "
                "'0,255,0')"
            ) from None
        if len(rgb) != 3:
            raise InputError(f"{name}: {color!r} has an alpha value; expected an RGB colour")
        return tuple(v / 255.0 for v in rgb)  # type: ignore[return-value]
    values = np.asarray(color)
    return _color_from_numbers(values, color, name)


def _color_from_numbers(values: np.ndarray, given: Any, name: str,
                        hint: str = "(255, 255, 255) or floats such as (1.0, 1.0, 1.0)",
                        ) -> tuple[float, float, float]:
    if values.shape != (3,) or values.dtype.kind not in "iuf":
        raise InputError(
            f"{name}: got {given!r}; expected 3 numbers (r, g, b): integers 0..255 or floats "
            "in [0, 1], or a colour name / hex string"
        )
    if values.dtype.kind in "iu":
        if values.min() < 0 or values.max() > 255:
            raise InputError(f"{name}: got {given!r}; integer colour values must be in 0..255")
        if values.max() == 1:  # (1, 1, 1): white on the [0, 1] scale, or near-black on 0..255?
            raise InputError(
                f"{name}: got {given!r}; integers 0 and 1 are ambiguous (integers are read as "
                f"0..255, so this is nearly black): for white give {hint}"
            )
        return tuple(float(v) / 255.0 for v in values)  # type: ignore[return-value]
    if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
        raise InputError(
            f"{name}: got {given!r}; float colour values must be in [0, 1] "
            "(integers are read as 0..255)"
        )
    return tuple(float(v) for v in values)  # type: ignore[return-value]


def to_background(
    background: ColorLike | ImageLike, *, name: str = "background"
) -> tuple[float, float, float] | np.ndarray:
    """A composite background -> a colour tuple or a float32 HxWx3 image.

    A string naming an existing file, a PIL image, or an array with two or more dimensions
    is a picture (:func:`to_image`); any other string or three numbers is a colour
    (:func:`to_color`).
    """
    if isinstance(background, str) and os.path.isfile(background):
        return to_image(background, name=name)
    if isinstance(background, os.PathLike) or isinstance(background, Image.Image):
        return to_image(background, name=name)
    if isinstance(background, np.ndarray) and background.ndim >= 2:
        return to_image(background, name=name)
    return to_color(background, name=name)  # type: ignore[arg-type]
