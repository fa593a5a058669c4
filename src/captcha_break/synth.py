"""Synthetic captchas, reproducible from a seed: what to draw (SynthConfig, its options),
the labels, and drawing many of them (arrays, cached on disk, or PNG files).

(seed, index) -> image is a pure function: the same seed gives byte-identical files on
every run and in every worker process. The looks are drawn by styles.py (the `captcha`
library's and "lines"), broad.py (the broad style's mix) and families.py (the sites style's).
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path

import captcha.image as captcha_image
import numpy as np
from PIL import Image
from tqdm import tqdm

from .broad import draw_broad_mix
from .cache import cache_key, load_arrays, remove_arrays, save_arrays
from .charset import DEFAULT_CHARS
from .config import FOCUS_WEIGHT
from .families import FAMILIES_SHARE, draw_family
from .fonts import broad_fonts, check_font, expand_system, find_fonts
from .options import checked, option, parse_length, parse_size
from .pool import fork_map
from .preprocess import InputSpec, to_pixels, to_views
from .styles import draw_library, draw_lines

STYLES = ("v07", "v03", "mixed", "lines", "broad", "sites")
BROAD_STYLES = ("broad", "sites")  # drawn in the broad style's fonts and mix
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
    "sites" is "broad" with a share of the looks of stock site generators it lacks (small
    1-bit text, dense speckle and arcs, bold packed 1-bit text under blots, text on a wave over
    a swirl, dot-matrix text, text under a magnifying bubble: families.py).
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
        if self.style in BROAD_STYLES and not self.fonts:
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
        "broad: many fonts, colours, backgrounds, clutter and sizes, for pre-training; sites: broad with small 1-bit "
        "text, speckle and arcs, packed 1-bit text, waves over swirls, dot matrices and magnifying bubbles too",
        choices=STYLES,
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


def draw(config: SynthConfig, seed: int, index: int) -> tuple[Image.Image, str]:
    """The index-th captcha of the stream `seed`: (RGB image, label)."""
    rng = random.Random(f"captcha_break/{seed}/{index}")
    length = rng.randint(config.min_len, config.max_len)
    if config.style in BROAD_STYLES:
        label = _site_label(config, length, rng)
        fonts = config.fonts or broad_fonts(config.chars)
        if config.style == "sites" and rng.random() < FAMILIES_SHARE:
            return draw_family(label, fonts, rng), label
        return draw_broad_mix(label, fonts, rng), label
    label = _label(config.chars, config.focus, length, rng, config.focus_weight)
    style = rng.choice(("v07", "v03")) if config.style == "mixed" else config.style
    if style == "lines":
        font = rng.choice(config.fonts or tuple(captcha_image.DEFAULT_FONTS))
        return draw_lines(label, font, config.height, rng), label
    return draw_library(config.width, config.height, style, config.fonts, label, rng), label


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


def _draw_pixels(job: tuple[SynthConfig, int, int, InputSpec]) -> tuple[np.ndarray, str]:
    config, seed, index, spec = job
    image, label = draw(config, seed, index)
    return to_pixels(image, spec), label


def _draw_views(job: tuple[SynthConfig, int, int, tuple[InputSpec, ...]]) -> tuple[list[np.ndarray], str]:
    config, seed, index, specs = job
    image, label = draw(config, seed, index)
    return to_views(image, specs), label


def draw_views(
    config: SynthConfig, specs: tuple[InputSpec, ...], seed: int | str, count: int, workers: int = 0
) -> tuple[list[list[np.ndarray]], list[str]]:
    """draw_arrays in several fits of one input (preprocess.to_views): each captcha's arrays."""
    results = fork_map(_draw_views, [(config, seed, i, specs) for i in range(count)], workers)
    return [views for views, _ in results], [label for _, label in results]


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
