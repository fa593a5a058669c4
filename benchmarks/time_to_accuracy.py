"""Time to accuracy: wall time (data generation included) vs held-out whole-captcha accuracy.

    python benchmarks/time_to_accuracy.py --run runs/crnn_fast        # a run that exists
    python benchmarks/time_to_accuracy.py --train --out runs/tta --name time_to_accuracy_15min_cnn_lite
                                            # train the 15-minute recipe now
    python benchmarks/time_to_accuracy.py --train --out runs/tta60 --name time_to_accuracy_60min_cnn_lite \
        --epochs 20 --time-budget 58m       # the recipe with other `captcha-break train` options

The curve comes from the run's log.csv: after each epoch, accuracy on the run's validation
captchas (fresh, never trained on) against `elapsed`, the wall time since the run began.
The final figure is the best checkpoint on --count further fresh captchas (another seed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import add_update_option, results_dir, write_results

from captcha_break.evaluate import evaluate
from captcha_break.recognizer import Recognizer
from captcha_break.runfolder import read_log
from captcha_break.sources import fresh_samples
from captcha_break.synth import SynthConfig

# The 15-minute recipe; the README's figures come from it. cnn_lite trains on fresh captchas
# (one process draws, one trains): 95.77% of 10,000 at 12.1 min, against 94.52% at 13.3 min for
# crnn_lite and 91.73% at 14.5 min for the first recipe (crnn_fast, 96x48, a 60,000 set reused
# four times): results/time_to_accuracy_15min_*.md. Drawing limits it: one process draws about
# 430 captchas/s, under what cnn_lite trains on one thread.
FAST_RECIPE = ["--model", "cnn_lite", "--style", "mixed", "--input-size", "128x64", "--schedule", "onecycle",
               "--epoch-size", "70000", "--epochs", "6", "--time-budget", "14m", "--lr", "2e-3", "--batch-size", "64",
               "--val-size", "5000", "--workers", "1", "--threads", "1", "--seed", "4"]  # fmt: skip


def minutes_to(log: list[dict], target: float) -> float | None:
    for row in log:
        if row["accuracy"] >= target:
            return row["elapsed"] / 60
    return None


def plot(log: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([r["elapsed"] / 60 for r in log], [r["accuracy"] * 100 for r in log], marker="o", label="held-out accuracy")
    for y, style in ((99.0, "--"), (99.7, ":")):
        ax.axhline(y, color="gray", linestyle=style, linewidth=1, label=f"{y}% target")
    for x, style in ((15, "--"), (60, ":")):
        ax.axvline(x, color="red", linestyle=style, linewidth=0.8, label=f"{x} minutes")
    ax.set(
        xlabel="wall time, minutes (data generation included)",
        ylabel="whole-captcha accuracy, %",
        title=title,
        ylim=(max(0, min(r["accuracy"] * 100 for r in log) - 5), 100.2),
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train_cold(run: Path, extra: list[str]) -> None:
    """Train FAST_RECIPE (+ `extra` options) into `run` with an empty data cache, so drawing
    the captchas is timed too."""
    with tempfile.TemporaryDirectory(prefix="tta-cache-") as cache:
        env = {**os.environ, "CAPTCHA_BREAK_CACHE": cache}
        cmd = [sys.executable, "-m", "captcha_break", "train", "--out", str(run), *FAST_RECIPE, *extra]
        subprocess.run(cmd, check=True, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", help="an existing run folder to summarise")
    parser.add_argument("--train", action="store_true", help="train FAST_RECIPE into --out first")
    parser.add_argument("--out", default="runs/tta")
    parser.add_argument("--count", type=int, default=10_000, help="fresh captchas for the final figure")
    parser.add_argument("--name", default="time_to_accuracy")
    add_update_option(parser)
    args, extra = parser.parse_known_args()  # the rest goes to `captcha-break train`
    if extra and not args.train:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    run = Path(args.out if args.train else args.run or parser.error("give --run or --train"))
    if args.train:
        train_cold(run, extra)
    log = read_log(run / "log.csv")
    recognizer = Recognizer.load(run / "best.pt", device="cpu")
    final = evaluate(
        recognizer, fresh_samples(recognizer.spec, args.count, "bench-tta", SynthConfig(), workers=2), progress=False
    )
    curve = [{"minutes": r["elapsed"] / 60, "accuracy": r["accuracy"], "epoch": int(r["epoch"])} for r in log]
    data = {
        "run": str(run),
        "train_options": " ".join([*FAST_RECIPE, *extra]) if args.train else None,
        "curve": curve,
        "minutes_to_99.0": minutes_to(log, 0.99),
        "minutes_to_99.7": minutes_to(log, 0.997),
        "total_minutes": log[-1]["elapsed"] / 60,
        "final_accuracy": final.scores.accuracy,
        "final_char_accuracy": final.scores.char_accuracy,
        "final_count": final.scores.count,
    }
    plot(log, results_dir() / f"{args.name}.png", f"{run.name}: time to accuracy, 2 CPU cores")

    def fmt(m):
        return "not reached" if m is None else f"{m:.1f} min"

    table = [
        ("run", str(run) + (f" (`captcha-break train {data['train_options']}`)" if args.train else "")),
        ("wall time, whole run", f"{data['total_minutes']:.1f} min"),
        ("time to 99.0% (held-out, per epoch)", fmt(data["minutes_to_99.0"])),
        ("time to 99.7%", fmt(data["minutes_to_99.7"])),
        (
            "best checkpoint on fresh captchas",
            f"{final.scores.accuracy:.2%} of {final.scores.count} (chars {final.scores.char_accuracy:.2%})",
        ),
        ("curve (minutes: accuracy)", ", ".join(f"{c['minutes']:.1f}: {c['accuracy']:.2%}" for c in curve)),
    ]
    write_results(args.name, data, table, "Time to accuracy")


if __name__ == "__main__":
    main()
