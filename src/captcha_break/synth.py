"""Synthetic captchas from the `captcha` library, reproducible from a seed.

captcha 0.7 draws all its randomness from the `secrets` module, which cannot be seeded.
`_seeded` swaps the module's `secrets` for a shim backed by `random.Random` while one
image is drawn, so that (seed, index) -> image is a pure function: the same seed gives
byte-identical files on every run and in every worker process.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import captcha.image as captcha_image
import numpy as np
from captcha.image import ImageCaptcha
from PIL import Image, ImageFont, ImageOps
from PIL.Image import Resampling, Transform
from PIL.ImageDraw import Draw
from tqdm import tqdm

from .broad import draw_broad
from .cache import cache_key, load_arrays, remove_arrays, save_arrays
from .charset import DEFAULT_CHARS
from .config import FOCUS_WEIGHT
from .fonts import broad_fonts, check_font, expand_system, find_fonts
from .options import checked, option, parse_length, parse_size
from .pool import fork_map
from .preprocess import InputSpec, to_pixels

STYLES = ("v07", "v03", "mixed", "lines", "broad")
# Part of every cached drawn set's key: raise it when a style draws other pixels for the
# same (seed, index), so sets cached before are drawn again instead of served stale.
# 2: v03 sizes its characters as captcha 0.3 did. 3: broad labels from site alphabets.
DRAWING = 3


@dataclass(frozen=True)
class SynthConfig:
    """What captchas to draw.

    style: "v07" is captcha 0.7 exactly; "v03" draws the stronger character warps of
    captcha 0.3 (the version the tutorial used); "mixed" picks one of the two per image;
    "lines" is the plain look of many sites' captchas rather than the library's: one font
    per image, every character its own colour, size and tilt, spaced out on a white
    background and crossed by thin dark lines; each image is as wide as its text
    (`width` is then unused). "broad" draws many looks (broad.py) in many fonts, sizes and
    colours, the library's styles and "lines" among them: the general model's pre-training;
    its labels come from the alphabets sites use (SITE_ALPHABETS: digits only, and so on).
    fonts: TrueType/OpenType files, one picked per character (per image for "lines");
    empty: the library's own DroidSansMono ("broad": the fonts the install brings, the same on
    every machine; "system" among them: the machine's Debian fonts too, fonts.py).
    Fonts like a site's own make better pre-training.
    focus: characters drawn focus_weight times as often as the others, so that a model sees
    more of the look-alikes it confuses (0/O in the library's font); empty: uniform.
    """

    chars: str = DEFAULT_CHARS
    min_len: int = 4
    max_len: int = 4
    width: int = 128
    height: int = 64
    style: str = "v07"
    fonts: tuple[str, ...] = ()
    focus: str = ""
    focus_weight: float = FOCUS_WEIGHT

    @classmethod
    def from_options(cls, chars: str, length: str, size: tuple[int, int], style: str, fonts: tuple[str, ...] = ()) -> SynthConfig:
        """From the options users give: length "N" or "MIN-MAX", size (width, height)."""
        low, high = parse_length(length)
        return cls(chars, low, high, size[0], size[1], style, fonts)

    def __post_init__(self) -> None:
        # A list from a checkpoint's JSON-like config; `--font system` expanded for this charset.
        object.__setattr__(self, "fonts", expand_system(tuple(self.fonts), self.chars))
        if self.style == "broad" and not self.fonts:
            # Found once here, so that worker processes inherit the list instead of each
            # checking every installed font again.
            object.__setattr__(self, "fonts", broad_fonts(self.chars))
        for font in self.fonts:
            check_font(font, self.chars)
        if not 1 <= self.min_len <= self.max_len:
            raise ValueError(f"bad length range {self.min_len}-{self.max_len}")
        if self.style not in STYLES:
            raise ValueError(f"unknown style {self.style!r}; expected one of {STYLES}")
        if not set(self.focus) <= set(self.chars):
            raise ValueError(f"focus characters {self.focus!r} are not all in the charset {self.chars!r}")
        if self.focus_weight <= 0:
            raise ValueError(f"the focus weight must be above 0, not {self.focus_weight}")
        if self.width < 16 or self.height < 16:
            raise ValueError(f"image size {self.width}x{self.height} is too small")


@dataclass
class SynthOptions:
    """The synthetic captchas a command draws, as its options give them: None (unset) takes
    the task's (a model's own captchas, else SynthConfig's: the tutorial's)."""

    chars: str | None = option(None, "characters to draw from", metavar="CHARS")
    length: str | None = option(
        None, "label length: N or MIN-MAX", parse=checked(parse_length, keep_text=True), metavar="N|MIN-MAX"
    )
    size: tuple[int, int] | None = option(None, "image size WIDTHxHEIGHT", parse=checked(parse_size), metavar="WxH")
    style: str | None = option(
        None, "v07: captcha 0.7 as is; v03: captcha 0.3 as it drew (stronger warps; the tutorial's version); mixed: both; "
        "lines: one font per image, spaced coloured characters crossed by thin lines, as wide as the text; "
        "broad: many fonts, colours, backgrounds, clutter and sizes, for pre-training", choices=STYLES,
    )  # fmt: skip
    font: tuple[str, ...] = option(
        (), "draw with this .ttf/.otf file, or every font in this folder; 'system': the broad style's fonts plus the "
        "machine's Debian fonts-* packages (repeatable; default: the library's font, or for broad the fonts the install "
        "brings, the same on every machine)", repeat=True, metavar="PATH",
    )  # fmt: skip

    def config(self, task: SynthConfig | None = None) -> SynthConfig:
        task = task or SynthConfig()
        length = self.length or f"{task.min_len}-{task.max_len}"
        fonts = find_fonts(self.font) if self.font else ()  # (): the library's font, or broad's own set
        size = self.size or (task.width, task.height)
        return SynthConfig.from_options(self.chars or task.chars, length, size, self.style or task.style, fonts)


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


def _draw_lines(label: str, font_path: str, height: int, rng: random.Random) -> Image.Image:
    """The "lines" style: `label` in one font, characters spaced, coloured and tilted apart."""
    size = rng.randint(round(height * 0.4), round(height * 0.7))
    font = _font(font_path, size)
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


@lru_cache(maxsize=512)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
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


def draw(config: SynthConfig, seed: int, index: int) -> tuple[Image.Image, str]:
    """The index-th captcha of the stream `seed`: (RGB image, label)."""
    rng = random.Random(f"captcha_break/{seed}/{index}")
    length = rng.randint(config.min_len, config.max_len)
    if config.style == "broad":
        label = _site_label(config, length, rng)
        return _draw_broad_mix(config, label, rng), label
    label = _label(config.chars, config.focus, length, rng, config.focus_weight)
    style = rng.choice(("v07", "v03")) if config.style == "mixed" else config.style
    if style == "lines":
        font = rng.choice(config.fonts or tuple(captcha_image.DEFAULT_FONTS))
        return _draw_lines(label, font, config.height, rng), label
    return _draw_library(config.width, config.height, style, config.fonts, label, rng), label


def _label(chars: str, focus: str, length: int, rng: random.Random, weight: float) -> str:
    if not focus:
        # rng.choice, not rng.choices: the streams (and so the seeded test sets) stay as they were.
        return "".join(rng.choice(chars) for _ in range(length))
    weights = [weight if c in focus else 1 for c in chars]
    return "".join(rng.choices(chars, weights, k=length))


# The alphabets sites draw from, and how often a broad captcha uses each (the rest: the
# whole charset). Digits-only sites are common, and a small alphabet repeats characters
# ("0070"): from 62 characters a model would almost never see a doubled one, and then
# reads "0070" as "070".
SITE_ALPHABETS = (
    (str.isdigit, 0.3),
    (lambda c: c.isdigit() or c.isupper(), 0.15),
    (lambda c: c.isdigit() or c.islower(), 0.15),
)


def _site_label(config: SynthConfig, length: int, rng: random.Random) -> str:
    """A label of the broad style: from the alphabet of a random kind of site, within the charset."""
    pick, alphabet = rng.random(), config.chars
    for keep, share in SITE_ALPHABETS:
        if pick < share:
            subset = "".join(c for c in config.chars if keep(c))
            alphabet = subset if len(subset) >= 2 else config.chars
            break
        pick -= share
    return _label(alphabet, "".join(c for c in config.focus if c in alphabet), length, rng, config.focus_weight)


def _draw_library(width: int, height: int, style: str, fonts: tuple[str, ...], label: str, rng: random.Random) -> Image.Image:
    generator = _generator(width, height, style, fonts)
    with _seeded(rng):
        return generator.generate_image(label)


# Image sizes sites serve the library's style at (its own default is 160x60).
_LIBRARY_SIZES = ((128, 64), (160, 60), (100, 40), (120, 48), (200, 80), (150, 50))


def _draw_broad_mix(config: SynthConfig, label: str, rng: random.Random) -> Image.Image:
    fonts = config.fonts or broad_fonts(config.chars)
    kind = rng.random()
    if kind < 0.72:
        return draw_broad(label, fonts, rng)
    if kind < 0.86:
        return _draw_lines(label, rng.choice(fonts), rng.randint(32, 80), rng)
    # The library's own styles, in its font or another one, at a size sites use.
    width, height = rng.choice(_LIBRARY_SIZES)
    width = max(width, round(height * 0.55 * len(label)))  # long labels need room
    font = () if rng.random() < 0.4 else (rng.choice(fonts),)
    image = _draw_library(width, height, rng.choice(("v07", "v03")), font, label, rng)
    # Sites serve it light on dark too: the same drawing with its colours inverted.
    return ImageOps.invert(image) if rng.random() < 0.3 else image


def _draw_pixels(job: tuple[SynthConfig, int, int, InputSpec]) -> tuple[np.ndarray, str]:
    config, seed, index, spec = job
    image, label = draw(config, seed, index)
    return to_pixels(image, spec), label


def draw_arrays(
    config: SynthConfig, spec: InputSpec, seed: int, count: int, start: int = 0, workers: int = 0
) -> tuple[np.ndarray, list[str]]:
    """Captchas start..start+count-1 of stream `seed` as (uint8 (N, C, H, W), labels)."""
    jobs = [(config, seed, i, spec) for i in range(start, start + count)]
    results = fork_map(_draw_pixels, jobs, workers)
    pixels = np.stack([p for p, _ in results]) if results else np.zeros((0, *spec.shape), np.uint8)
    return pixels, [label for _, label in results]


# A pre-drawn set is drawn and cached in chunks of this many images, so that a stopped
# run loses at most one chunk of drawing and its --resume carries on from the rest.
CHUNK = 4096


def draw_arrays_cached(
    config: SynthConfig, spec: InputSpec, seed: int | str, count: int, workers: int = 0, progress: bool = False
) -> tuple[np.ndarray, list[str]]:
    """draw_arrays, kept on disk: the same set is drawn once and then memory-mapped."""
    key = cache_key("synth", DRAWING, config, spec, seed, count)
    found = load_arrays("synth", key)
    if found is not None:
        return found[0], found[1]["labels"]
    chunks = [(start, min(CHUNK, count - start)) for start in range(0, count, CHUNK)]
    pixels, labels = [], []
    with tqdm(total=count, desc="drawing captchas", unit="img", disable=not progress, file=sys.stderr) as bar:
        for start, size in chunks:
            chunk_key = cache_key("synth-chunk", DRAWING, config, spec, seed, start, size)
            done = load_arrays("synth-chunks", chunk_key)
            if done is None:
                chunk, names = draw_arrays(config, spec, seed, size, start=start, workers=workers)
                save_arrays("synth-chunks", chunk_key, chunk, {"labels": names})
            else:
                chunk, names = np.asarray(done[0]), done[1]["labels"]
            pixels.append(chunk)
            labels += names
            bar.update(size)
    whole = np.concatenate(pixels) if pixels else np.zeros((0, *spec.shape), np.uint8)
    save_arrays("synth", key, whole, {"labels": labels})
    for start, size in chunks:  # the whole set is saved: its chunks are not needed again
        remove_arrays("synth-chunks", cache_key("synth-chunk", DRAWING, config, spec, seed, start, size))
    return whole, labels


def _write_png(job: tuple[SynthConfig, int, int, Path, int, bool]) -> tuple[str, str]:
    config, seed, index, out, digits, labeled = job
    image, label = draw(config, seed, index)
    name = f"{label}_{index:0{digits}d}.png" if labeled else f"{index:0{digits}d}.png"
    image.save(out / name, format="PNG")
    return name, label


def write_pngs(config: SynthConfig, out: Path, count: int, seed: int, workers: int = 0, answers: Path | None = None) -> list[str]:
    """Write `count` captchas to `out` as LABEL_INDEX.png; returns the file names. With
    `answers`, the files are named INDEX.png and their labels go to that CSV (file,label),
    as a site's scraped captchas come: unlabeled, the answers kept apart."""
    out.mkdir(parents=True, exist_ok=True)
    digits = max(6, len(str(count - 1)))
    jobs = [(config, seed, i, out, digits, answers is None) for i in range(count)]
    written = fork_map(_write_png, jobs, workers)
    if answers is not None:
        import csv

        answers.parent.mkdir(parents=True, exist_ok=True)
        with answers.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([("file", "label"), *written])
    return [name for name, _ in written]
