"""The fonts the broad synthetic style draws with, found where they are installed.

Nothing is downloaded. By default the broad style draws only with what the install itself
brings, so that a seed draws the same captchas on every machine:
- the PyPI font packages of the `fonts` extra (`pip install captcha-break[fonts]`, pinned),
  each a module with a `files/` folder (SIL OFL 1.1, Roboto and Caladea Apache 2.0);
- matplotlib's DejaVu fonts (Bitstream Vera licence) and the `captcha` library's
  DroidSansMono (Apache 2.0).
The machine's Debian `fonts-*` packages (`make fonts` installs them as root) join only when
asked for: `--font system` (SYSTEM). Each source names its licence; a model card lists the
sources its figures were measured with (font_report).
"""

from __future__ import annotations

import csv
import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import captcha.image
from PIL import ImageFont

FONT_SUFFIXES = (".ttf", ".otf", ".ttc")


# `--font system`: the broad set plus the machine's Debian fonts (SOURCES), found when drawing.
SYSTEM = "system"


def find_fonts(paths: list[str]) -> tuple[str, ...]:
    """Font files and folders of them -> the font files, folders expanded in name order;
    SYSTEM stays as it is (SynthConfig expands it for the charset it draws)."""
    found: list[str] = []
    for path in map(Path, paths):
        if str(path) == SYSTEM and not path.exists():
            found.append(SYSTEM)
        elif path.is_dir():
            inside = sorted(str(f) for f in path.iterdir() if f.suffix.lower() in FONT_SUFFIXES)
            if not inside:
                raise ValueError(f"{path}: no font files ({', '.join(FONT_SUFFIXES)}) in this folder")
            found += inside
        else:
            found.append(str(path))
    return tuple(found)


def check_font(path: str, chars: str) -> None:
    problem = font_problem(path, chars)
    if problem:
        raise ValueError(problem)


@lru_cache(maxsize=1024)
def font_problem(path: str, chars: str) -> str | None:
    """Why the font at `path` cannot draw `chars` as distinct glyphs, or None if it can."""
    try:
        font = ImageFont.truetype(path, 20)
    except OSError as err:
        return f"cannot use font {path}: {err}"
    # A font without a glyph draws its "missing" box for every such character, and the
    # captchas would then teach a box under many labels (symbol fonts are the usual case).
    box = _glyph(font, _UNASSIGNED)
    missing = "".join(c for c in chars if _glyph(font, c) == box)
    if missing:
        return f"font {path} has no glyph for {missing!r}: leave it out (a symbol font?)"
    # Small-caps and all-caps fonts draw both cases alike: a model could not tell them apart.
    pairs = [c for c in chars if c.islower() and c.upper() in chars]
    alike = [c for c in pairs if _glyph(font, c) == _glyph(font, c.upper())]
    if pairs and len(alike) > len(pairs) // 2:
        return f"font {path} draws upper and lower case alike (a caps-only font?): leave it out for a mixed-case charset"
    return None


_UNASSIGNED = "\U0010fffd"  # a private-use code point no ordinary font draws


def _glyph(font: ImageFont.FreeTypeFont, char: str) -> tuple:
    mask = font.getmask(char)
    return mask.size, bytes(mask)


@dataclass(frozen=True)
class FontSource:
    name: str
    licence: str
    folders: tuple[str, ...]  # PyPI module names ("py:font_lato") or absolute folders
    pattern: str = "*"  # which files of the folders

    @property
    def bundled(self) -> bool:
        """Whether the install brings it (a Python package), rather than the machine."""
        return all(spec.startswith("py:") for spec in self.folders)


# The sources, one row each (fonts.csv: name, licence, folders joined by ";", the files'
# pattern, a note): the install's font packages (PyPI modules "py:NAME"), then Debian's
# fonts-* packages (`make fonts`), each seen in a chart of its glyphs. Left out, with why:
# Amatic SC (PyPI) draws lower case as small capitals, which would teach the model that case
# cannot be read; so do humor-sans and the ADF "Style" and "Titling" faces; symbol and music
# fonts (denemo); fonts missing glyphs (levien-museum) or with raised digits (campania);
# Solothurn, whose two cases of a letter look alike.
def _read_sources() -> tuple[FontSource, ...]:
    with (Path(__file__).parent / "fonts.csv").open(newline="", encoding="utf-8") as f:
        return tuple(
            FontSource(row["name"], row["licence"], tuple(row["folders"].split(";")), row["pattern"] or "*")
            for row in csv.DictReader(f)
        )


SOURCES = _read_sources()

