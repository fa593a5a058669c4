"""What every benchmark shares: where results go, how they are written, and stopping.

Results go to runs/bench/DATE-TIME/ unless the command says --update, which rewrites the
committed figures in benchmarks/results/. A benchmark stopped with Ctrl-C or SIGTERM stops
the processes it started (training runs, the server) too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import sys
import time
from pathlib import Path

from captcha_break.charset import Charset

RESULTS = Path(__file__).parent / "results"  # the committed figures
NEW_RESULTS = Path(__file__).parent.parent / "runs" / "bench" / time.strftime("%Y%m%d-%H%M%S")


def datasets_folder() -> Path | None:
    """Where the real labeled captchas are: $CAPTCHA_BREAK_DATASETS, else a `shared/datasets`
    beside the checkout (this project's workspace), else None (the script asks for --datasets)."""
    given = os.environ.get("CAPTCHA_BREAK_DATASETS")
    if given:
        return Path(given)
    beside = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    return beside if beside.is_dir() else None


def add_datasets_option(parser: argparse.ArgumentParser) -> None:
    """--datasets DIR, defaulting to datasets_folder(); required where there is none."""
    found = datasets_folder()
    parser.add_argument(
        "--datasets", type=Path, default=found, required=found is None,
        help="the datasets folder (default: $CAPTCHA_BREAK_DATASETS, or the workspace's shared sets)",
    )  # fmt: skip


def add_update_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--update",
        action="store_true",
        help=f"rewrite the committed results in {RESULTS} (default: a new folder under runs/bench/)",
    )


def results_dir() -> Path:
    """Where this run writes: the committed results with --update, else a new folder."""
    folder = RESULTS if "--update" in sys.argv[1:] else NEW_RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _stop(signum, _frame):
    # An exception, so that `finally` blocks and subprocess.run kill the children.
    raise KeyboardInterrupt(f"stopped by signal {signum}")


signal.signal(signal.SIGTERM, _stop)


def cpu_model() -> str:
    """The CPU's model name and whether it computes bf16 (the runs' precision follows it):
    this project's machines change between sessions, and so do its figures."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    names = [line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")]
    bf16 = "with" if ("avx512_bf16" in info or "amx_bf16" in info) else "without"
    return f"{names[0] if names else platform.machine()}, {bf16} BF16"


def machine() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "processor": cpu_model(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def write_results(name: str, data: dict, table: list[tuple[str, str]], title: str) -> Path:
    """NAME.json (all figures) and NAME.md (a short table) in results_dir()."""
    folder = results_dir()
    data = {**data, "machine": machine()}
    (folder / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    lines = [f"### {title}", "", "| measure | value |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in table), ""]
    m = data["machine"]
    lines.append(f"_{m['cpu_count']} CPU cores ({m['processor']}), Python {m['python']}, {m['date']}_\n")
    path = folder / f"{name}.md"
    path.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"(written to {folder})")
    return path


# --- the real sets ------------------------------------------------------------------------

_ROW = re.compile(r"^\|\s*`(\w+)`\s*\|\s*\**held out\**\s*\|(?:[^|]*\|){4}\s*([^|]*?)\s*\|")
SINGLE_HELD_OUT = ("variable_upper",)  # no licence stated: measured, never trained on


def held_out_sites(datasets: Path) -> dict[str, bool]:
    """{site folder: whether the site ignores case}, from real_sites/README.md's table."""
    sites = {}
    for line in (datasets / "real_sites" / "README.md").read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match:
            sites[str(datasets / "real_sites" / match.group(1))] = match.group(2).startswith("fold")
    for name in SINGLE_HELD_OUT:
        if (datasets / name).is_dir():
            sites[str(datasets / name)] = False
    return sites


def alphabet(items: list[tuple[Path, str]]) -> tuple[str, bool, tuple[int, int]]:
    """(the characters the set's labels use, whether they have no lower case, their
    shortest and longest length)."""
    labels = [label for _, label in items]
    chars = Charset.from_labels(labels).chars
    return chars, chars == chars.upper(), (min(map(len, labels)), max(map(len, labels)))


def length_option(lengths: tuple[int, int]) -> str:
    return f"--only-length {lengths[0]}" + (f"-{lengths[1]}" if lengths[1] != lengths[0] else "")


def pair_errors(truths: list[str], preds: list[str], pair: str = "0O") -> tuple[int, int]:
    """(characters of `pair` misread as the other one, characters of `pair` in the truths), position by
    position where the lengths agree (a length error is not a look-alike error)."""
    wrong = total = 0
    for truth, pred in zip(truths, preds):
        for t, p in zip(truth, pred if len(pred) == len(truth) else truth):
            if t in pair:
                total += 1
                wrong += p in pair and p != t
    return wrong, total
