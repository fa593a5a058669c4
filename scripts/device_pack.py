"""Pack what a pre-training burst of `general` on a lent GPU machine needs into one folder, so
that a short window (15 minutes of device time, a bare machine each time) goes to training.

    python scripts/device_pack.py --out .device --corpus runs/corpus/train.csv
    # then, with the device tool: run(command="bash .device/run.sh 8 general", carry=[".device"])

The machine has Python, PyTorch, Pillow, NumPy, tqdm and ONNX, and nothing else this project
needs: no `captcha` package, none of the font packages, no Debian fonts, no shared datasets.
The folder holds them: `site/` (the `captcha` package, pure Python), `fonts/` (the broad
style's fonts of this machine, the install's and its Debian fonts (`--font system`), the
smallest first up to --font-bytes, so that the tree that travels stays under the tool's
64 MiB), `corpus/` (the real images of a labels file from scripts/real_corpus.py, with their
labels) and `run.sh` (the training command: the sites style in those fonts beside the corpus,
bf16 on the GPU, --replay 4, a time budget; the run's best.pt, log and console output go to
$OUT). .device/ is git-ignored: name it in the device tool's `carry`.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import shutil
from pathlib import Path

from captcha_break.synth import broad_fonts

GENERAL_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
PACKAGES = ("captcha",)  # pure Python (its own font inside); the fonts/ folder holds every other font

RUN = """#!/bin/bash
# bash .device/run.sh MINUTES [INIT] [SEED] [TRAIN OPTIONS]: pre-train INIT (default general) for MINUTES on
# this machine's GPU; options after the third go to `train` as they are (they win over those below).
set -eo pipefail
MINUTES=${{1:-8}}; INIT=${{2:-general}}; SEED=${{3:-90}}; shift $(( $# < 3 ? $# : 3 ))
HERE=$(cd "$(dirname "$0")" && pwd)
export PYTHONPATH="$HERE/../src:$HERE/site${{PYTHONPATH:+:$PYTHONPATH}}" PYTHONUNBUFFERED=1
OUT=${{OUT:-/tmp/out}}; RUN=$(mktemp -d)/run; mkdir -p "$OUT"
python3 -m captcha_break train --model crnn_lite --init "$INIT" --out "$RUN" --style sites --font "$HERE/fonts" \\
  --pseudo-labels "$HERE/corpus/labels.csv" --chars {chars} --length 1-10 --color rgb --input-size 256x48 --fit pad \\
  --epoch-size 250000 --epochs 12 --schedule onecycle --lr 6e-4 --ema 0.999 --batch-size 256 --replay 4 \\
  --replay-size 1000000 --val-size 4000 --seed "$SEED" --time-budget "${{MINUTES}}m" "$@" 2>&1 | tee "$OUT/console.log"
cp "$RUN/best.pt" "$RUN/log.csv" "$RUN/config.json" "$OUT/"
"""


def pack(out: Path, corpus: Path | None, font_bytes: int) -> dict[str, int]:
    """Fill `out`; what went in, counted."""
    if out.exists():
        shutil.rmtree(out)
    (out / "site").mkdir(parents=True)
    counts = {"packages": 0, "fonts": 0, "font_bytes": 0, "corpus": 0}
    for name in PACKAGES:
        shutil.copytree(Path(importlib.util.find_spec(name).origin).parent, out / "site" / name)
        counts["packages"] += 1
    (out / "fonts").mkdir()
    for i, path in enumerate(sorted(broad_fonts(GENERAL_CHARS, system=True), key=lambda p: Path(p).stat().st_size)):
        size = Path(path).stat().st_size
        if counts["font_bytes"] + size > font_bytes:
            break
        shutil.copy(path, out / "fonts" / f"{i:04d}_{Path(path).name}")  # two sources may share a file name
        counts["fonts"] += 1
        counts["font_bytes"] += size
    if corpus:
        counts["corpus"] = _copy_corpus(corpus, out / "corpus")
    (out / "run.sh").write_text(RUN.format(chars=GENERAL_CHARS))
    return counts


def _copy_corpus(labels: Path, to: Path) -> int:
    """The images a labels file lists (absolute paths, as real_corpus.py writes), copied under
    numbered names with a labels.csv of their own."""
    to.mkdir()
    rows = []
    with labels.open(newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f)):
            source = Path(row["file"])
            name = f"{i:06d}{source.suffix}"
            shutil.copy(source, to / name)
            rows.append((name, row["label"]))
    with (to / "labels.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("file", "label"), *rows])
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(".device"))
    parser.add_argument("--corpus", type=Path, help="labels file of real images (scripts/real_corpus.py --out)")
    parser.add_argument("--font-bytes", type=float, default=18e6, help="at most this many bytes of fonts (default 18e6)")
    args = parser.parse_args()
    counts = pack(args.out, args.corpus, int(args.font_bytes))
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{args.out}: {counts}; {total / 2**20:.1f} MiB in all (the device tool carries 64 MiB with the tree)")


if __name__ == "__main__":
    main()
