"""Wrong labels in a shared set's test split, and the plain command's model scored against checked labels.

    python benchmarks/label_noise.py --only henan_digits_4     # the model: own_data.py's run of the set
    python benchmarks/label_noise.py --only henan_digits_4 --model RUN/best.pt

A set labeled by people or scripts has wrong labels, and no model can read past them: the
test accuracy a target asks for can be above what the labels allow. Two readers made
independently of each other and of the set, the bundled `general` (no training on it) and
ddddocr 1.6.1 (the `bench` extra), read every image of the plain command's 20% test split
(own_data.py's rule), each held to the set's alphabet and lengths. Where both read the same
text and it is not the label, the label is a suspect: the suspects go to a gallery
(label_noise_SET.png) for a person to look at, and the ones a person confirmed are committed
in label_fixes/SET.csv (file, label, corrected). The figures: the suspects, the confirmed
wrong labels, the ceiling they put on any model's test accuracy, and the model's accuracy
(`captcha-break evaluate`) against the set's labels and against the corrected ones.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from common import add_datasets_option, add_update_option, alphabet, results_dir, write_results
from PIL import Image, ImageDraw
from plain_runs import evaluated, labeled_copy, split
from readers import ddddocr_within

from captcha_break.recognizer import Recognizer

FIXES = Path(__file__).parent / "label_fixes"


def suspects(items: list[tuple[Path, str]]) -> list[tuple[Path, str, str]]:
    """(image, label, the reading both readers agree on) where that reading is not the label."""
    try:
        import ddddocr
    except ImportError:
        raise SystemExit("the second reader, ddddocr, is not installed: pip install -e '.[bench]'") from None

    chars, no_lower, lengths = alphabet(items)
    ours = Recognizer.load("general", fold_case=no_lower, only_chars=chars, only_length=lengths)
    theirs = ddddocr.DdddOcr(show_ad=False)
    readings = [p.text for p in ours.predict([str(path) for path, _ in items])]
    found = []
    for (path, label), reading in zip(items, readings):
        truth = label.upper() if no_lower else label
        if reading != truth and ddddocr_within(theirs, path.read_bytes(), chars, lengths) == reading:
            found.append((path, label, reading))
    return found


def read_fixes(name: str, test: list[tuple[Path, str]]) -> dict[str, str]:
    """The committed corrections of `name`: {file name: corrected label}, checked against the split."""
    path = FIXES / f"{name}.csv"
    if not path.exists():
        return {}
    labels = {p.name: label for p, label in test}
    fixes = {}
    for row in csv.DictReader(path.open()):
        if labels.get(row["file"]) != row["label"]:
            raise SystemExit(f"{path}: {row['file']} is not in the test split with label {row['label']!r}")
        fixes[row["file"]] = row["corrected"]
    return fixes


def gallery(found: list[tuple[Path, str, str]], fixes: dict[str, str], out: Path) -> None:
    """Each suspect as large as its cell allows, with its label, the readers' reading and
    whether a person confirmed it."""
    cell_w, cell_h, cols = 300, 130, 4
    sheet = Image.new("RGB", (cell_w * cols, cell_h * max(1, -(-len(found) // cols))), "white")
    pen = ImageDraw.Draw(sheet)
    for i, (path, label, reading) in enumerate(found):
        x, y = (i % cols) * cell_w, (i // cols) * cell_h
        image = Image.open(path).convert("RGB")
        scale = min((cell_w - 10) / image.width, (cell_h - 34) / image.height)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
        sheet.paste(image, (x + 5, y + 2))
        mark = "confirmed wrong" if path.name in fixes else "not confirmed"
        pen.text((x + 5, y + cell_h - 30), f"{path.name} ({mark})\nlabel {label}, both read {reading}", fill="black")
    sheet.save(out)


def check_set(folder: Path, model: str, runs: Path) -> dict:
    name = folder.name
    _, test = split(folder)
    found = suspects(test)
    fixes = read_fixes(name, test)
    gallery(found, fixes, results_dir() / f"label_noise_{name}.png")
    corrected = [(path, fixes.get(path.name, label)) for path, label in test]
    given = evaluated(model, labeled_copy(test, runs / name / "labels_given"))
    fixed = evaluated(model, labeled_copy(corrected, runs / name / "labels_corrected"))
    return {
        "test_count": len(test),
        "suspects": len(found),
        "confirmed_wrong": len(fixes),
        "ceiling": 1 - len(fixes) / len(test),
        "model": model,
        "accuracy_given_labels": given["accuracy"],
        "accuracy_corrected_labels": fixed["accuracy"],
        "errors_corrected_labels": round(fixed["count"] * (1 - fixed["accuracy"])),
    }


def table_rows(name: str, r: dict) -> list[tuple[str, str]]:
    return [
        (f"{name}: suspect labels (both readers agree on another text)", f"{r['suspects']} of {r['test_count']} test images"),
        (
            f"{name}: wrong labels confirmed by eye (label_fixes/{name}.csv)",
            f"{r['confirmed_wrong']}, ceiling {r['ceiling']:.2%}",
        ),
        (f"{name}: {r['model']}, the set's labels", f"{r['accuracy_given_labels']:.2%}"),
        (
            f"{name}: {r['model']}, the corrected labels",
            f"{r['accuracy_corrected_labels']:.2%} ({r['errors_corrected_labels']} error"
            f"{'' if r['errors_corrected_labels'] == 1 else 's'})",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", required=True, help="a shared set's name (repeatable)")
    parser.add_argument("--model", help="the model to score (default: own_data.py's run, runs/own_data/SET/all/best.pt)")
    parser.add_argument("--runs", type=Path, default=Path("runs/label_noise"), help="where the labeled copies go")
    add_datasets_option(parser)
    add_update_option(parser)
    args = parser.parse_args()
    results, table = {}, []
    for name in args.only:
        results[name] = check_set(args.datasets / name, args.model or f"runs/own_data/{name}/all/best.pt", args.runs)
        table += table_rows(name, results[name])
    title = "Wrong labels in the test splits, and the model against checked labels"
    write_results("label_noise", {"datasets": results}, table, title)


if __name__ == "__main__":
    main()
