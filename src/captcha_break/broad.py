"""The "broad" synthetic style: captchas of many looks, to pre-train the general model.

One image draws its look at random from what real sites do: a font (one per image or
one per character), solid, hollow, dotted or shadowed glyphs, one colour or one per
character, strong or faint, each character tilted, scaled and shifted, spaced from
overlapping to wide apart, filling the image or small in wide margins; a flat, gradient,
noisy or textured background; dots, lines, arcs and waves over or under the text; a wave
warp, blur, JPEG artefacts, a frame; any image size. A share of images are the `captcha`
library's own styles (also inverted, light on dark) and the plain "lines" style, which sites
copy too. Everything is drawn from the `random.Random` it is given, so (seed, index)
still fixes the image.
"""

from __future__ import annotations

import io
import math
import random

import numpy as np
from PIL import Image, ImageFilter, ImageFont, ImageOps
from PIL.Image import Resampling
from PIL.ImageDraw import Draw

from .styles import draw_library, draw_lines, load_font

Colour = tuple[int, int, int]


def draw_broad(label: str, fonts: tuple[str, ...], rng: random.Random) -> Image.Image:
    """`label` in a random look; the text is 24-100 px high, the image's size follows it."""
    height = rng.choice((rng.randint(24, 48), rng.randint(40, 100)))
    background = _background_colour(rng)
    palette = text_colours(background, len(label), rng)
    text = text_layer(label, fonts, height, palette, rng)
    if rng.random() < 0.35:
        text = _in_margins(text, rng)
    image = _background(text.size, background, rng)
    if rng.random() < 0.35:
        _clutter(image, palette, rng)  # under the text
    image.paste(text, (0, 0), text)
    if rng.random() < 0.6:
        _clutter(image, palette, rng)  # over it
    return _finish(image, rng)


# --- colours ---------------------------------------------------------------------------


def _luma(colour: Colour) -> float:
    r, g, b = colour
    return 0.299 * r + 0.587 * g + 0.114 * b


def _background_colour(rng: random.Random) -> Colour:
    kind = rng.random()
    if kind < 0.45:
        return (255, 255, 255)
    if kind < 0.75:  # pale tints, as many sites use
        return tuple(rng.randint(200, 255) for _ in range(3))
    if kind < 0.9:
        return tuple(rng.randint(0, 70) for _ in range(3))  # dark
    return tuple(rng.randint(0, 255) for _ in range(3))


def _contrasting(background: Colour, least: float, rng: random.Random) -> Colour:
    """A random colour whose brightness differs from the background's by more than `least`."""
    dark = _luma(background) > 128
    for _ in range(20):
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        if abs(_luma(colour) - _luma(background)) > least and (_luma(colour) < 150) == dark:
            return colour
    return (0, 0, 0) if dark else (255, 255, 255)


def text_colours(background: Colour, n: int, rng: random.Random) -> list[Colour]:
    # Some sites draw faint text: dark blue on black, pale yellow on white.
    least = 70.0 if rng.random() < 0.75 else 30.0
    if rng.random() < 0.45:
        return [_contrasting(background, least, rng)] * n
    return [_contrasting(background, least, rng) for _ in range(n)]


# --- the text ---------------------------------------------------------------------------


