"""Real labeled captchas: the plain command, and how many labels it needs.

    python benchmarks/own_data.py                          # every set, all labels: 30 min each
    python benchmarks/own_data.py --only digits_wave_4 --labels 100 300 1000 all
    python benchmarks/own_data.py --datasets DIR           # folders of labeled captchas
    python benchmarks/own_data.py --datasets ../shared/datasets/real_sites --only lzu_jwk --labels 100 --result own_data_held_out

For each set (a folder of labeled images under --datasets), with all its labels:

    captcha-break train --data SET --out RUN --time-budget 30m

exactly as a user would type it: the command chooses everything else (with this budget, two
fine-tunes averaged: `--soup 2`) and holds out its 20% test split (seed 0, a fixed rule);
the figure is whole-string accuracy on that split (test_report.json), the time the wall
time of the whole command. For the label-count curve (--labels 100 300 ...), N images are
drawn (seed 0) from the other 80% into a folder of their own and the same command trains
on them with `--test-split 0` (all N train or validate); the model is then scored on the
same 20% test split with `captcha-break evaluate`. The misread test images of each set's
all-labels run go to own_data_errors_SET.png. Notes on earlier recipes are in
docs/own_data_notes.md (the diary of what was tried).

The figures are written after every run, and each run leaves its own in RUN/benchmark.json:
with --resume, a benchmark that was stopped reuses the runs that finished and starts the
unfinished one again (a time-budgeted run cannot be resumed fairly).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import add_datasets_option, add_update_option
from plain_runs import run_sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_datasets_option(parser)
    parser.add_argument("--only", action="append", help="this set only (repeatable)")
    parser.add_argument("--labels", nargs="+", default=["all"], help="label counts for the curve: numbers and/or all")
    parser.add_argument("--runs", type=Path, default=Path("runs/own_data"))
    parser.add_argument("--resume", action="store_true", help="reuse the runs a stopped benchmark finished; redo the rest")
    parser.add_argument("--result", default="own_data", help="the figures' file name in the results folder (default: own_data)")
    add_update_option(parser)
    args = parser.parse_args()
    names = args.only or sorted(p.name for p in args.datasets.iterdir() if p.is_dir())
    run_sets(args.datasets, names, args.labels, args.runs, args.result, "Own data: the plain command, 20% test split",
             resume=args.resume)  # fmt: skip


if __name__ == "__main__":
    main()
