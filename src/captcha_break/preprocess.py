"""The one image -> array transform, shared by training, prediction, export and serving.

`to_pixels` (`to_views`: in several fits at once) turns any image (decode.py reads it, bounded)
into a uint8 array of the model's input size (this is also what the data caches store);
`normalize` turns a batch of those into the float32 tensor a model takes. Keeping both here
means preprocessing cannot drift between training and inference.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from .config import FITS, PADDED_FITS
from .decode import ImageError, ImageNotFound, ImageTooLarge, as_image, flatten_onto_white  # noqa: F401 - what preprocessing raises, for its callers


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
    return to_views(source, (spec,), widen)[0]


def to_views(
    source: str | Path | bytes | Image.Image | np.ndarray, specs: Sequence[InputSpec], widen: bool = False
) -> list[np.ndarray]:
    """`to_pixels` for each of `specs` (one input size in several fits), the image decoded once.
    A view that would repeat an earlier one is left out: "crop" where the text fills its
    image is "pad"."""
    rgb = flatten_onto_white(as_image(source))
    cropped = crop_to_text(rgb) if any(spec.fit == "crop" for spec in specs) else rgb
    views, seen = [], set()
    for spec in specs:
        image = cropped if spec.fit == "crop" else rgb
        key = (image is not rgb, spec.fit in PADDED_FITS)  # (cut to its text, padded)
        if key not in seen:
            seen.add(key)
            views.append(_fitted(image, spec, widen))
    return views


def _fitted(rgb: Image.Image, spec: InputSpec, widen: bool) -> np.ndarray:
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

# Where text and clutter both stand out from the border (text on a busy pastel
# background), the box is taken again of the strong ink alone: pixels this far from the
# border's colour, where they are under STRONG_SHARE of the image (more is clutter too).
STRONG_CONTRAST = 90
STRONG_SHARE = 0.3


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
    contrast = np.abs(2 * pixels - twice_median).max(axis=2)
    box = _ink_box(contrast > 2 * INK_CONTRAST)
    if box is not None and box[3] - box[1] >= CROP_BELOW * rgb.height:
        strong = contrast > 2 * STRONG_CONTRAST
        if strong.mean() < STRONG_SHARE:
            box = _ink_box(strong) or box
    if box is None:
        return (0, 0, rgb.width, rgb.height)
    left, top, right, bottom = box
    margin = round(TEXT_MARGIN * (bottom - top)) + 2
    return (max(0, left - margin), max(0, top - margin), min(rgb.width, right + margin), min(rgb.height, bottom + margin))


def _ink_box(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """The box of a mask's ink once strokes up to LINE_WIDTH thick are opened away (of all
    of it where nothing is thicker); None where there is no ink."""
    mask = Image.fromarray(ink.astype(np.uint8) * 255)
    size = 2 * (LINE_WIDTH // 2) + 1
    return mask.filter(ImageFilter.MinFilter(size)).filter(ImageFilter.MaxFilter(size)).getbbox() or mask.getbbox()


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
