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
    # More Latin text, display, handwriting and pixel fonts of Debian main, each package
    # seen in a chart of its glyphs. Left out: symbol and music fonts (denemo), fonts
    # drawing lower case as small capitals (humor-sans, the ADF "Style" and "Titling"
    # faces), fonts missing glyphs (levien-museum) or with raised digits (campania), and
    # Solothurn, whose two cases of a letter look alike.
    FontSource("fonts-3270", "GPL-2+", ("/usr/share/fonts/truetype/3270",)),
    FontSource("fonts-agave", "MIT", ("/usr/share/fonts/truetype/agave",)),
    FontSource("fonts-allerta", "OFL-1.1", ("/usr/share/fonts/opentype/allerta",)),
    FontSource("fonts-amiga", "OFL-1.1", ("/usr/share/fonts/truetype/amiga",)),
    FontSource("fonts-apropal", "OFL-1.1", ("/usr/share/fonts/opentype/apropal",)),
    FontSource("fonts-arapey", "OFL-1.1", ("/usr/share/fonts/opentype/arapey",)),
    FontSource("fonts-atarismall", "free (licence in each font)", ("/usr/share/fonts/truetype/fonts-atarismall",)),
    FontSource("fonts-averia-gwf", "OFL-1.1", ("/usr/share/fonts/truetype/averia-gwf",), "AveriaGWF*"),
    FontSource("fonts-averia-sans-gwf", "OFL-1.1", ("/usr/share/fonts/truetype/averia-gwf",), "AveriaSansGWF*"),
    FontSource("fonts-averia-serif-gwf", "OFL-1.1", ("/usr/share/fonts/truetype/averia-gwf",), "AveriaSerifGWF*"),
    FontSource("fonts-b612", "OFL-1.1 / EPL-2.0 / EDL-1.0", ("/usr/share/fonts/opentype/b612",)),
    FontSource("fonts-bajaderka", "OFL-1.1", ("/usr/share/fonts/opentype/bajaderka",)),
    FontSource("fonts-bebas-neue", "OFL-1.1", ("/usr/share/fonts/opentype/bebas-neue",)),
    FontSource("fonts-beteckna", "GPL-3", ("/usr/share/fonts/truetype/beteckna",)),
    FontSource("fonts-blankenburg", "OFL-1.1", ("/usr/share/fonts/truetype/blankenburg",)),
    FontSource("fonts-cabinsketch", "OFL-1.1", ("/usr/share/fonts/truetype/cabinsketch",)),
    FontSource("fonts-cardo", "OFL-1.1", ("/usr/share/fonts/truetype/cardo",)),
    FontSource("fonts-century-catalogue", "OFL-1.0", ("/usr/share/fonts/truetype/fonts-century-catalogue",)),
    FontSource("fonts-cherrybomb", "OFL-1.1", ("/usr/share/fonts/opentype/cherrybomb",)),
    FontSource("fonts-clear-sans", "Apache-2.0", ("/usr/share/fonts/truetype/clear-sans",)),
    FontSource("fonts-cmu", "OFL-1.1", ("/usr/share/fonts/truetype/cmu",)),
    FontSource("fonts-comfortaa", "OFL-1.1", ("/usr/share/fonts/truetype/comfortaa",)),
    FontSource("fonts-compagnon", "OFL-1.1", ("/usr/share/fonts/opentype/compagnon",)),
    FontSource("fonts-croscore", "OFL-1.1", ("/usr/share/fonts/truetype/croscore",)),
    FontSource("fonts-dancingscript", "OFL-1.1", ("/usr/share/fonts/opentype/dancingscript",)),
    FontSource("fonts-dkg-handwriting", "GPL-3+", ("/usr/share/fonts/truetype/fifthhorseman",)),
    FontSource("fonts-dosis", "OFL-1.1", ("/usr/share/fonts/opentype/dosis",)),
    FontSource("fonts-ebgaramond", "OFL-1.1", ("/usr/share/fonts/opentype/ebgaramond",)),
    FontSource("fonts-ecolier-court", "OFL-1.1", ("/usr/share/fonts/truetype/ecolier-court",)),
    FontSource("fonts-engadget", "LGPL-2+", ("/usr/share/fonts/truetype/engadget",)),
    FontSource("fonts-essays1743", "OFL-1.1 or LGPL-2.1", ("/usr/share/fonts/truetype/essays1743",)),
    FontSource("fonts-eurofurence", "OFL-1.1", ("/usr/share/fonts/truetype/eurofurence",)),
    FontSource("fonts-fantasma", "WTFPL-2", ("/usr/share/fonts/opentype/fantasma",)),
    FontSource("fonts-fantasque-sans", "OFL-1.1", ("/usr/share/fonts/opentype/fantasque-sans/Normal",)),
    FontSource("fonts-fanwood", "MIT", ("/usr/share/fonts/truetype/fanwood",)),
    FontSource("fonts-femkeklaver", "CC-BY-SA-3.0", ("/usr/share/fonts/truetype/femkeklaver",)),
    FontSource("fonts-ferrite-core", "OFL-1.1", ("/usr/share/fonts/opentype/ferrite-core",)),
    FontSource("fonts-glasstty", "Unlicense", ("/usr/share/fonts/truetype/glasstty",)),
    FontSource("fonts-gnutypewriter", "OFL-1.1", ("/usr/share/fonts/truetype/gnutypewriter",)),
    FontSource("fonts-go", "BSD-3-Clause", ("/usr/share/fonts/fonts-go",)),
    FontSource("fonts-gotico-antiqua", "OFL-1.1", ("/usr/share/fonts/opentype/gotico-antiqua",)),
    FontSource("fonts-goudybookletter", "public domain", ("/usr/share/fonts/opentype/sortsmill",)),
    FontSource("fonts-havana", "OFL-1.1", ("/usr/share/fonts/opentype/havana",)),
    FontSource("fonts-hermit", "OFL-1.1", ("/usr/share/fonts/truetype/hermit",)),
    FontSource("fonts-inter", "OFL-1.1", ("/usr/share/fonts/opentype/inter",)),
    FontSource("fonts-isabella", "LGPL-2+", ("/usr/share/fonts/truetype/isabella",)),
    FontSource("fonts-jetbrains-mono", "OFL-1.1", ("/usr/share/fonts/truetype/jetbrains-mono",)),
    FontSource("fonts-joscelyn", "OFL-1.1", ("/usr/share/fonts/opentype/joscelyn",)),
    FontSource("fonts-junction", "OFL-1.1", ("/usr/share/fonts/opentype/junction",)),
    FontSource("fonts-jura", "GPL-3 or OFL-1.1", ("/usr/share/fonts/opentype/jura",)),
    FontSource("fonts-karla", "OFL-1.1", ("/usr/share/fonts/truetype/karla",)),
    FontSource("fonts-karmilla", "OFL-1.1", ("/usr/share/fonts/truetype/karmilla",)),
    FontSource("fonts-kaushanscript", "OFL-1.1", ("/usr/share/fonts/opentype/kaushanscript",)),
    FontSource("fonts-klaudia-berenika", "OFL-1.1", ("/usr/share/fonts/truetype/klaudia-berenika",)),
    FontSource("fonts-kristi", "0BSD", ("/usr/share/fonts/truetype/kristi",)),
    FontSource("fonts-lato", "OFL-1.1", ("/usr/share/fonts/truetype/lato",)),
    FontSource("fonts-le-murmure", "OFL-1.1", ("/usr/share/fonts/opentype/le-murmure",)),
    FontSource("fonts-league-mono", "OFL-1.1", ("/usr/share/fonts/opentype/league-mono",)),
    FontSource("fonts-leckerli-one", "0BSD", ("/usr/share/fonts/truetype/leckerli-one",)),
    FontSource("fonts-lindenhill", "MIT", ("/usr/share/fonts/truetype/lindenhill",)),
    FontSource("fonts-linex", "GPL-2+", ("/usr/share/fonts/truetype/linex",)),
    FontSource("fonts-lobstertwo", "OFL-1.1", ("/usr/share/fonts/opentype/lobstertwo",)),
    FontSource("fonts-monofur", "OFL-1.1", ("/usr/share/fonts/truetype/monofur",)),
    FontSource("fonts-monoid", "OFL-1.1", ("/usr/share/fonts/truetype/monoid",)),
    FontSource("fonts-mononoki", "OFL-1.1", ("/usr/share/fonts/truetype/mononoki",)),
    FontSource("fonts-mph-2b-damase", "public domain", ("/usr/share/fonts/truetype/mph-2b-damase",)),
    FontSource("fonts-national-park", "OFL-1.1", ("/usr/share/fonts/opentype/national-park",)),
    FontSource("fonts-ocr-a", "public domain", ("/usr/share/fonts/truetype/ocr-a",)),
    FontSource("fonts-ocr-b", "public domain", ("/usr/share/fonts/opentype/ocr-b",)),
    FontSource("fonts-okolaks", "OFL-1.1", ("/usr/share/fonts/truetype/okolaks",)),
    FontSource("fonts-oldstandard", "OFL-1.0", ("/usr/share/fonts/truetype/fonts-oldstandard",)),
    FontSource("fonts-opendin", "OFL-1.1", ("/usr/share/fonts/truetype/opendin",)),
    FontSource("fonts-opendyslexic", "CC0-1.0", ("/usr/share/fonts/opentype/opendyslexic",)),
    FontSource("fonts-paratype", "ParaType Free Font Licence", ("/usr/share/fonts/truetype/paratype",)),
    FontSource("fonts-play", "OFL-1.1", ("/usr/share/fonts/opentype/play", "/usr/share/fonts/truetype/play")),
    FontSource("fonts-prociono", "public domain", ("/usr/share/fonts/opentype/fonts-prociono",)),
    FontSource("fonts-quattrocento", "OFL-1.1", ("/usr/share/fonts/opentype/quattrocento",)),
    FontSource("fonts-radisnoir", "OFL-1.1", ("/usr/share/fonts/opentype/radisnoir",)),
    FontSource("fonts-rampart", "OFL-1.1", ("/usr/share/fonts/truetype/rampart",)),
    FontSource("fonts-roadgeek", "MIT", ("/usr/share/fonts/truetype/roadgeek",)),
    FontSource("fonts-rocknroll", "OFL-1.1", ("/usr/share/fonts/truetype/rocknroll",)),
    FontSource("fonts-routed-gothic", "MIT", ("/usr/share/fonts/truetype/routed-gothic",)),
    FontSource("fonts-rufscript", "GPL-3+ with font exception", ("/usr/share/fonts/truetype/rufscript",)),
    FontSource("fonts-sixtyfour", "OFL-1.1", ("/usr/share/fonts/truetype/sixtyfour",)),
    FontSource("fonts-sjfonts", "GPL-2 with font exception", ("/usr/share/fonts/truetype/sjfonts",)),
    FontSource("fonts-solide-mirage", "OFL-1.1", ("/usr/share/fonts/opentype/solid-mirage",)),
    FontSource("fonts-sora", "OFL-1.1", ("/usr/share/fonts/opentype/sora",)),
    FontSource("fonts-staypuft", "LGPL-2+", ("/usr/share/fonts/truetype/staypuft",)),
    FontSource("fonts-stick", "OFL-1.1", ("/usr/share/fonts/truetype/stick",)),
    FontSource("fonts-summersby", "GPL-2+", ("/usr/share/fonts/truetype/summersby",)),
    FontSource("fonts-texgyre", "GUST Font License", ("/usr/share/texmf/fonts/opentype/public/tex-gyre",)),
    FontSource("fonts-tiresias", "GPL-3+ with font exception", ("/usr/share/fonts/truetype/tiresias",)),
    FontSource("fonts-tlwg-purisa-ttf", "GPL-2+ with font exception", ("/usr/share/fonts/truetype/tlwg",), "Purisa*"),
    FontSource("fonts-tomsontalks", "free (see the package copyright)", ("/usr/share/fonts/truetype/tomsontalks",)),
    FontSource("fonts-train", "OFL-1.1", ("/usr/share/fonts/truetype/train",)),
    FontSource("fonts-tuffy", "public domain", ("/usr/share/fonts/truetype/tuffy",)),
    FontSource("fonts-ubuntu-title", "OFL-1.1", ("/usr/share/fonts/truetype/ubuntu-title",)),
    FontSource("fonts-unikurdweb", "GPL-2+ with font exception", ("/usr/share/fonts/truetype/unikurdweb",)),
    FontSource("fonts-uralic", "GPL-2", ("/usr/share/fonts/truetype/uralic",)),
    FontSource("fonts-vollkorn", "OFL-1.1", ("/usr/share/fonts/truetype/vollkorn",)),
    FontSource("fonts-adf-accanthis", "GPL-2+ with font exception", ("/usr/share/fonts/truetype/adf",), "AccanthisADF*"),
    FontSource("fonts-adf-baskervald", "GPL-2+ with font exception", ("/usr/share/fonts/truetype/adf",), "BaskervaldADF*"),
    FontSource("fonts-adf-berenis", "GPL-2+ with font exception", ("/usr/share/fonts/truetype/adf",), "BerenisADFPro-*"),
    FontSource("fonts-adf-gillius", "GPL-2+ with font exception", ("/usr/share/fonts/truetype/adf",), "GilliusADF*"),
    FontSource("fonts-adf-ikarius", "GPL-2+ with font exception", ("/usr/share/fonts/truetype/adf",), "IkariusADF*"),
    FontSource("fonts-adf-irianis", "GPL-2+ with font exception", ("/usr/share/fonts/truetype/adf",), "IrianisADFStd*"),
    FontSource("fonts-adf-libris", "GPL-2+ with font exception", ("/usr/share/fonts/truetype/adf",), "LibrisADF*"),
    FontSource("fonts-adf-mekanus", "GPL-2+ with font exception", ("/usr/share/fonts/truetype/adf",), "MekanusADFStd*"),
    FontSource("fonts-adf-oldania", "GPL-2+ with font exception", ("/usr/share/fonts/truetype/adf",), "OldaniaADF*"),
    FontSource("fonts-adf-romande", "GPL-2+ with font exception", ("/usr/share/fonts/truetype/adf",), "RomandeADFStd*"),
    FontSource("fonts-adf-switzera", "GPL-2+ with font exception", ("/usr/share/fonts/truetype/adf",), "SwitzeraADF*"),
    FontSource("fonts-adf-tribun", "GPL-2+ with font exception", ("/usr/share/fonts/truetype/adf",), "TribunADF*"),
    FontSource("fonts-adf-universalis", "GPL-2+ with font exception", ("/usr/share/fonts/truetype/adf",), "UniversalisADF*"),
    FontSource("fonts-adf-verana", "GPL-2+ with font exception", ("/usr/share/fonts/truetype/adf",), "Verana*"),
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
