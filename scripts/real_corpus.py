"""Gather the real captchas the bundled `general` model may be pre-trained on into one labels file.

    python scripts/real_corpus.py --datasets DIR --out runs/corpus/train.csv --apart runs/corpus --case-from general
    captcha-break train --init general --style sites --pseudo-labels runs/corpus/train.csv ...

DIR is a datasets folder laid out like the shared one: `real_sites/` (its README's table gives
each site's role) and the single sets beside it. Only sets whose role is `train` are taken, and
of the single sets only those named in TRAIN_SINGLE_SETS; held-out sites are
never read here, so no model trained on the result has seen them. The out file lists every
image by its absolute path with its label (`file,label`), as `train --pseudo-labels` reads
it; labels with characters outside --chars are left out and counted.

--apart DIR keeps a fifth of each site (by a hash of the file name) out of the labels file and
copies it to DIR/SITE/ with its labels.csv, to measure on. --case-from MODEL: the sites of
MIXED_CASE_GLYPHS write lower-case labels for glyphs of both cases; their rows get the case
MODEL reads where it reads the letters right, and are left out otherwise (without it, those
sites are left out: a label of the wrong case teaches the wrong glyph).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import shutil
from collections import Counter
from pathlib import Path

from captcha_break.labels import scan_folder

# The single sets of the shared datasets folder to train on. digits_wave_4 and henan_digits_4
# may be (MIT), but they measure the plain command and out-of-the-box reading
# (benchmarks/own_data.py, out_of_box.py): a base model that saw their test splits would
# inflate those figures. So none.
TRAIN_SINGLE_SETS: tuple[str, ...] = ()
# Sites whose labels are lower case while their glyphs are of both cases (seen by eye).
MIXED_CASE_GLYPHS = ("tjsp_esaj_br",)
GENERAL_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ROW = re.compile(r"^\|\s*`(\w+)`\s*\|\s*([^|]+?)\s*\|")


def site_roles(readme: Path) -> dict[str, str]:
    """{folder: role} from real_sites/README.md's table ("train" or "held out")."""
    roles = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match:
            roles[match.group(1)] = match.group(2).replace("*", "").strip()
    return roles


def train_sets(datasets: Path) -> list[Path]:
    roles = site_roles(datasets / "real_sites" / "README.md")
    sites = [datasets / "real_sites" / name for name, role in sorted(roles.items()) if role == "train"]
    return sites + [datasets / name for name in TRAIN_SINGLE_SETS if (datasets / name).is_dir()]


def kept_apart(name: str) -> bool:
    """Whether a file is in the fifth of its site kept to measure on (a fixed hash of its name)."""
    return int(hashlib.md5(name.encode()).hexdigest(), 16) % 5 == 0


def gather(datasets: Path, out: Path, chars: str, apart: Path | None = None, case_from: str | None = None) -> Counter:
    """List every usable labeled image of the train sets in `out` (with `apart`, four fifths of
    each, the rest copied there); per set, how many."""
    kept: Counter = Counter()
    rows = []
    for folder in train_sets(datasets):
        items = scan_folder(folder).items
        if apart:
            _copy_apart(folder, [(p, label) for p, label in items if kept_apart(p.name)], apart / folder.name)
            items = [(p, label) for p, label in items if not kept_apart(p.name)]
        if folder.name in MIXED_CASE_GLYPHS:
            cased = _cased(items, case_from) if case_from else []
            kept[f"{folder.name} (left out: no case read)"] += len(items) - len(cased)
            items = cased
        for path, label in items:
            if not set(label) <= set(chars):
                kept[f"{folder.name} (left out: characters outside --chars)"] += 1
                continue
            rows.append((str(path.resolve()), label))
            kept[folder.name] += 1
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("file", "label"), *rows])
    return kept


def _cased(items: list[tuple[Path, str]], model: str) -> list[tuple[Path, str]]:
    """The items whose letters `model` reads right but for case, labelled in the case it reads."""
    from captcha_break.recognizer import Recognizer

    labels = dict(items)
    lengths = (min(map(len, labels.values())), max(map(len, labels.values())))
    reader = Recognizer.load(model, threads=2, only_length=lengths)
    return [(p, r.text) for p, r in reader.read_files(list(labels)) if getattr(r, "text", "").lower() == labels[p]]


def _copy_apart(folder: Path, items: list[tuple[Path, str]], to: Path) -> None:
    to.mkdir(parents=True, exist_ok=True)
    for path, _ in items:
        shutil.copy(path, to / path.name)
    with (to / "labels.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("file", "label"), *((p.name, label) for p, label in items)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, required=True, help="the datasets folder (real_sites/ and the single sets)")
    parser.add_argument("--out", type=Path, required=True, help="labels file to write (file,label)")
    parser.add_argument("--chars", default=GENERAL_CHARS, help="the model's charset (default: general's)")
    parser.add_argument("--apart", type=Path, help="keep a fifth of each site out, copied to APART/SITE/ to measure on")
    parser.add_argument("--case-from", metavar="MODEL", help="the model that reads the case of MIXED_CASE_GLYPHS sites")
    args = parser.parse_args()
    for name, count in gather(args.datasets, args.out, args.chars, args.apart, args.case_from).items():
        print(f"{count:6d}  {name}")


if __name__ == "__main__":
    main()
