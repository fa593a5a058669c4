"""Any image input -> one RGB image, with every cost bounded before it is paid.

Paths, bytes, PIL images and NumPy arrays are accepted; what is not a usable image is an
ImageError that says why. The pixel count is checked on the header before anything is
decoded (a decompression bomb costs nothing), files are read only if they are regular and
not huge, icon containers are refused, and only a first frame is read.
"""

from __future__ import annotations

import io
import math
import os
import stat
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# No captcha is anywhere near 4 megapixels (2000x2000); the limit is checked on the
# header, before anything is decoded, so a small file that unpacks to a huge image (a
# decompression bomb) costs nothing. CAPTCHA_BREAK_MAX_PIXELS changes it.
DEFAULT_MAX_PIXELS = 4_000_000


# Icon containers: their directory states a small size, then an embedded PNG decodes at its
# own (hundreds of MB from a small file, before the pixel check could refuse it). No captcha
# is an icon.
CONTAINER_FORMATS = ("ICO", "ICNS", "CUR")


def max_pixels() -> int:
    """The pixel limit: CAPTCHA_BREAK_MAX_PIXELS, a whole number from 1 to Pillow's own bomb
    limit, else DEFAULT_MAX_PIXELS; a value that is none of these is an error, not ignored."""
    value = os.environ.get("CAPTCHA_BREAK_MAX_PIXELS", "").strip()
    if not value:
        return DEFAULT_MAX_PIXELS
    top = Image.MAX_IMAGE_PIXELS or 178_956_970
    if not (value.isascii() and value.isdigit() and 0 < int(value) <= top):
        raise ValueError(f"CAPTCHA_BREAK_MAX_PIXELS must be a whole number of pixels from 1 to {top:,}, not {value!r}")
    return int(value)


class ImageError(ValueError):
    """An input that is not a usable image."""


class ImageNotFound(ImageError, FileNotFoundError):
    """No file at the path given: an ImageError (a batch names it and reads the rest) that
    callers can also catch as the FileNotFoundError it is."""


class ImageTooLarge(ImageError):
    """An image of more pixels than the limit (a decompression bomb, or no captcha)."""


def open_image(source: str | Path | bytes | Image.Image) -> Image.Image:
    """Read a path, raw bytes or a PIL image; raise ImageError with a clear reason."""
    if isinstance(source, Image.Image):
        return source
    max_pixels()  # a bad CAPTCHA_BREAK_MAX_PIXELS is said as such, not as a "corrupt" image
    try:
        data = source if isinstance(source, bytes) else _read_file(Path(source))
    except FileNotFoundError as err:
        raise ImageNotFound(f"no file at {source}") from err
    except OSError as err:
        raise ImageError(f"cannot read {source}: {err.strerror or err}") from err
    if not data:
        raise ImageError("empty file")
    try:
        image = Image.open(io.BytesIO(data))
        if image.format in CONTAINER_FORMATS:
            raise ImageError(f"{image.format} files are not read: an icon's header hides the size of the image inside")
        check_size(image.size)  # from the header: nothing decoded yet
        _check_jpeg_data(image, len(data))
        image.load()  # decode now, so a truncated file fails here and not later
    except UnidentifiedImageError as err:
        raise ImageError("not an image (format not recognised)") from err
    except Image.DecompressionBombError as err:
        raise ImageTooLarge(f"image too large (possible decompression bomb): {err}") from err
    except (OSError, SyntaxError, ValueError) as err:
        if isinstance(err, ImageError):
            raise
        raise ImageError(f"corrupt or truncated image: {err}") from err
    return image


def _check_jpeg_data(image: Image.Image, size: int) -> None:
    """Refuse a JPEG whose file is too small to hold the pixels its header states: libjpeg
    fills what is missing with gray and only warns, so such a file would read "fine". Every
    8x8 block of a scan costs at least one bit (its DC code), a bound no real JPEG is near."""
    if image.format != "JPEG":
        return
    blocks = math.ceil(image.width / 8) * math.ceil(image.height / 8)
    if size * 8 < blocks:
        raise ImageError(
            f"corrupt or truncated image: a JPEG of {size:,} bytes cannot hold the {image.width}x{image.height} pixels "
            "its header states"
        )


