"""The one image -> array transform, shared by training, prediction, export and serving.

`to_pixels` turns any image Pillow can read into a uint8 array of the model's input size
(this is also what the data caches store); `normalize` turns a batch of those into the
float32 tensor a model takes. Keeping both here means preprocessing cannot drift between
training and inference.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from .config import FITS, PADDED_FITS

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


@dataclass(frozen=True)
class InputSpec:
    """What a model takes: (channels, height, width) pixels scaled to [0, 1]."""

    height: int = 64
    width: int = 128
    channels: int = 3  # 3 = RGB, 1 = grayscale
    # How an image of another size becomes height x width. "stretch": resized to it.
    # "pad": scaled to the height keeping its aspect ratio, then padded on the right with
    # its background colour (squeezed only if still wider): for sets whose widths vary.
    # "crop": cut to the box around the text first where the text is small in its image
    # (`crop_to_text`), then padded: for sets whose text fills a small part of the image.
    fit: str = "stretch"

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, not {self.channels}")
        if self.fit not in FITS:
            raise ValueError(f"fit must be one of {FITS}, not {self.fit!r}")
        if self.height < 8 or self.width < 8:
            raise ValueError(f"input size {self.width}x{self.height} is too small")

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height, self.width)


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


# A model that reads any width (CTC) reads an image wider than its padded input at the
# image's own aspect ratio, up to this many times its width, instead of squeezing the text
# narrower: squeezed long texts are misread more often, while padding every image wider cost
# the images that fit, so only the wide ones are widened (measured: docs/notebook.md,
# "Reading wide images and small text").
MAX_WIDEN = 2.0
WIDTH_STEP = 16


def reading_spec(spec: InputSpec, size: tuple[int, int]) -> InputSpec:
    """The input an image of `size` (width, height) is read at by a model that reads any
    width: its own padded one, or for an image wider than that at its height, as wide as
    the image (in steps of WIDTH_STEP, at most MAX_WIDEN times the width)."""
    natural = size[0] * spec.height / max(1, size[1])
    if spec.fit not in PADDED_FITS or natural <= spec.width:
        return spec
    width = min(int(MAX_WIDEN * spec.width), math.ceil(natural / WIDTH_STEP) * WIDTH_STEP)
    return dataclasses.replace(spec, width=width)


def to_pixels(source: str | Path | bytes | Image.Image | np.ndarray, spec: InputSpec, widen: bool = False) -> np.ndarray:
    """Any image -> uint8 array (channels, height, width) resized to the model's input.

    widen: a padded image wider than the input keeps its width (`reading_spec`), for a
    model that reads any width; the array is then wider than the spec.
    """
    rgb = flatten_onto_white(as_image(source))
    if spec.fit == "crop":
        rgb = crop_to_text(rgb)
    if widen:
        spec = reading_spec(spec, rgb.size)
    if spec.fit in PADDED_FITS:
        rgb = _pad_to_fit(rgb, spec)
    elif rgb.size != (spec.width, spec.height):
        rgb = rgb.resize((spec.width, spec.height), Image.Resampling.BILINEAR)
    if spec.channels == 1:
        return np.asarray(rgb.convert("L"), dtype=np.uint8)[None]  # (1, H, W)
    return np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1).copy()  # (3, H, W)


# Ink is a pixel this far (0-255, in any channel) from the background, the median colour
# of the image's border: low enough for the pale text of variable_upper. Strokes up to
# 2 px thick (the lines drawn across many captchas) are opened away before the box is
# taken, so a line to the image's edge does not stretch it; the margin keeps the text's
# anti-aliased edges and some of its surroundings.
INK_CONTRAST = 15
LINE_WIDTH = 2
TEXT_MARGIN = 0.15  # of the box's height, on each side


# "crop" cuts an image to its text where the text's box is under this share of its
# height; text that (nearly) fills its image is left as it is, so that a stroke the line
# filter takes for clutter (dotted digits) can never cut a character off. Cutting helped
# small text in wide margins and left other sets as they were; cutting every image cost
# digits_wave_4 (measured: docs/notebook.md, "Reading wide images and small text").
CROP_BELOW = 0.7


# Images over this many pixels have their text box found on a copy scaled down to it: at
# full size the box of an image near the pixel limit cost seconds and hundreds of MB
# (the reliability review of 2026-12-07; tests/test_hardening.py bounds the time).
BOX_PIXELS = 250_000


def crop_to_text(rgb: Image.Image, box: tuple[int, int, int, int] | None = None) -> Image.Image:
    """`rgb` cut to its text's box (`text_box`, or the one given) where that is under
    CROP_BELOW of its height; else `rgb` as it is."""
    box = box or text_box(rgb)
    return rgb.crop(box) if box[3] - box[1] < CROP_BELOW * rgb.height else rgb


def text_box(rgb: Image.Image) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the text in an RGB image, with a margin; the whole
    image where nothing stands out from the background."""
    if rgb.width * rgb.height > BOX_PIXELS:  # no captcha is this large: find the box on a smaller copy
        scale = math.sqrt(BOX_PIXELS / (rgb.width * rgb.height))
        small = rgb.resize((max(1, int(rgb.width * scale)), max(1, int(rgb.height * scale))), Image.Resampling.BOX)
        sx, sy = small.width / rgb.width, small.height / rgb.height
        left, top, right, bottom = _box_of_text(small)
        return (int(left / sx), int(top / sy), min(rgb.width, math.ceil(right / sx)), min(rgb.height, math.ceil(bottom / sy)))
    return _box_of_text(rgb)