# Fonts that map letters to other shapes, which the glyph check cannot see: dingbats,
# Greek symbols, keyboard-key frames (seen in a chart of every font's glyphs).
EXCLUDED = frozenset({"d050000l", "standardsymbolsps", "linbiolinum_k"})

DEBIAN_PACKAGES = tuple(s.name for s in SOURCES if s.name.startswith("fonts-"))


def _folder(spec: str) -> Path | None:
    if not spec.startswith("py:"):
        return Path(spec)
    module, _, inside = spec[3:].partition("/")
    found = importlib.util.find_spec(module)
    if found is None or found.origin is None:
        return None
    return Path(found.origin).parent / (inside or "files")


def _files(source: FontSource) -> list[str]:
    files: list[str] = []
    for spec in source.folders:
        folder = _folder(spec)
        if folder is not None and folder.is_dir():
            files += sorted(str(f) for f in folder.rglob(source.pattern) if f.suffix.lower() in FONT_SUFFIXES)
    return files


@lru_cache(maxsize=8)
def installed_fonts(chars: str, system: bool = False) -> tuple[tuple[str, str], ...]:
    """(font file, source name) for the installed fonts that draw all of `chars`, at most
    MAX_PER_SOURCE of each source: the install's own sources, and with `system` the
    machine's Debian packages too.

    Fonts that lack a glyph (symbol fonts, small-caps-only fonts) are left out, and of
    files with the same name (a .ttf and an .otf of one face) only the first is kept.
    """
    found: dict[str, tuple[str, str]] = {}
    for source in (s for s in SOURCES if system or s.bundled):
        usable: dict[str, str] = {}  # stem -> file
        for path in _files(source):
            stem = Path(path).stem.lower()
            if stem not in found and stem not in usable and stem not in EXCLUDED and font_problem(path, chars) is None:
                usable[stem] = path
        for stem in _spread(list(usable), MAX_PER_SOURCE):
            found[stem] = (usable[stem], source.name)
    return tuple(found.values())


# Each image draws one font at random: a package of 40 weights of one family would
# otherwise be drawn 40 times as often as a family of one file.
MAX_PER_SOURCE = 8


def _spread(items: list[str], most: int) -> list[str]:
    """At most `most` of `items` (font stems in name order): the upright regular faces
    first, then others spread evenly through the rest (weights and styles).

    Regular is the face sites draw most, and an even spread alone missed it: in a family of
    Bold, BoldItalic, Italic and Regular it falls last, so taking 8 of fonts-liberation's 16
    left out every Regular (Liberation Sans and Serif: Arial's and Times' metrics)."""
    if len(items) <= most:
        return items
    regular = [stem for stem in items if _is_regular(stem)][:most]
    rest = [stem for stem in items if stem not in regular]
    others = most - len(regular)
    chosen = set(regular) | {rest[i * len(rest) // others] for i in range(others)}
    return [stem for stem in items if stem in chosen]


_STYLE_WORDS = re.compile(r"bold|italic|oblique|light|thin|black|medium|semi|demi|heavy|extra|ultra|condensed|narrow|it$")


def _is_regular(stem: str) -> bool:
    """Whether a font file's stem names an upright regular face: "-regular", or a family
    name with no weight or style in it (FreeSerif, DejaVuSans)."""
    return "regular" in stem or not _STYLE_WORDS.search(stem.split("-", 1)[-1] if "-" in stem else stem)


def broad_fonts(chars: str, system: bool = False) -> tuple[str, ...]:
    """The font files the broad style draws `chars` with (`system`: the machine's Debian fonts
    too); never empty (the library's own font)."""
    fonts = tuple(path for path, _ in installed_fonts(chars, system))
    return fonts or tuple(captcha.image.DEFAULT_FONTS)


def expand_system(fonts: tuple[str, ...], chars: str) -> tuple[str, ...]:
    """`fonts` with SYSTEM replaced by the broad set plus the machine's Debian fonts."""
    if SYSTEM not in fonts:
        return fonts
    system = broad_fonts(chars, system=True)
    return system + tuple(f for f in fonts if f != SYSTEM and f not in system)


def font_report(chars: str, system: bool = False) -> list[dict]:
    """Per source: its licence and how many of its fonts are in use (for model cards)."""
    by_source: dict[str, int] = {}
    for _, name in installed_fonts(chars, system):
        by_source[name] = by_source.get(name, 0) + 1
    return [{"source": s.name, "licence": s.licence, "fonts": by_source[s.name]} for s in SOURCES if s.name in by_source]