# A captcha file is kilobytes; a file this large is refused before it is read.
MAX_FILE_BYTES = 64 * 1024 * 1024


def _read_file(path: Path) -> bytes:
    """A regular file's bytes, refused first if it is not one (a pipe would block, a device
    never end) or is larger than any image of the pixel limit."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise ImageError(f"{path} is not a regular file (a folder, pipe or device)")
    if info.st_size > MAX_FILE_BYTES:
        raise ImageTooLarge(f"{path} is {info.st_size:,} bytes: over the {MAX_FILE_BYTES:,} a captcha file could need")
    return path.read_bytes()


def check_size(size: tuple[int, int]) -> None:
    """Refuse an empty image, or one of more pixels than any captcha has."""
    width, height = size
    if width < 1 or height < 1:
        raise ImageError(f"empty image ({width}x{height} pixels)")
    if width * height > max_pixels():
        raise ImageTooLarge(
            f"image too large: {width}x{height} pixels, over the limit of {max_pixels():,} (CAPTCHA_BREAK_MAX_PIXELS)"
        )


EXIF_ORIENTATION = 0x0112


def flatten_onto_white(image: Image.Image) -> Image.Image:
    """First frame, any mode -> RGB; transparency becomes a white background.

    Captchas served as RGBA or palette images with a transparent background must not
    turn black, which is what a plain convert("RGB") would do.
    """
    # The first frame, without counting frames: a TIFF's count walks every page, and a few
    # MB of one-pixel pages cost tens of seconds of CPU (the reliability review).
    if hasattr(image, "tell") and image.tell() != 0:
        image.seek(0)
    if image.getexif().get(EXIF_ORIENTATION, 1) != 1:  # as browsers show it: a phone's photo of a captcha
        image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I") or image.mode == "F":
        image = _gray_to_8bit(image)
    try:
        if image.mode in ("P", "LA", "PA", "RGBA", "La", "RGBa") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(white, rgba).convert("RGB")
        return image.convert("RGB")
    except ValueError as err:  # a mode Pillow cannot turn into RGB (LAB, HSV, ...)
        raise ImageError(f"cannot read an image of mode {image.mode}: {err}") from err


def _gray_to_8bit(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float grayscale -> 8 bits, scaled, not clipped.

    Pillow's convert("L") clips 16-bit values at 255, which turns a 16-bit captcha into a
    blank white image. 16-bit data is divided by 257 (65535 -> 255); "I" and "F" images
    are read as 16-bit when their values go past 255, and floats up to 1.0 as [0, 1].
    """
    values = np.asarray(image).astype(np.float64)
    top = float(values.max(initial=0))
    if image.mode.startswith("I;16") or top > 255:
        values = values / 257
    elif image.mode == "F" and top <= 1.0:
        values = values * 255
    return Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8), "L")


def as_image(source: str | Path | bytes | Image.Image | np.ndarray) -> Image.Image:
    """Any image input as a PIL image; a NumPy array is taken as (H, W), (H, W, 3) or
    (H, W, 4) pixels."""
    image = Image.fromarray(_as_uint8(source)) if isinstance(source, np.ndarray) else open_image(source)
    check_size(image.size)  # PIL images and arrays come without a header check
    return image


def _as_uint8(array: np.ndarray) -> np.ndarray:
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ImageError(f"an image array must be (H, W), (H, W, 3) or (H, W, 4), not {array.shape}")
    check_size((array.shape[1], array.shape[0]))
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ImageError(f"an image array must hold numbers, not {array.dtype}")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise ImageError("the image array holds NaN or infinite values")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255  # True is white, as Pillow's 1-bit images
    if np.issubdtype(array.dtype, np.complexfloating):
        raise ImageError("an image array must hold real numbers, not complex ones")
    top = float(array.max()) if array.size else 0.0
    if np.issubdtype(array.dtype, np.floating) and top <= 1.0:
        array = array * 255.0  # floats in [0, 1]
    elif np.issubdtype(array.dtype, np.integer) and top > 255:
        # 16-bit (np.asarray of a 16-bit PNG) and wider integers: scaled like the file's pixels,
        # not clipped to white (a blank image read with confidence).
        array = array.astype(np.float64) * (255.0 / (65535.0 if top <= 65535 else top))
    return np.clip(array, 0, 255).astype(np.uint8)
