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
    return rng.choice(FAMILIES)(label, fonts, rng)


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
    """Bold glyphs packed tight and touching, narrowed or (more often) stretched wide, made
    1-bit under speckle and long thin arcs and lines, as some government sites' generators
    draw them."""
    size, bold = rng.randint(28, 46), rng.choice((0, 1, 1, 2))
    path = rng.choice(fonts)
    glyphs = []
    for char in label:
        glyph = _ink_glyph(char, load_font(path, max(10, round(size * rng.uniform(0.85, 1.15)))), bold)
        glyphs.append(glyph.rotate(rng.uniform(-12, 12), Resampling.BILINEAR, expand=True))
    overlap = rng.uniform(0.0, 0.25)  # of each glyph's width: neighbours touch
    tall = max(g.height for g in glyphs)
    height = round(tall / rng.uniform(0.4, 0.8))
    margin = rng.randint(2, max(3, size // 3))
    width = 2 * margin + round(sum(g.width * (1 - overlap) for g in glyphs) + glyphs[-1].width * overlap)
    ink = Image.new("L", (width, height), 0)
    x = float(margin)
    for glyph in glyphs:
        top = (height - glyph.height) // 2 + round(rng.uniform(-0.1, 0.1) * height)
        _stamp(ink, glyph, round(x), top)
        x += glyph.width * (1 - overlap)
    stretch = rng.uniform(0.7, 1.0) if rng.random() < 0.3 else rng.uniform(1.0, 2.0)
    ink = ink.resize((max(16, round(width * stretch)), height), Resampling.BILINEAR)
    pen = Draw(ink)
    w, h = ink.size
    for _ in range(rng.randint(0, 5)):  # thin lines and long arcs across the text
        if rng.random() < 0.5:
            ends = [(rng.randint(0, w), rng.randint(0, h)) for _ in range(2)]
            pen.line(ends, fill=255, width=rng.choice((1, 1, 2)))
        else:
            x0, y0 = rng.randint(-w // 2, w // 2), rng.randint(-h, h // 2)
            box = (x0, y0, x0 + rng.randint(w, w * 3), y0 + rng.randint(h // 2, h * 4))
            pen.arc(box, rng.uniform(0, 360), rng.uniform(0, 360), fill=255)
    for _ in range(round(w * h * rng.uniform(0.02, 0.12))):  # specks of 1 px and blots of 3
        cx, cy, r = rng.randrange(w), rng.randrange(h), rng.choice((0, 0, 1))
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    binary = np.where(np.asarray(ink) >= 128, 0, 255).astype(np.uint8)
    return Image.fromarray(binary, "L").convert("RGB")


def draw_wavy_on_swirl(label: str, fonts: tuple[str, ...], rng: random.Random) -> Image.Image:
    """Dark glyphs of mixed sizes riding a wave, on a pastel swirl of rings and checks, as some
    procurement and tax sites draw them."""
    height = rng.randint(50, 90)
    font_path, size = rng.choice(fonts), round(height * rng.uniform(0.3, 0.45))
    glyphs = [_ink_glyph(c, load_font(font_path, max(10, round(size * rng.uniform(0.8, 1.4)))), 0) for c in label]
    width = round(sum(g.width for g in glyphs) * rng.uniform(1.1, 1.5)) + height // 2
    image = _swirl((width, height), rng)
    ink = Image.new("L", image.size, 0)
    amplitude, period, phase = rng.uniform(0.05, 0.2) * height, rng.uniform(0.6, 1.5) * width, rng.uniform(0, 6.3)
    x = rng.uniform(0.05, 0.2) * height
    gap = (width - x - sum(g.width for g in glyphs)) / max(1, len(glyphs))
    for glyph in glyphs:
        slope = np.degrees(np.arctan(amplitude * 2 * np.pi / period * np.cos(2 * np.pi * x / period + phase)))
        turned = glyph.rotate(slope * rng.uniform(0.5, 1.0), Resampling.BILINEAR, expand=True)
        middle = height / 2 + amplitude * np.sin(2 * np.pi * x / period + phase)
        top = int(min(max(0, middle - turned.height / 2), max(0, height - turned.height)))
        ink.paste(
            ImageChops.lighter(ink.crop((round(x), top, round(x) + turned.width, top + turned.height)), turned), (round(x), top)
        )
        x += glyph.width + gap * rng.uniform(0.6, 1.0)
    colour = tuple(rng.randint(0, 70) for _ in range(3))
    image.paste(Image.new("RGB", image.size, colour), (0, 0), ink)
    return image


def draw_dot_matrix(label: str, fonts: tuple[str, ...], rng: random.Random) -> Image.Image:
    """Glyphs drawn as a grid of dots, as dot-matrix captcha fonts do, on pale stripes."""
    # Each pixel of the text drawn small and made 1-bit becomes one dot, `cell` apart.
    cell = rng.randint(3, 5)
    font = load_font(rng.choice(fonts), rng.randint(11, 16))
    glyphs = [_ink_glyph(c, font, 0) for c in label]
    tall = max(g.height for g in glyphs)
    text = Image.new("L", (sum(g.width for g in glyphs) + len(glyphs), tall), 0)
    x = 0
    for glyph in glyphs:
        text.paste(glyph, (x, (tall - glyph.height) // 2))
        x += glyph.width + 1
    on = np.asarray(text) > rng.randint(70, 140)
    rows, cols = on.shape
    margin = rng.randint(4, 20)
    image = Image.new("RGB", (cols * cell + 2 * margin, rows * cell + 2 * margin), tuple(rng.randint(200, 255) for _ in range(3)))
    pen = Draw(image)
    stripe = tuple(rng.randint(170, 235) for _ in range(3))
    step = rng.randint(2, 6)
    for i in range(0, image.width if rng.random() < 0.5 else 0, step):  # pale vertical stripes, or none
        pen.line([(i, 0), (i, image.height)], fill=stripe)
    ink, radius = tuple(rng.randint(0, 90) for _ in range(3)), rng.choice((0.5, 1.0, cell / 2 - 0.5))
    for r, c in zip(*np.nonzero(on)):
        x, y = margin + c * cell + cell / 2, margin + r * cell + cell / 2
        pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=ink)
    return image


def draw_lens(label: str, fonts: tuple[str, ...], rng: random.Random) -> Image.Image:
    """Text under a magnifying bubble: a disc of the image blown up from its centre, its ink
    made heavy and black where the generator "cuts" it, on a pastel swirl."""
    height = rng.randint(50, 90)
    text = text_layer(label, fonts, round(height * rng.uniform(0.45, 0.65)), [(0, 0, 0)] * len(label), rng)
    image = _swirl((text.width + height // 2, height), rng)
    image.paste(text, (height // 4, (height - text.height) // 2), text)
    pixels = np.asarray(image).astype(np.float32)
    for _ in range(rng.randint(1, 2)):
        cx, cy = rng.uniform(0.2, 0.8) * image.width, rng.uniform(0.35, 0.65) * height
        radius, power = rng.uniform(0.3, 0.55) * height, rng.uniform(0.4, 0.7)
        yy, xx = np.mgrid[0 : image.height, 0 : image.width].astype(np.float32)
        distance = np.hypot(xx - cx, yy - cy)
        inside = distance < radius
        scale = np.where(inside, (distance / radius) ** power / np.maximum(distance / radius, 1e-6), 1.0)
        sx = np.clip(cx + (xx - cx) * scale, 0, image.width - 1).astype(np.int64)
        sy = np.clip(cy + (yy - cy) * scale, 0, image.height - 1).astype(np.int64)
        pixels = pixels[sy, sx]
        if rng.random() < 0.6:  # "cut": the magnified strokes heavy and black
            dark = inside & (pixels.mean(axis=2) < rng.uniform(90, 140))
            pixels[dark] = 0
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB")


def _stamp(ink: Image.Image, glyph: Image.Image, left: int, top: int) -> None:
    """`glyph`'s ink added to `ink` at (left, top), overlapping ink kept."""
    under = ink.crop((left, top, left + glyph.width, top + glyph.height))
    ink.paste(ImageChops.lighter(under, glyph), (left, top))


def _ink_glyph(char: str, font, bold: int) -> Image.Image:
    """One character's ink (L, 255 = ink), `bold` px of stroke around it, cut to its box."""
    left, top, right, bottom = font.getbbox(char, stroke_width=bold)
    glyph = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    Draw(glyph).text((2 - left, 2 - top), char, font=font, fill=255, stroke_width=bold, stroke_fill=255)
    return glyph


def _swirl(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A pastel background of rings swirling about a point, overlaid with faint checks."""
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = rng.uniform(-0.2, 1.2) * width, rng.uniform(-1.0, 2.0) * height
    band = np.sin(np.hypot(xx - cx, yy - cy) / rng.uniform(3, 10) + np.arctan2(yy - cy, xx - cx) * rng.randint(1, 6))
    one, two = (np.array([rng.randint(150, 255) for _ in range(3)], np.float32) for _ in range(2))
    pixels = one * ((band[..., None] + 1) / 2) + two * ((1 - band[..., None]) / 2)
    square = rng.randint(3, 8)
    checks = ((xx // square + yy // square) % 2)[..., None] * rng.uniform(0, 40)
    return Image.fromarray(np.clip(pixels + checks, 0, 255).astype(np.uint8), "RGB")


FAMILIES = (draw_small_binarized, draw_speckled, draw_stamped, draw_wavy_on_swirl, draw_dot_matrix, draw_lens)
