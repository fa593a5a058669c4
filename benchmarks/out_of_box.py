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
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, add_update_option, datasets_folder, write_results  # noqa: E402

from captcha_break.assets import bundled_names  # noqa: E402
from captcha_break.charset import Charset  # noqa: E402
from captcha_break.decoding import greedy_decode  # noqa: E402
from captcha_break.evaluate import read_samples  # noqa: E402
from captcha_break.labels import scan_folder  # noqa: E402
from captcha_break.metrics import score  # noqa: E402
from captcha_break.recognizer import Recognizer  # noqa: E402
from captcha_break.sources import labeled_samples  # noqa: E402
from captcha_break.synth import SynthConfig  # noqa: E402

DATASETS = datasets_folder()  # $CAPTCHA_BREAK_DATASETS, or the workspace's shared sets


def alphabet(items: list[tuple[Path, str]]) -> tuple[str, bool, tuple[int, int]]:
    """(the characters the set's labels use, whether they have no lower case, their
    shortest and longest length)."""
    labels = [label for _, label in items]
    chars = "".join(sorted(set("".join(labels))))
    return chars, chars == chars.upper(), (min(map(len, labels)), max(map(len, labels)))


def length_option(lengths: tuple[int, int]) -> str:
    return f"--only-length {lengths[0]}" + (f"-{lengths[1]}" if lengths[1] != lengths[0] else "")


Way = tuple[str, bool, str | None, tuple[int, int] | None]  # name, fold_case, only_chars, only_length


def read_with(model: str, folder: Path, ways: list[Way]) -> dict[str, dict]:
    """{name: figures} for each way of reading the set; its images are decoded once for
    them all."""
    spec = Recognizer.load(model).spec
    # Labels outside the model's charset stay in: a model that cannot read them is wrong there.
    samples = labeled_samples(spec, SynthConfig(), str(folder), workers=2)
    figures = {}
    for name, fold_case, only_chars, only_length in ways:
        recognizer = Recognizer.load(model, threads=2, fold_case=fold_case, only_chars=only_chars, only_length=only_length)
        decoded, seconds = read_samples(recognizer, samples, folder=folder)  # wide images at their width
        preds = [p.text for p in decoded]
        s = score([label.upper() for label in samples.labels] if fold_case else samples.labels, preds)
        figures[name] = {"accuracy": s.accuracy, "char_accuracy": s.char_accuracy, "count": s.count,
                         "ms_per_image": 1000 * seconds / s.count}  # fmt: skip
    return figures


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
        preds = [_ddddocr_within(ocr, path.read_bytes(), only_chars, only_length) for path, _ in items]
    else:
        preds = [ocr.classification(path.read_bytes()).upper() for path, _ in items]
    seconds = time.perf_counter() - start
    s = score([label.upper() for _, label in items], preds)
    return {"accuracy": s.accuracy, "char_accuracy": s.char_accuracy, "count": s.count, "ms_per_image": 1000 * seconds / s.count}


def _ddddocr_within(ocr, image: bytes, chars: str, lengths: tuple[int, int] | None) -> str:
    """ddddocr's reading held to `chars` (either case) and `lengths` by our own decoder."""
    result = ocr.classification(image, probability=True)
    charset, allowed = result["charset"], set(chars.upper())
    columns = [0] + [i for i, c in enumerate(charset) if c and c.upper() in allowed]  # 0: ddddocr's blank
    probs = np.asarray(result["probabilities"], dtype=np.float32).reshape(-1, len(charset))[:, columns]
    kept = Charset("".join(charset[i] for i in columns[1:]))
    return greedy_decode(probs[None], kept, "ctc", lengths)[0].text.upper()


def previous_ddddocr(name: str, count: int) -> dict:
    """ddddocr's committed figures on the set `name`, where they cover all `count` images."""
    path = RESULTS / "out_of_box.json"
    previous = json.loads(path.read_text())["datasets"].get(name, {}) if path.exists() else {}
    return {k: v for k, v in previous.items() if k.startswith("ddddocr") and v.get("count") == count}


def _figure(r: dict) -> str:
    return f"{r['accuracy']:.2%} of {r['count']} (chars {r['char_accuracy']:.2%})" if "accuracy" in r else r["skipped"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--model", action="append", help="bundled model names or files (default: every bundled model)")
    parser.add_argument("--reuse-ddddocr", action="store_true", help="ddddocr's figures from the committed results")
    add_update_option(parser)
    args = parser.parse_args()
    models = args.model or bundled_names()
    results: dict[str, dict] = {}
    for folder in sorted(p for p in args.datasets.iterdir() if p.is_dir()):
        items = scan_folder(folder).items
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
