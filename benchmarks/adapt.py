"""Label-free adaptation on sites no bundled model saw: `general` out of the box against the
model `train --unlabeled` adapted to each site's unlabeled images.

    python benchmarks/adapt.py --datasets DIR [--only SITE] [--budget 6m] [--update]

Each held-out site (benchmarks/held_out.py's list) is split by a hash of the file name: 70%
are the site's unlabeled images (their labels never read), 30% are scored. The adaptation
runs as a user runs it, `captcha-break train --unlabeled FOLDER --out RUN --chars ALPHABET
--length LENGTHS --time-budget BUDGET`, on a folder of links to the 70%; then both models
read the 30% held to the site's alphabet and lengths (case-insensitively where the site
ignores case). This is the general-reader issue's target 2.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from common import add_datasets_option, add_update_option, alphabet, held_out_sites, write_results

from captcha_break.cli import main as cli
from captcha_break.labels import scan_folder
from captcha_break.metrics import score
from captcha_break.recognizer import Recognizer

RUNS = Path(__file__).resolve().parents[1] / "runs" / "bench_adapt"
ADAPT_SHARE = 0.7


def split(items: list[tuple[Path, str]]) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """(to adapt on, to score), by a hash of each file name."""
    adapt, scored = [], []
    for path, label in items:
        share = int.from_bytes(hashlib.sha256(path.name.encode()).digest()[:4], "big") / 2**32
        (adapt if share < ADAPT_SHARE else scored).append((path, label))
    return adapt, scored


def read(model: str, items, chars: str, lengths: tuple[int, int], fold: bool) -> dict:
    recognizer = Recognizer.load(model, fold_case=fold, only_chars=chars, only_length=lengths)
    preds = [p.text for p in recognizer.predict([path for path, _ in items])]
    truths = [label.upper() if fold else label for _, label in items]
    s = score(truths, preds)
    return {"accuracy": s.accuracy, "char_accuracy": s.char_accuracy, "count": s.count}


def adapt_site(folder: Path, fold: bool, budget: str) -> dict:
    items = scan_folder(folder).items
    chars, upper_only, lengths = alphabet(items)
    fold = fold or upper_only
    to_adapt, scored = split(items)
    site = RUNS / folder.name
    unlabeled = site / "unlabeled"
    unlabeled.mkdir(parents=True, exist_ok=True)
    for path, _ in to_adapt:  # links: the labels stay behind
        link = unlabeled / path.name
        if not link.is_symlink():
            link.symlink_to(path.resolve())
    run = site / "run"
    length = f"{lengths[0]}-{lengths[1]}"
    # No --fold-case: the readings keep the case the model reads in (the labels' alphabet);
    # case is folded only when they are scored, as the site compares them.
    args = ["train", "--unlabeled", str(unlabeled), "--out", str(run), "--chars", chars, "--length", length,
            "--time-budget", budget]  # fmt: skip
    if not (run / "adapt_report.json").exists():
        code = cli(args)
        if code:
            return {"error": f"captcha-break {' '.join(args)} exited {code}"}
    return {
        "images_adapted_on": len(to_adapt),
        "general": read("general", scored, chars, lengths, fold),
        "adapted": read(str(run / "best.pt"), scored, chars, lengths, fold),
        "command": "captcha-break " + " ".join(args),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_datasets_option(parser)
    parser.add_argument("--only", action="append", help="a site's folder name (repeatable; default: every held-out site)")
    parser.add_argument("--budget", default="6m", help="each adaptation's --time-budget (default: 6m)")
    add_update_option(parser)
    args = parser.parse_args()
    results = {}
    for folder, fold in held_out_sites(args.datasets).items():
        if args.only and Path(folder).name not in args.only:
            continue
        results[Path(folder).name] = adapt_site(Path(folder), fold, args.budget)
        print(Path(folder).name, results[Path(folder).name], flush=True)
    table = []
    for site, r in results.items():
        if "error" in r:
            table.append((site, r["error"]))
            continue
        table.append((f"{site}: general, out of the box", f"{r['general']['accuracy']:.2%} of {r['general']['count']}"))
        table.append((f"{site}: adapted to {r['images_adapted_on']} unlabeled images", f"{r['adapted']['accuracy']:.2%}"))
    done = [r for r in results.values() if "error" not in r]
    if done:
        for who in ("general", "adapted"):
            mean = sum(r[who]["accuracy"] for r in done) / len(done)
            table.append((f"mean over {len(done)} sites: {who}", f"{mean:.2%}"))
    write_results("adapt", {"sites": results, "budget": args.budget}, table, "Label-free adaptation on held-out sites")


if __name__ == "__main__":
    main()
