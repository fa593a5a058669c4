"""Reading real captchas with no training at all: the bundled models beside ddddocr.

    python benchmarks/out_of_box.py [--datasets DIR] [--model general --model default]

For every labeled folder under --datasets (default: the shared sets of this workspace),
each model reads every image as installed, case-sensitive and with --fold-case; ddddocr
1.6.1 (the `bench` extra) reads the same files, its answers compared case-insensitively
(it reads lower case). The share of images read right is also what the labeling tool
saves: the share of pre-filled guesses a user only has to confirm with Enter.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import add_update_option, write_results  # noqa: E402

from captcha_break.assets import bundled_names  # noqa: E402
from captcha_break.labels import scan_folder  # noqa: E402
from captcha_break.metrics import score  # noqa: E402
from captcha_break.recognizer import Recognizer  # noqa: E402
from captcha_break.sources import labeled_samples  # noqa: E402
from captcha_break.synth import SynthConfig  # noqa: E402

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def read_with(model: str, folder: Path, fold_case: bool) -> dict:
    recognizer = Recognizer.load(model, threads=2, fold_case=fold_case)
    # Labels outside the model's charset stay in: a model that cannot read them is wrong there.
    samples = labeled_samples(recognizer.spec, SynthConfig(), str(folder), fold_case=fold_case, workers=2)
    start = time.perf_counter()
    preds = [p.text for p in recognizer.predict_pixels(samples.pixels)]
    seconds = time.perf_counter() - start
    s = score(samples.labels, preds)
    return {"accuracy": s.accuracy, "char_accuracy": s.char_accuracy, "count": s.count, "ms_per_image": 1000 * seconds / s.count}


def read_with_ddddocr(folder: Path) -> dict:
    try:
        import ddddocr
    except ImportError:
        return {"skipped": "ddddocr not installed (pip install '.[bench]')"}
    ocr = ddddocr.DdddOcr(show_ad=False)
    items = scan_folder(folder).items
    start = time.perf_counter()
    preds = [ocr.classification(path.read_bytes()).upper() for path, _ in items]
    seconds = time.perf_counter() - start
    s = score([label.upper() for _, label in items], preds)
    return {"accuracy": s.accuracy, "char_accuracy": s.char_accuracy, "count": s.count, "ms_per_image": 1000 * seconds / s.count}


def _figure(r: dict) -> str:
    return f"{r['accuracy']:.2%} of {r['count']} (chars {r['char_accuracy']:.2%})" if "accuracy" in r else r["skipped"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--model", action="append", help="bundled model names or files (default: every bundled model)")
    add_update_option(parser)
    args = parser.parse_args()
    models = args.model or bundled_names()
    results: dict[str, dict] = {}
    for folder in sorted(p for p in args.datasets.iterdir() if p.is_dir()):
        entry = results[folder.name] = {"ddddocr 1.6.1 (case-insensitive)": read_with_ddddocr(folder)}
        for model in models:
            for fold in (False, True):
                entry[f"{model}{' --fold-case' if fold else ''}"] = read_with(model, folder, fold)
    table = [(f"{name}: {reader}", _figure(r)) for name, readers in results.items() for reader, r in readers.items()]
    write_results("out_of_box", {"datasets": results}, table, "Real captchas read out of the box (no training)")


if __name__ == "__main__":
    main()
