"""How well can 0 and O be told apart at all in the tutorial's captchas?

    python benchmarks/look_alikes.py --train --out runs/look_alikes   # train the probe (20 min), then measure
    python benchmarks/look_alikes.py --train --budget 35m ...         # a longer probe
    python benchmarks/look_alikes.py --train --model crnn_fast ...    # the probe in another architecture
    python benchmarks/look_alikes.py --run runs/look_alikes           # measure a probe that exists
    python benchmarks/look_alikes.py --run runs/keep/gpu_probe/run --tag h100   # ... trained elsewhere

Most of what the bundled models still misread are 0 read as O and O read as 0. The captcha
library draws each character by cropping the glyph to its ink and stretching it back to the
font's whole cell (ImageCaptcha._draw_character, 0.7 and 0.3 alike), which undoes the one
clear difference between DroidSansMono's O (26 px of ink across) and 0 (24 px): what is left
is stroke weight and curvature, a few pixels after the image is shrunk to 128x64.

The probe is a model trained with the project's own `train` command on captchas drawn exactly
like the task's (same generator, size and noise) whose every character is 0 or O: all its
capacity goes to that one distinction. Its error per character is what a model of this size
and training reaches on it; the whole-captcha accuracy that error allows on the real task
(4 characters of 36, each an O or a 0 with probability 2/36) is set beside the bundled models'
own 0/O error and accuracy, measured on fresh captchas.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from common import add_update_option, pair_errors, write_results

from captcha_break.charset import DEFAULT_CHARS
from captcha_break.evaluate import evaluate
from captcha_break.recognizer import Recognizer
from captcha_break.runfolder import read_log
from captcha_break.sources import fresh_samples
from captcha_break.synth import SynthConfig

PAIR = "0O"
PROBE_RECIPE = ["--chars", PAIR, "--length", "4", "--epoch-size", "50000", "--epochs", "60",
                "--schedule", "onecycle", "--lr", "2e-3", "--val-size", "5000",
                "--workers", "1", "--threads", "1", "--seed", "5"]  # fmt: skip


def allowed_accuracy(error: float, length: int = 4, classes: int = len(DEFAULT_CHARS)) -> float:
    """Whole-captcha accuracy left when each 0/O character is misread with probability `error`
    and nothing else is ever wrong."""
    return (1 - len(PAIR) / classes * error) ** length


def measure(model: str | Path, synth: SynthConfig, count: int, seed: str) -> dict:
    recognizer = Recognizer.load(model)
    samples = fresh_samples(recognizer.spec, count, seed, synth, workers=2)
    result = evaluate(recognizer, samples, progress=False)
    wrong, total = pair_errors(samples.labels, result.predictions)
    return {"model": str(model), "style": synth.style, "count": count, "accuracy": result.scores.accuracy,
            "pair_error": wrong / total, "pair_chars": total, "pair_misread": wrong}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help="a probe run folder that exists")
    parser.add_argument("--train", action="store_true", help="train the probe into --out first")
    parser.add_argument("--out", default="runs/look_alikes")
    parser.add_argument("--count", type=int, default=10000, help="fresh captchas per measurement")
    parser.add_argument("--models", nargs="*", default=["captcha4"], help="task models to set beside the probe")
    parser.add_argument("--style", default="v07", choices=["v07", "v03"])
    parser.add_argument("--budget", default="20m", help="the probe's training time (train --time-budget)")
    parser.add_argument("--model", default="cnn_fast", help="the probe's architecture (a registered model)")
    parser.add_argument("--tag", help="a suffix for the results' name, e.g. where the probe was trained")
    add_update_option(parser)
    args = parser.parse_args()
    run = Path(args.out if args.train else args.run or parser.error("give --run RUN or --train"))
    if args.train:
        subprocess.run([sys.executable, "-m", "captcha_break", "train", "--out", str(run), "--style", args.style,
                        "--model", args.model, "--time-budget", args.budget, *PROBE_RECIPE], check=True)  # fmt: skip

    probe = measure(run / "best.pt", SynthConfig(chars=PAIR, style=args.style), args.count, "look-alikes")
    log = read_log(run / "log.csv")
    probe["minutes"] = log[-1]["elapsed"] / 60
    trained = json.loads((run / "config.json").read_text())  # how the probe was trained, --run or --train
    probe["architecture"] = trained["model"]
    # Every character of the probe's validation captchas is a 0 or an O: 1 - char_accuracy is its 0/O error.
    probe["curve"] = [(round(r["elapsed"] / 60, 1), round(1 - r["char_accuracy"], 4)) for r in log]
    probe["allows"] = allowed_accuracy(probe["pair_error"])
    models = [measure(m, SynthConfig(style=args.style), args.count, "look-alikes") for m in args.models]
    table = [(f"probe ({probe['architecture']}): 0/O misread, per 0/O character",
              f"{probe['pair_error']:.2%} of {probe['pair_chars']:,} ({probe['minutes']:.0f} min of training, `{run}`)"),
             ("probe's curve (minutes: 0/O error on its validation captchas)",
              ", ".join(f"{m}: {e:.2%}" for m, e in probe["curve"])),
             ("whole-captcha accuracy that probe error allows", f"{probe['allows']:.2%}")]  # fmt: skip
    for m in models:
        table.append((f"`{m['model']}`: 0/O misread, per 0/O character",
                      f"{m['pair_error']:.2%} of {m['pair_chars']:,} (accuracy {m['accuracy']:.2%}, "
                      f"{allowed_accuracy(m['pair_error']):.2%} allowed by its 0/O errors alone)"))  # fmt: skip
    # The probe's own config, not PROBE_RECIPE: a probe given with --run may have been trained otherwise.
    figures = {"probe": probe, "models": models, "trained": trained, "budget": f"{trained['time_budget'] / 60:g}m"}
    name = f"look_alikes_{args.style}" + ("" if probe["architecture"] == "cnn_fast" else f"_{probe['architecture']}")
    name += f"_{args.tag}" if args.tag else ""
    write_results(name, figures, table,
                  f"0 and O in captcha {args.style[1]}.{args.style[2]} (DroidSansMono)")  # fmt: skip


if __name__ == "__main__":
    main()
