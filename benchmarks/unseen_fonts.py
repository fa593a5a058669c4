"""The plain command on made-up sites drawn in fonts the `general` model never saw.

    sudo apt-get install fonts-aenigma      # 465 display fonts, none of them in general's training
    python benchmarks/unseen_fonts.py --fonts /usr/share/fonts/truetype/aenigma [--update]
    python benchmarks/unseen_fonts.py --fonts ... --only library_lower5_jpeg --count 10000   # more labels
    python benchmarks/unseen_fonts.py --fonts ... --unlabeled 10000   # 10,000 more images, unlabeled

The shared sets are three sites; the issue's bar is every site a user may bring. This
benchmark makes three more, each in one or two fonts from --fonts (a folder none of whose
fonts the broad pre-training drew with: `general` has to learn the glyphs from the labels,
as on a real site), 3,000 labeled images each with `captcha-break generate`:

- library_lower5_jpeg: the captcha library's style (overlapping, warped characters, noise)
  in two fonts, 5 characters of lower case and digits, saved as JPEG at quality 60;
- library_mixed6: the same style in one outlined font, 6 characters, mixed case;
- lines_upper4to8: the "lines" style (spaced characters of many colours, some pale,
  crossed by lines), one font, 4 to 8 characters of upper case and digits;
- library_anycase5: a site that ignores case: the captcha library's style in one font,
  5 characters of both cases and digits, labeled in lower case (as a user types them).

Then `own_data.py`'s routine: `captcha-break train --data SITE --out RUN --time-budget 30m`
and nothing else, scored on the command's fixed 20% test split (results: unseen_fonts.*).
With --unlabeled N, N more images of each site (the --count N draw) are given to the same
command as `--unlabeled DIR`, their labels unused (results: unseen_fonts_unlabeled.*).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from common import add_update_option
from PIL import Image
from plain_runs import run_sets

LOWER = "abcdefghijkmnpqrstuvwxyz23456789"  # without l, o, 0 and 1, as such sites leave them out
MIXED = "abcdefghjkmnpqrtuwyABDEFGHJKLMNQRTY2346789"  # no pair that differs only in size
UPPER = "ABCDEFGHIJKLMNPQRSTUVWXYZ123456789"
ANYCASE = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"  # without i, l, o, 0 and 1 in either case
SITES = {
    "library_lower5_jpeg": {"style": "v07", "size": "160x60", "chars": LOWER, "length": "5",
                            "fonts": ["hassle.ttf", "clasict1.ttf"], "jpeg": 60},
    "library_mixed6": {"style": "v07", "size": "180x64", "chars": MIXED, "length": "6", "fonts": ["ubiquity.ttf"]},
    "lines_upper4to8": {"style": "lines", "size": "200x60", "chars": UPPER, "length": "4-8", "fonts": ["stagnati.ttf"]},
    "library_anycase5": {"style": "v07", "size": "160x60", "chars": ANYCASE, "length": "5", "fonts": ["mysteron.ttf"],
                         "labels": "lower"},
}  # fmt: skip
COUNT = 3000


def site_name(name: str, count: int) -> str:
    return name if count == COUNT else f"{name}_{count}"


def make_site(name: str, recipe: dict, fonts: Path, out: Path, count: int) -> Path:
    """Draw the site's labeled images into a folder of `out` (kept: drawn once, seeded by the name)."""
    folder = out / site_name(name, count)
    suffix = ".jpg" if recipe.get("jpeg") else ".png"
    if len(list(folder.glob(f"*{suffix}"))) < count:
        draw_site(folder, recipe, fonts, count)
    return relabel(folder, recipe)


def draw_site(folder: Path, recipe: dict, fonts: Path, count: int) -> None:
    font_options = [arg for font in recipe["fonts"] for arg in ("--font", str(fonts / font))]
    subprocess.run([sys.executable, "-m", "captcha_break", "generate", "--count", str(count), "--seed", folder.name,
                    "--out", str(folder), "--style", recipe["style"], "--size", recipe["size"],
                    "--chars", recipe["chars"], "--length", recipe["length"], *font_options], check=True)  # fmt: skip
    if recipe.get("jpeg"):
        for png in sorted(folder.glob("*.png")):  # a PNG is removed only once its JPEG is written
            Image.open(png).convert("RGB").save(png.with_suffix(".jpg"), quality=recipe["jpeg"])
            png.unlink()


def relabel(folder: Path, recipe: dict) -> Path:
    """A site labeled in lower case: each file LABEL_INDEX renamed label_INDEX (again after
    an interrupted renaming: a name already in lower case stays)."""
    if recipe.get("labels") == "lower":
        for path in sorted(folder.iterdir()):
            if path.name != path.name.lower():
                path.rename(path.with_name(path.name.lower()))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fonts", type=Path, required=True, help="the folder holding the sites' fonts (fonts-aenigma's)")
    parser.add_argument("--sites", type=Path, default=Path("runs/unseen_fonts/sites"), help="where the sites are drawn")
    parser.add_argument("--runs", type=Path, default=Path("runs/unseen_fonts"))
    parser.add_argument("--only", action="append", choices=sorted(SITES), help="this site only (repeatable)")
    parser.add_argument("--count", type=int, default=COUNT, help=f"labeled images per site (default {COUNT})")
    parser.add_argument(
        "--unlabeled", type=int, metavar="N",
        help="also draw N more images per site and give them to the command unlabeled (train --unlabeled)",
    )  # fmt: skip
    add_update_option(parser)
    args = parser.parse_args()
    missing = [font for recipe in SITES.values() for font in recipe["fonts"] if not (args.fonts / font).is_file()]
    if missing:
        parser.error(f"{args.fonts} lacks {', '.join(missing)}: install fonts-aenigma, or point --fonts at its folder")
    if args.unlabeled == args.count:  # the same draw (sites are seeded by name and count)
        parser.error("--unlabeled N must differ from --count: N images of the same count are the labeled site itself")
    names = args.only or sorted(SITES)
    for name in names:
        make_site(name, SITES[name], args.fonts, args.sites, args.count)
    folders = [site_name(name, args.count) for name in names]
    if not args.unlabeled:
        run_sets(args.sites, folders, ["all"], args.runs, "unseen_fonts", "The plain command on sites in fonts general never saw")
        return
    # Each site's own more images, drawn like it (another seed), read without their labels.
    more = {f: make_site(n, SITES[n], args.fonts, args.sites, args.unlabeled) for n, f in zip(names, folders)}
    run_sets(args.sites, folders, ["all"], args.runs / "unlabeled", "unseen_fonts_unlabeled",
             "The plain command with --unlabeled on sites in fonts general never saw",
             extra=lambda folder: ("--unlabeled", str(more[folder])))  # fmt: skip


if __name__ == "__main__":
    main()
