"""Reading real captchas with no training at all: the bundled models beside ddddocr.

    python benchmarks/out_of_box.py [--datasets DIR] [--model general --model default] [--reuse-ddddocr]

For every labeled folder under --datasets (default: the shared sets of this workspace),
each model reads every image as installed (case-sensitive), with --fold-case, and as a
user who knows the site's alphabet would run it: `--only-chars` with the characters the
labels use (and --fold-case where they have no lower case), then also `--only-length`
with the labels' lengths. ddddocr 1.6.1 (the `bench` extra) reads the same files, its
answers compared case-insensitively (it reads lower case), as installed and held to the
same alphabet and lengths (its own probabilities decoded by our decoder over those
characters only: better than its `set_ranges`, which drops other characters after the
fact; it has no length option of its own). --reuse-ddddocr takes ddddocr's figures from
the committed results instead of reading every set again (its model does not change; it
is most of this benchmark's time); a reading not committed yet is still made.
The share of images read right is also what the labeling tool saves: the
share of pre-filled guesses a user only has to confirm with Enter.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import RESULTS, add_datasets_option, add_update_option, alphabet, length_option, write_results
from readers import Way, ddddocr_within, read_with

from captcha_break.assets import bundled_names
from captcha_break.labels import scan_folder
from captcha_break.metrics import score


def read_with_ddddocr(
    items: list[tuple[Path, str]], only_chars: str | None = None, only_length: tuple[int, int] | None = None
) -> dict:
    try:
        import ddddocr
    except ImportError:
        return {"skipped": "ddddocr not installed (pip install '.[bench]')"}
    ocr = ddddocr.DdddOcr(show_ad=False)
    start = time.perf_counter()
    if only_chars:
        preds = [ddddocr_within(ocr, path.read_bytes(), only_chars, only_length) for path, _ in items]
    else:
        preds = [ocr.classification(path.read_bytes()).upper() for path, _ in items]
    seconds = time.perf_counter() - start
    s = score([label.upper() for _, label in items], preds)
    return {"accuracy": s.accuracy, "char_accuracy": s.char_accuracy, "count": s.count, "ms_per_image": 1000 * seconds / s.count}


def previous_ddddocr(name: str, count: int) -> dict:
    """ddddocr's committed figures on the set `name`, where they cover all `count` images."""
    path = RESULTS / "out_of_box.json"
    previous = json.loads(path.read_text())["datasets"].get(name, {}) if path.exists() else {}
    return {k: v for k, v in previous.items() if k.startswith("ddddocr") and v.get("count") == count}


def _figure(r: dict) -> str:
    return f"{r['accuracy']:.2%} of {r['count']} (chars {r['char_accuracy']:.2%})" if "accuracy" in r else r["skipped"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_datasets_option(parser)
    parser.add_argument("--model", action="append", help="bundled model names or files (default: every bundled model)")
    parser.add_argument("--reuse-ddddocr", action="store_true", help="ddddocr's figures from the committed results")
    add_update_option(parser)
    args = parser.parse_args()
    models = args.model or bundled_names()
    results: dict[str, dict] = {}
    for folder in sorted(p for p in args.datasets.iterdir() if p.is_dir()):
        items = scan_folder(folder).items
        if not items:  # real_sites/ holds sites, not images: benchmarks/held_out.py reads them
            continue
        chars, upper_only, lengths = alphabet(items)
        held = f"--only-chars {chars}" + (" --fold-case" if upper_only else "")
        sized = f"{held} {length_option(lengths)}"
        entry = results[folder.name] = previous_ddddocr(folder.name, len(items)) if args.reuse_ddddocr else {}
        for option, only_chars, only_length in (("", None, None), (f" {held}", chars, None), (f" {sized}", chars, lengths)):
            name = f"ddddocr 1.6.1 (case-insensitive){option}"
            if name not in entry:  # committed readings are reused with --reuse-ddddocr
                entry[name] = read_with_ddddocr(items, only_chars, only_length)
        for model in models:
            ways: list[Way] = [
                (model, False, None, None), (f"{model} --fold-case", True, None, None),
                (f"{model} {held}", upper_only, chars, None), (f"{model} {sized}", upper_only, chars, lengths),
            ]  # fmt: skip
            entry.update(read_with(model, folder, ways))
    table = [(f"{name}: {reader}", _figure(r)) for name, readers in results.items() for reader, r in readers.items()]
    write_results("out_of_box", {"datasets": results}, table, "Real captchas read out of the box (no training)")


if __name__ == "__main__":
    main()