def _box_of_text(rgb: Image.Image) -> tuple[int, int, int, int]:
    pixels = np.asarray(rgb).astype(np.int16)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    # In int16, doubled (the median of integers is a whole or a half): the same test as with
    # the float median, without a float64 copy of the whole image.
    twice_median = (2 * np.median(border, axis=0)).astype(np.int16)
    ink = np.abs(2 * pixels - twice_median).max(axis=2) > 2 * INK_CONTRAST
    mask = Image.fromarray(ink.astype(np.uint8) * 255)
    size = 2 * (LINE_WIDTH // 2) + 1
    box = mask.filter(ImageFilter.MinFilter(size)).filter(ImageFilter.MaxFilter(size)).getbbox() or mask.getbbox()
    if box is None:
        return (0, 0, rgb.width, rgb.height)
    left, top, right, bottom = box
    margin = round(TEXT_MARGIN * (bottom - top)) + 2
    return (max(0, left - margin), max(0, top - margin), min(rgb.width, right + margin), min(rgb.height, bottom + margin))


def _pad_to_fit(rgb: Image.Image, spec: InputSpec) -> Image.Image:
    width = min(spec.width, max(1, round(rgb.width * spec.height / rgb.height)))
    scaled = rgb.resize((width, spec.height), Image.Resampling.BILINEAR)
    if width == spec.width:
        return scaled
    # The padding takes the colour of the image's edges, so a dark captcha is not given
    # a white band that no real image of it has.
    edges = np.concatenate([np.asarray(scaled)[:, 0], np.asarray(scaled)[:, -1]])
    canvas = Image.new("RGB", (spec.width, spec.height), tuple(int(v) for v in np.median(edges, axis=0)))
    canvas.paste(scaled, (0, 0))
    return canvas


def normalize(pixels: np.ndarray) -> np.ndarray:
    """uint8 (..., C, H, W) -> float32 in [0, 1]."""
    return pixels.astype(np.float32) * np.float32(1 / 255)


def preprocess(source: str | Path | bytes | Image.Image | np.ndarray, spec: InputSpec) -> np.ndarray:
    """Any image -> float32 (channels, height, width) ready for a model."""
    return normalize(to_pixels(source, spec))


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
