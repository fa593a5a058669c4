"""The `captcha` library's styles and the "lines" style, drawn from a seeded Random.

The library draws with the `secrets` module, which cannot be seeded; while it draws, its
`secrets` is swapped for one that draws from the given Random (_seeded), so that (seed,
index) fixes every image. captcha 0.3's stronger warps are redrawn by LegacyWarpCaptcha.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import captcha.image as captcha_image
from captcha.image import ImageCaptcha
from PIL import Image, ImageFont
from PIL.Image import Resampling, Transform
from PIL.ImageDraw import Draw


class _SeededSecrets:
    """The three `secrets` functions captcha.image uses, drawn from a seeded Random."""

    def __init__(self, rng: random.Random):
        self.randbelow = rng.randrange
        self.randbits = rng.getrandbits
        self.choice = rng.choice


_PATCH_LOCK = threading.Lock()


@contextmanager
def _seeded(rng: random.Random) -> Iterator[None]:
    # The patch is process-wide, so threads must take turns; it is undone afterwards so
    # other users of the captcha library in this process keep real randomness.
    with _PATCH_LOCK:
        original = captcha_image.secrets
        captcha_image.secrets = _SeededSecrets(rng)
        try:
            yield
        finally:
            captcha_image.secrets = original


class LegacyWarpCaptcha(ImageCaptcha):
    """ImageCaptcha with captcha 0.3's character warps.

    0.7 computes the warp span as w * U * 0.2 + 0.1 (a few pixels); 0.3 drew it from
    w * U(0.1, 0.3) and h * U(0.2, 0.3), so its characters are far more distorted. 0.3
    also sized each character's box with `draw.textsize`, which is `textbbox((0, 0))`'s
    right and bottom (checked against captcha 0.3 under Pillow 9.5: the same pixels), one
    pixel less each way than 0.7's `multiline_textbbox((1, 1))`. Each glyph is squeezed
    into that box, and the pixel matters (docs/notebook.md, "captcha 0.3's warps").
    """

    def _draw_character(self, c: str, draw, color) -> Image.Image:
        rand = captcha_image.secrets
        font = rand.choice(self.truefonts)
        _, _, w, h = draw.textbbox((0, 0), c, font=font)
        dx, dy = rand.randbelow(5), rand.randbelow(7)
        im = Image.new("RGBA", (int(w) + dx, int(h) + dy))
        Draw(im).text((dx, dy), c, font=font, fill=color)
        im = im.crop(im.getbbox())
        im = im.rotate(_uniform(rand, -30, 30), Resampling.BILINEAR, expand=True)
        span_x, span_y = w * _uniform(rand, 0.1, 0.3), h * _uniform(rand, 0.2, 0.3)
        x1, x2 = (int(_uniform(rand, -span_x, span_x)) for _ in range(2))
        y1, y2 = (int(_uniform(rand, -span_y, span_y)) for _ in range(2))
        w2, h2 = int(w) + abs(x1) + abs(x2), int(h) + abs(y1) + abs(y2)
        quad = (x1, y1, -x1, h2 - y2, w2 + x2, h2 + y2, w2 - x2, -y1)
        im = im.resize((w2, h2))
        return im.transform((int(w), int(h)), Transform.QUAD, quad)


def draw_lines(label: str, font_path: str, height: int, rng: random.Random) -> Image.Image:
    """The "lines" style: `label` in one font, characters spaced, coloured and tilted apart."""
    size = rng.randint(round(height * 0.4), round(height * 0.7))
    font = load_font(font_path, size)
    glyphs = [_tilted_glyph(char, font, rng) for char in label]
    gap = rng.uniform(0.0, 1.2) * size  # from touching to a wide gap, as sites vary
    margin = rng.randint(2, size)
    width = 2 * margin + sum(g.width for g in glyphs) + round(gap * (len(glyphs) - 1))
    image = Image.new("RGB", (width, height), "white")
    x = float(margin)
    for glyph in glyphs:
        # Sites keep the text near the middle line; a little jitter up and down.
        middle = (height - glyph.height) // 2
        top = min(max(0, middle + rng.randint(-height // 8, height // 8)), max(0, height - glyph.height))
        image.paste(glyph, (round(x), top), glyph)
        x += glyph.width + gap
    _cross_out(image, rng)
    return image


@lru_cache(maxsize=2048)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """A font at a size, loaded once per process: loading costs more than drawing with it."""
    return ImageFont.truetype(path, size)


def _tilted_glyph(char: str, font: ImageFont.FreeTypeFont, rng: random.Random) -> Image.Image:
    left, top, right, bottom = font.getbbox(char)
    glyph = Image.new("RGBA", (right - left + 2, bottom - top + 2))
    # Any hue; now and then a pale one, which some sites draw and a model must still read.
    colour = tuple(rng.randint(0, 230) for _ in range(3))
    if rng.random() < 0.15:
        colour = tuple(255 - (255 - c) // 3 for c in colour)
    outline = rng.random() < 0.15  # hollow letters: the outline in colour, the inside white
    fill, stroke = ("white", 1) if outline else (colour, 0)
    Draw(glyph).text((1 - left, 1 - top), char, font=font, fill=fill, stroke_width=stroke, stroke_fill=colour)
    return glyph.rotate(rng.uniform(-20, 20), Resampling.BILINEAR, expand=True)


def _cross_out(image: Image.Image, rng: random.Random) -> None:
    """Up to four thin dark lines between random points, over the text."""
    pen = Draw(image)
    for _ in range(rng.randint(0, 4)):
        ends = [(rng.randint(0, image.width), rng.randint(0, image.height)) for _ in range(2)]
        pen.line(ends, fill=(rng.randint(0, 60),) * 3, width=1)


def _uniform(rand, low: float, high: float) -> float:
    return low + (rand.randbits(32) / 2**32) * (high - low)


@lru_cache(maxsize=512)
def _generator(width: int, height: int, style: str, fonts: tuple[str, ...]) -> ImageCaptcha:
    # Cached: loading the fonts costs more than drawing an image.
    cls = LegacyWarpCaptcha if style == "v03" else ImageCaptcha
    return cls(width=width, height=height, fonts=list(fonts) or None)


def draw_library(width: int, height: int, style: str, fonts: tuple[str, ...], label: str, rng: random.Random) -> Image.Image:
    generator = _generator(width, height, style, fonts)
    with _seeded(rng):
        return generator.generate_image(label)
