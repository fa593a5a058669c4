"""Labels of a folder of captcha images: from file names or a labels.csv / labels.tsv."""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}


def image_files(folder: Path) -> list[Path]:
    """The image files directly in `folder`, in name order."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


# How the label is cut out of a file stem. "auto" drops one trailing counter that tells
# repeated labels apart: ABCD_17, ABCD-3 and ABCD.1 all read as ABCD.
SUFFIX_RULES = {
    "auto": r"(?P<label>.+?)(?:[._-]\d+)?",
    "none": r"(?P<label>.+)",
    "underscore": r"(?P<label>.+?)(?:_\d+)?",
    "dash": r"(?P<label>.+?)(?:-\d+)?",
    "dot": r"(?P<label>.+?)(?:\.\d+)?",
}


@dataclass
class LabeledFiles:
    items: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    notes: list[str] = field(default_factory=list)  # things worth a look, printed in the summary
    source: str = ""  # where the labels come from, printed in the summary


def label_pattern(rule: str) -> re.Pattern:
    """A named rule from SUFFIX_RULES, or a regex with a `label` group."""
    pattern = SUFFIX_RULES.get(rule, rule)
    try:
        compiled = re.compile(pattern)
    except re.error as err:
        raise ValueError(f"label rule {rule!r} is not a valid regular expression: {err}") from None
    if "label" not in compiled.groupindex:
        raise ValueError(f"label rule {rule!r} needs a (?P<label>...) group")
    return compiled


def label_from_name(path: Path, pattern: re.Pattern) -> str | None:
    match = pattern.fullmatch(path.stem)
    return match.group("label") if match else None


def find_labels_file(folder: Path) -> Path | None:
    for name in ("labels.csv", "labels.tsv"):
        if (folder / name).is_file():
            return folder / name
    return None


def read_labels_file(path: Path, notes: list[str] | None = None) -> dict[str, str]:
    """(file, label) rows; a first row naming the columns is skipped. A file listed twice
    keeps its last label, and is named in `notes`."""
    delimiter = "\t" if path.suffix == ".tsv" else ","
    with path.open(newline="", encoding="utf-8") as f:
        rows = [row for row in csv.reader(f, delimiter=delimiter) if row]
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["file", "label"]:
        rows = rows[1:]
    bad = [i for i, row in enumerate(rows) if len(row) < 2]
    if bad:
        raise ValueError(f"{path}: row {bad[0] + 1} needs two columns (file, label)")
    table: dict[str, str] = {}
    for row in rows:
        # The name as written: a file may really start with a space (hand-edited rows that
        # pad it are matched by scan_folder's second look); the label stripped.
        name, label = row[0], row[1].strip()
        if name in table and notes is not None:
            same = "the same label" if table[name] == label else f"{table[name]!r}, then {label!r}: the last is kept"
            notes.append(f"{path.name} lists {name} twice ({same})")
        table[name] = label
    return table


# A "label" this long is a hash or a long name: captchas show a handful of characters.
LONGEST_LABEL = 16


def names_problem(labels: list[str]) -> str | None:
    """Why file-name labels look like names rather than answers (a scraped folder's
    `captcha_0001.png`, `img1.png`, hashes), or None. Real labels differ from image to image
    and are short; counters share one stem."""
    if len(labels) < 2:
        return None
    common, count = Counter(labels).most_common(1)[0]
    if count == len(labels) or (count >= 3 and count > len(labels) / 2):
        return f"{count} of {len(labels)} images would be labeled {common!r}"
    stems = Counter(re.sub(r"\d+$", "", label) for label in labels if re.search(r"\D\d+$", label))
    if stems:
        stem, count = stems.most_common(1)[0]
        if count >= 3 and count >= 0.8 * len(labels):
            return f"{count} of {len(labels)} names are {stem!r} and a counter"
    long = sum(len(label) > LONGEST_LABEL for label in labels)
    if long >= 0.8 * len(labels):
        return f"{long} of {len(labels)} names are longer than {LONGEST_LABEL} characters, like {labels[0]!r}"
    return None


def scan_folder(folder: str | Path, rule: str = "auto", fold_case: bool = False) -> LabeledFiles:
    """Every image file in `folder` with its label, sorted by name; files without a label
    are listed in `skipped` with the reason."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder at {folder}")
    pattern = label_pattern(rule)
    labels_file = find_labels_file(folder)
    result = LabeledFiles(source=str(labels_file) if labels_file else f"file names by --label-rule {rule}")
    table = read_labels_file(labels_file, result.notes) if labels_file else None
    # Rows whose name a hand edit padded with spaces ("a.png , AB12") still find their file.
    padded = {key.strip(): label for key, label in (table or {}).items() if key != key.strip()}
    for path in image_files(folder):
        label = table.get(path.name, padded.get(path.name)) if table is not None else label_from_name(path, pattern)
        if not label:
            # An empty label in the table is how `label` records an image marked unreadable.
            result.skipped.append((path.name, "marked unreadable" if label == "" else "no label"))
            continue
        result.items.append((path, label.upper() if fold_case else label))
    if table is None and rule == "auto":  # a rule the user named is taken at its word
        problem = names_problem([label for _, label in result.items])
        if problem:
            raise ValueError(
                f"{folder}: the file names do not look like labels ({problem}). Label the images with "
                f"`captcha-break label {folder}` (it writes labels.csv, which replaces file-name labels), or say how "
                "the names hold the labels with --label-rule"
            )
    spaced = [f"{path.name} ({label!r})" for path, label in result.items if any(c.isspace() for c in label)]
    if spaced:
        result.notes.append(
            f"{len(spaced)} labels hold spaces, which the model will learn to read as characters: " + ", ".join(spaced[:5])
        )
    return result
