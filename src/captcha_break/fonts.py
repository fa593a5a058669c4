"""The fonts the broad synthetic style draws with, found where they are installed.

Nothing is downloaded: fonts come from
- the PyPI font packages of the `fonts` extra (`pip install captcha-break[fonts]`), each
  a module with a `files/` folder (SIL OFL 1.1, Roboto and Caladea Apache 2.0);
- Debian `fonts-*` packages where the machine has them (`make fonts` installs them as root);
- matplotlib's DejaVu fonts (Bitstream Vera licence) and the `captcha` library's
  DroidSansMono (Apache 2.0), which every install has.
Each source names its licence; the general model's card lists the fonts it was trained on.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import captcha.image
from PIL import ImageFont

FONT_SUFFIXES = (".ttf", ".otf", ".ttc")


def find_fonts(paths: list[str]) -> tuple[str, ...]:
    """Font files and folders of them -> the font files, folders expanded in name order."""
    found: list[str] = []
    for path in map(Path, paths):
        if path.is_dir():
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


# Amatic SC (PyPI) is left out: it draws lower case as small capitals, which would teach
# the model that case cannot be read.
SOURCES = (
    FontSource("font-roboto", "Apache-2.0", ("py:font_roboto",)),
    FontSource("font-lato", "OFL-1.1", ("py:font_lato",)),
    FontSource("font-source-sans-pro", "OFL-1.1", ("py:font_source_sans_pro",)),
    FontSource("font-source-serif-pro", "OFL-1.1", ("py:font_source_serif_pro",)),
    FontSource("font-fredoka-one", "OFL-1.1", ("py:font_fredoka_one",)),
    FontSource("font-caladea", "Apache-2.0", ("py:font_caladea",)),
    FontSource("font-hanken-grotesk", "OFL-1.1", ("py:font_hanken_grotesk",)),
    FontSource("font-intuitive", "OFL-1.1", ("py:font_intuitive",)),
    FontSource("font-manrope", "OFL-1.1", ("py:font_manrope",)),
    FontSource("font-fjallaone", "OFL-1.1", ("py:font_fjallaone",)),
    FontSource("font-rhd", "OFL-1.1", ("py:font_rhd",)),
    # Only DejaVu of matplotlib's folder: its Computer Modern symbol fonts map ASCII to
    # other shapes, which no glyph check can see.
    FontSource("matplotlib DejaVu", "Bitstream-Vera", ("py:matplotlib/mpl-data/fonts/ttf",), "DejaVu*"),
    FontSource("captcha DroidSansMono", "Apache-2.0", ("py:captcha/data",)),
    # Debian packages (`make fonts`); folders under /usr/share/fonts.
    FontSource("fonts-liberation", "OFL-1.1", ("/usr/share/fonts/truetype/liberation",)),
    FontSource("fonts-freefont-ttf", "GPL-3+ with font exception", ("/usr/share/fonts/truetype/freefont",)),
    FontSource("fonts-urw-base35", "AGPL-3 with font exception", ("/usr/share/fonts/opentype/urw-base35",)),
    FontSource("fonts-comic-neue", "OFL-1.1", ("/usr/share/fonts/opentype/comic-neue", "/usr/share/fonts/truetype/comic-neue")),
    FontSource("fonts-cantarell", "OFL-1.1", ("/usr/share/fonts/opentype/cantarell",)),
    FontSource("fonts-hack", "MIT + Bitstream-Vera", ("/usr/share/fonts/truetype/hack",)),
    FontSource(
        "fonts-inconsolata", "OFL-1.1", ("/usr/share/fonts/opentype/inconsolata", "/usr/share/fonts/truetype/inconsolata")
    ),
    FontSource("fonts-dejavu-extra", "Bitstream-Vera", ("/usr/share/fonts/truetype/dejavu",)),
    FontSource("fonts-crosextra-carlito", "OFL-1.1", ("/usr/share/fonts/truetype/crosextra",)),
    FontSource("fonts-open-sans", "Apache-2.0", ("/usr/share/fonts/truetype/open-sans",)),
    FontSource("fonts-oxygen", "OFL-1.1", ("/usr/share/fonts/truetype/oxygen",)),
    FontSource("fonts-quicksand", "OFL-1.1", ("/usr/share/fonts/truetype/quicksand",)),
    FontSource("fonts-roboto-slab", "Apache-2.0", ("/usr/share/fonts/truetype/roboto/slab",)),
    FontSource("fonts-league-spartan", "OFL-1.1", ("/usr/share/fonts/opentype/league-spartan",)),
    FontSource("fonts-noto-mono", "OFL-1.1", ("/usr/share/fonts/truetype/noto",)),
    FontSource("fonts-firacode", "OFL-1.1", ("/usr/share/fonts/opentype/firacode",)),
    FontSource("fonts-lobster", "OFL-1.1", ("/usr/share/fonts/opentype/lobster", "/usr/share/fonts/truetype/lobster")),
    FontSource("fonts-cabin", "OFL-1.1", ("/usr/share/fonts/opentype/cabin", "/usr/share/fonts/truetype/cabin")),
    FontSource(
        "fonts-yanone-kaffeesatz",
        "OFL-1.1",
        ("/usr/share/fonts/opentype/yanone-kaffeesatz", "/usr/share/fonts/truetype/yanone-kaffeesatz"),
    ),
    FontSource("fonts-f500", "GPL-2+", ("/usr/share/fonts/truetype/f500",)),
    FontSource("fonts-dustin", "GPL-2+", ("/usr/share/fonts/truetype/dustin",)),
    FontSource("fonts-breip", "OFL-1.1", ("/usr/share/fonts/truetype/breip",)),
    FontSource("fonts-linuxlibertine", "GPL-2 with font exception / OFL-1.1", ("/usr/share/fonts/opentype/linux-libertine",)),
    FontSource("fonts-sil-gentium", "OFL-1.1", ("/usr/share/fonts/truetype/gentium",)),
)

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
def installed_fonts(chars: str) -> tuple[tuple[str, str], ...]:
    """(font file, source name) for every installed font that draws all of `chars`.

    Fonts that lack a glyph (symbol fonts, small-caps-only fonts) are left out, and of
    files with the same name (a .ttf and an .otf of one face) only the first is kept.
    """
    found: dict[str, tuple[str, str]] = {}
    for source in SOURCES:
        for path in _files(source):
            stem = Path(path).stem.lower()
            if stem not in found and stem not in EXCLUDED and font_problem(path, chars) is None:
                found[stem] = (path, source.name)
    return tuple(found.values())


def broad_fonts(chars: str) -> tuple[str, ...]:
    """The font files the broad style draws `chars` with; never empty (the library's own font)."""
    fonts = tuple(path for path, _ in installed_fonts(chars))
    return fonts or tuple(captcha.image.DEFAULT_FONTS)


def font_report(chars: str) -> list[dict]:
    """Per source: its licence and how many of its fonts are in use (for model cards)."""
    by_source: dict[str, int] = {}
    for _, name in installed_fonts(chars):
        by_source[name] = by_source.get(name, 0) + 1
    return [{"source": s.name, "licence": s.licence, "fonts": by_source[s.name]} for s in SOURCES if s.name in by_source]
