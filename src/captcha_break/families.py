"""Looks of stock site generators that the broad mix lacks: the "sites" style draws a share
of its captchas (FAMILIES_SHARE) in one of these, the rest in the broad style's mix. Each is
drawn from the `random.Random` it is given, so (seed, index) still fixes the image.
"""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageChops
from PIL.Image import Resampling
from PIL.ImageDraw import Draw

from .broad import text_colours, text_layer
from .styles import load_font

FAMILIES_SHARE = 0.3


def draw_family(label: str, fonts: tuple[str, ...], rng: random.Random) -> Image.Image:
    """One of the looks below, at random."""
    return rng.choice((draw_small_binarized, draw_speckled, draw_stamped))(label, fonts, rng)


def draw_small_binarized(label: str, fonts: tuple[str, ...], rng: random.Random) -> Image.Image:
    """Small text made 1-bit, as university and government logins serve it: dark glyphs
    shrunk to 14-26 px high (often slanted), thresholded with no antialiasing, a blot or two."""
    text = text_layer(label, fonts, rng.randint(32, 56), [(0, 0, 0)] * len(label), rng)
    image = Image.new("RGB", text.size, (255, 255, 255))
    image.paste(text, (0, 0), text)
    height = rng.randint(14, 26)
    image = image.convert("L").resize((max(16, round(image.width * height / image.height)), height), Resampling.BILINEAR)
    if rng.random() < 0.5:  # italic, as such generators slant their digits
        shear = rng.uniform(-0.35, 0.05)
        image = image.transform(image.size, Image.Transform.AFFINE, (1, shear, -shear * height / 2, 0, 1, 0), fillcolor=255)
    cut = rng.randint(140, 200)  # thin strokes survive, as a site keeps its text readable
    binary = Image.fromarray(np.where(np.asarray(image) < cut, 0, 255).astype(np.uint8), "L")
    pen = Draw(binary)
    for _ in range(rng.choice((0, 0, 1, 2))):  # blots, as thresholding leaves of clutter
        x, y, r = rng.randint(0, binary.width), rng.randint(0, height), rng.randint(1, max(1, height // 5))
        pen.ellipse((x - r, y - r, x + r, y + r), fill=0)
    return binary.convert("RGB")


def draw_speckled(label: str, fonts: tuple[str, ...], rng: random.Random) -> Image.Image:
    """Dense speckle and thick arcs over mixed-size glyphs, as arc-and-speckle generators draw:
    up to a fifth of the pixels flipped to ink, curves crossing the text."""
    height = rng.randint(40, 70)
    palette = [(0, 0, 0)] * len(label) if rng.random() < 0.7 else text_colours((255, 255, 255), len(label), rng)
    text = text_layer(label, fonts, height, palette, rng)
    image = Image.new("RGB", text.size, (255, 255, 255))
    image.paste(text, (0, 0), text)
    pen = Draw(image)
    for _ in range(rng.randint(1, 4)):  # thick arcs through the text
        x, y = rng.randint(-image.width // 2, image.width // 2), rng.randint(-height, height // 2)
        box = (x, y, x + rng.randint(image.width // 2, image.width * 2), y + rng.randint(height, height * 3))
        pen.arc(box, rng.uniform(0, 360), rng.uniform(0, 360), fill=palette[0], width=rng.randint(1, 4))
    pixels = np.asarray(image).copy()
    rows, cols = pixels.shape[:2]
    count = int(rows * cols * rng.uniform(0.03, 0.2))
    ys, xs = (np.array([rng.randrange(n) for _ in range(count)], dtype=np.int64) for n in (rows, cols))
    pixels[ys, xs] = 0 if rng.random() < 0.8 else 255  # pepper, now and then salt
    return Image.fromarray(pixels, "RGB")


def draw_stamped(label: str, fonts: tuple[str, ...], rng: random.Random) -> Image.Image:
    """Bold glyphs packed tight, touching and narrowed, made 1-bit under blots of speckle and
    thin lines and arcs, as some government sites' generators draw them."""
    size, bold = rng.randint(28, 46), rng.choice((0, 1, 1, 2))
    path = rng.choice(fonts)
    glyphs = []
    for char in label:
        font = load_font(path, max(10, round(size * rng.uniform(0.85, 1.15))))
        left, top, right, bottom = font.getbbox(char, stroke_width=bold)
        glyph = Image.new("L", (right - left + 4, bottom - top + 4), 0)
        Draw(glyph).text((2 - left, 2 - top), char, font=font, fill=255, stroke_width=bold, stroke_fill=255)
        glyphs.append(glyph.rotate(rng.uniform(-12, 12), Resampling.BILINEAR, expand=True))
    overlap = rng.uniform(0.0, 0.25)  # of each glyph's width: neighbours touch
    tall = max(g.height for g in glyphs)
    height = round(tall / rng.uniform(0.55, 0.85))
    margin = rng.randint(2, max(3, size // 3))
    width = 2 * margin + round(sum(g.width * (1 - overlap) for g in glyphs) + glyphs[-1].width * overlap)
    ink = Image.new("L", (width, height), 0)
    x = float(margin)
    for glyph in glyphs:
        top = (height - glyph.height) // 2 + round(rng.uniform(-0.1, 0.1) * height)
        left = round(x)
        under = ink.crop((left, top, left + glyph.width, top + glyph.height))
        ink.paste(ImageChops.lighter(under, glyph), (left, top))
        x += glyph.width * (1 - overlap)
    ink = ink.resize((max(16, round(width * rng.uniform(0.7, 1.0))), height), Resampling.BILINEAR)  # narrowed
    pen = Draw(ink)
    w, h = ink.size
    for _ in range(rng.randint(0, 3)):  # thin lines and arcs across the text
        if rng.random() < 0.5:
            ends = [(rng.randint(0, w), rng.randint(0, h)) for _ in range(2)]
            pen.line(ends, fill=255, width=rng.choice((1, 1, 2)))
        else:
            x0, y0 = rng.randint(-w // 2, w // 2), rng.randint(-h, h // 2)
            box = (x0, y0, x0 + rng.randint(w // 3, w * 2), y0 + rng.randint(h // 2, h * 3))
            pen.arc(box, rng.uniform(0, 360), rng.uniform(0, 360), fill=255)
    for _ in range(round(w * h * rng.uniform(0.005, 0.04))):  # blots of 1-3 px
        cx, cy, r = rng.randrange(w), rng.randrange(h), rng.choice((0, 0, 1, 1, 2))
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    binary = np.where(np.asarray(ink) >= 128, 0, 255).astype(np.uint8)
    return Image.fromarray(binary, "L").convert("RGB")