def text_layer(label: str, fonts: tuple[str, ...], height: int, palette: list[Colour], rng: random.Random) -> Image.Image:
    """The text alone on a transparent layer of `height`, as wide as the text needs."""
    size = max(10, round(height * rng.uniform(0.5, 0.85)))
    per_char_font = rng.random() < 0.25
    image_font = rng.choice(fonts)
    look = rng.choices(("solid", "hollow", "dotted", "shadow"), weights=(70, 10, 10, 10))[0]
    tilt = rng.choice((0.0, 10.0, 25.0, 40.0))
    glyphs = []
    for char, colour in zip(label, palette):
        path = rng.choice(fonts) if per_char_font else image_font
        char_size = max(8, round(size * rng.uniform(0.85, 1.15)))
        glyphs.append(_glyph(char, load_font(path, char_size), colour, look, rng.uniform(-tilt, tilt), rng))
    gap = size * rng.choice((rng.uniform(-0.25, 0.05), rng.uniform(0.0, 0.3), rng.uniform(0.2, 1.2)))
    margin = rng.randint(1, max(2, size // 2))
    width = 2 * margin + sum(g.width for g in glyphs) + round(gap * (len(glyphs) - 1))
    width = max(width, max(g.width for g in glyphs) + 2 * margin)
    tall = max(height, max(g.height for g in glyphs))
    layer = Image.new("RGBA", (width, tall), (0, 0, 0, 0))
    x = float(margin)
    for glyph in glyphs:
        middle = (tall - glyph.height) // 2
        jitter = round(rng.uniform(-0.15, 0.15) * tall)
        top = min(max(0, middle + jitter), tall - glyph.height)
        layer.alpha_composite(glyph, (max(0, min(round(x), width - glyph.width)), top))
        x += glyph.width + gap
    return layer if tall == height else layer.resize((round(width * height / tall), height), Resampling.BILINEAR)


def _in_margins(text: Image.Image, rng: random.Random) -> Image.Image:
    """The text layer somewhere on a larger transparent canvas: many sites draw small text
    in a big image, with wide empty margins above, below and beside it."""
    width = round(text.width * rng.uniform(1.0, 2.2))
    height = round(text.height * rng.uniform(1.2, 2.5))
    canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    canvas.alpha_composite(text, (rng.randint(0, width - text.width), rng.randint(0, height - text.height)))
    return canvas


def _glyph(char: str, font: ImageFont.FreeTypeFont, colour: Colour, look: str, angle: float, rng: random.Random) -> Image.Image:
    left, top, right, bottom = font.getbbox(char)
    pad = 3
    glyph = Image.new("RGBA", (right - left + 2 * pad, bottom - top + 2 * pad), (0, 0, 0, 0))
    pen = Draw(glyph)
    origin = (pad - left, pad - top)
    if look == "hollow":
        pen.text(origin, char, font=font, fill=(0, 0, 0, 0), stroke_width=1, stroke_fill=colour)
    elif look == "shadow":
        shade = tuple(c // 2 for c in colour) if _luma(colour) > 60 else tuple(min(255, c + 110) for c in colour)
        pen.text((origin[0] + 2, origin[1] + 2), char, font=font, fill=shade)
        pen.text(origin, char, font=font, fill=colour)
    else:
        pen.text(origin, char, font=font, fill=colour)
    if look == "dotted":
        glyph = _dotted(glyph, rng)
    return glyph.rotate(angle, Resampling.BILINEAR, expand=True) if angle else glyph


def _dotted(glyph: Image.Image, rng: random.Random) -> Image.Image:
    """Keep a random scatter of the glyph's pixels: letters drawn in dots, as some sites do."""
    pixels = np.asarray(glyph).copy()
    keep = np.random.default_rng(rng.getrandbits(32)).random(pixels.shape[:2]) < rng.uniform(0.35, 0.65)
    pixels[..., 3] = np.where(keep, pixels[..., 3], 0)
    return Image.fromarray(pixels, "RGBA")


# --- background and clutter ----------------------------------------------------------------


def _background(size: tuple[int, int], colour: Colour, rng: random.Random) -> Image.Image:
    width, height = size
    kind = rng.choices(("flat", "gradient", "noise", "texture"), weights=(45, 20, 20, 15))[0]
    if kind == "flat":
        return Image.new("RGB", size, colour)
    gen = np.random.default_rng(rng.getrandbits(32))
    base = np.empty((height, width, 3), np.float32)
    base[:] = colour
    if kind == "gradient":
        other = np.array([min(255, max(0, c + rng.randint(-60, 60))) for c in colour], np.float32)
        ramp = np.linspace(0, 1, width if rng.random() < 0.7 else height, dtype=np.float32)
        ramp = ramp[None, :, None] if len(ramp) == width else ramp[:, None, None]
        base = base * (1 - ramp) + other * ramp
    elif kind == "noise":
        base += gen.normal(0, rng.uniform(8, 30), (height, width, 1 if rng.random() < 0.5 else 3))
    else:  # blotches: coarse noise scaled up, like the textured backgrounds of some captchas
        coarse = gen.normal(0, rng.uniform(15, 40), (max(1, height // 8), max(1, width // 8), 3)).astype(np.float32)
        blotches = np.asarray(Image.fromarray(coarse[..., 0]).resize((width, height), Resampling.BILINEAR))
        base += blotches[..., None]
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")


def _clutter(image: Image.Image, palette: list[Colour], rng: random.Random) -> None:
    pen = Draw(image)
    width, height = image.size

    def colour() -> Colour:
        return rng.choice(palette) if rng.random() < 0.5 else tuple(rng.randint(0, 255) for _ in range(3))

    for _ in range(rng.choice((0, 0, rng.randint(5, 60), rng.randint(60, 300)))):  # dots
        x, y, r = rng.randint(0, width), rng.randint(0, height), rng.choice((0, 0, 1, 1, 2))
        pen.ellipse((x - r, y - r, x + r, y + r), fill=colour())
    for _ in range(rng.choice((0, 0, 1, 2, 3, 5))):  # straight lines
        ends = [(rng.randint(0, width), rng.randint(0, height)) for _ in range(2)]
        pen.line(ends, fill=colour(), width=rng.choice((1, 1, 1, 2, 3)))
    for _ in range(rng.choice((0, 0, 0, 1, 2))):  # arcs
        x, y = rng.randint(-width // 2, width), rng.randint(-height, height)
        box = (x, y, x + rng.randint(width // 4, width * 2), y + rng.randint(height // 2, height * 3))
        pen.arc(box, rng.uniform(0, 360), rng.uniform(0, 360), fill=colour(), width=rng.choice((1, 2, 3)))
    if rng.random() < 0.3:  # a wave across the whole image, like the captcha library's curve
        _wave(pen, width, height, colour(), rng)


def _wave(pen: Draw, width: int, height: int, colour: Colour, rng: random.Random) -> None:
    amplitude = height * rng.uniform(0.05, 0.3)
    period = width * rng.uniform(0.3, 1.5)
    phase, middle = rng.uniform(0, 2 * math.pi), height * rng.uniform(0.3, 0.7)
    points = [(x, middle + amplitude * math.sin(2 * math.pi * x / period + phase)) for x in range(0, width + 4, 4)]
    pen.line(points, fill=colour, width=rng.choice((1, 2, 3)))


# --- the whole image -----------------------------------------------------------------------


def _finish(image: Image.Image, rng: random.Random) -> Image.Image:
    if rng.random() < 0.3:
        image = _wave_warp(image, rng)
    if rng.random() < 0.1:  # a frame, as some sites draw
        Draw(image).rectangle((0, 0, image.width - 1, image.height - 1), outline=(rng.randint(0, 120),) * 3)
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    if rng.random() < 0.35:  # sites stretch or squeeze their images to a fixed size
        scale = rng.uniform(0.6, 1.4)
        image = image.resize((max(8, round(image.width * scale)), image.height), Resampling.BILINEAR)
    if rng.random() < 0.25:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=rng.randint(15, 75))
        image = Image.open(buffer).convert("RGB")
    return image


def _wave_warp(image: Image.Image, rng: random.Random) -> Image.Image:
    """Shift each column up or down along a sine: the text bends as on wavy captchas."""
    pixels = np.asarray(image)
    height, width = pixels.shape[:2]
    amplitude = height * rng.uniform(0.03, 0.12)
    period = width * rng.uniform(0.4, 1.5)
    shifts = np.round(amplitude * np.sin(2 * np.pi * np.arange(width) / period + rng.uniform(0, 2 * np.pi))).astype(int)
    rows = np.clip(np.arange(height)[:, None] - shifts[None, :], 0, height - 1)
    return Image.fromarray(pixels[rows, np.arange(width)[None, :]], "RGB")


# --- the mix the broad style draws ---------------------------------------------------------

# Image sizes sites serve the library's style at (its own default is 160x60).
_LIBRARY_SIZES = ((128, 64), (160, 60), (100, 40), (120, 48), (200, 80), (150, 50))


def draw_broad_mix(label: str, fonts: tuple[str, ...], rng: random.Random) -> Image.Image:
    """The broad style's mix: its own looks, the lines style, and the library's styles at the
    sizes sites serve them (also inverted)."""
    kind = rng.random()
    if kind < 0.72:
        return draw_broad(label, fonts, rng)
    if kind < 0.86:
        return draw_lines(label, rng.choice(fonts), rng.randint(32, 80), rng)
    # The library's own styles, in its font or another one, at a size sites use.
    width, height = rng.choice(_LIBRARY_SIZES)
    width = max(width, round(height * 0.55 * len(label)))  # long labels need room
    font = () if rng.random() < 0.4 else (rng.choice(fonts),)
    image = draw_library(width, height, rng.choice(("v07", "v03")), font, label, rng)
    # Sites serve it light on dark too: the same drawing with its colours inverted.
    return ImageOps.invert(image) if rng.random() < 0.3 else image
