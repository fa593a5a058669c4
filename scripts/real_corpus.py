"""Gather the real captchas the bundled `general` model may be pre-trained on into one folder.

    python scripts/real_corpus.py --datasets DIR --out runs/corpus/real_train.csv
    captcha-break train --init general --style broad --pseudo-labels runs/corpus/real_train.csv ...

DIR is a datasets folder laid out like the shared one: `real_sites/` (its README's table gives
each site's role) and the single sets beside it. Only sets whose role is `train` are taken, and
of the single sets only those named in TRAIN_SINGLE_SETS; held-out sites are
never read here, so no model trained on the result has seen them. The out file lists every
image by its absolute path with its label (`file,label`), as `train --pseudo-labels` reads
it; labels with characters outside --chars are left out and counted.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections import Counter
from pathlib import Path

from captcha_break.labels import scan_folder

# The single sets of the shared datasets folder to train on. digits_wave_4 and henan_digits_4
# may be (MIT), but they measure the plain command and out-of-the-box reading
# (benchmarks/own_data.py, out_of_box.py): a base model that saw their test splits would
# inflate those figures. So none.
TRAIN_SINGLE_SETS: tuple[str, ...] = ()
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


def gather(datasets: Path, out: Path, chars: str) -> Counter:
    """List every usable labeled image of the train sets in `out`; per set, how many."""
    kept: Counter = Counter()
    rows = []
    for folder in train_sets(datasets):
        for path, label in scan_folder(folder).items:
            if not set(label) <= set(chars):
                kept[f"{folder.name} (left out: characters outside --chars)"] += 1
                continue
            rows.append((str(path.resolve()), label))
            kept[folder.name] += 1
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("file", "label"), *rows])
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, required=True, help="the datasets folder (real_sites/ and the single sets)")
    parser.add_argument("--out", type=Path, required=True, help="labels file to write (file,label)")
    parser.add_argument("--chars", default=GENERAL_CHARS, help="the model's charset (default: general's)")
    args = parser.parse_args()
    for name, count in gather(args.datasets, args.out, args.chars).items():
        print(f"{count:6d}  {name}")


if __name__ == "__main__":
    main()
