"""Reference results on real labeled captchas: ../shared/datasets/{digits_wave_4,variable_upper}.

    python benchmarks/own_data.py                   # both sets (about 50 minutes on 2 cores)
    python benchmarks/own_data.py --only digits_wave_4

Each set is split once, deterministically (seed 0): 20% is the test split, never trained on
nor used for choosing weights; of the other 80%, 70 points train and 10 validate (the best
epoch is chosen on them). Each run fine-tunes the bundled default model with `captcha-break
train`, exactly as a user would; the figure is whole-string accuracy on the test split
(test_report.json), and the time is the wall time of the whole command on this machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import add_update_option, results_dir, write_results  # noqa: E402

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
COMMON = ["--init", "default", "--val-split", "0.1", "--test-split", "0.2", "--schedule", "onecycle",
          "--batch-size", "32", "--seed", "0", "--workers", "2"]  # fmt: skip
RECIPES = {
    # 240x80 palette images, dark background, 4 digits. At the default 128x64 input (16 CTC
    # frames) half the errors were doubled digits merged into one (1144 -> 144): CTC needs
    # a blank frame between them. 192x64 (the images' own aspect ratio) gives 24 frames.
    "digits_wave_4": ["--epochs", "30", "--lr", "2e-3", "--input-size", "192x64"],
    # 300-780 px wide, 4-8 characters: a wider input, the aspect ratio kept. The characters
    # differ from their neighbours and from the crossing lines mostly by colour, so the model
    # reads RGB (21.7% of the test split, against 6.5% for 256x64 grayscale). Dozens of fonts
    # and only 2,100 training images: each epoch adds as many synthetic captchas drawn like
    # them ("lines" style) in the fonts matplotlib ships (27.7%; fewer epochs fit in 30 min).
    # Pre-training 16 min on such captchas alone before this recipe gave 29.3%: not worth
    # its time.
    "variable_upper": ["--epochs", "20", "--lr", "2e-3", "--input-size", "384x64", "--fit", "pad", "--color", "rgb",
                       "--mix-synthetic", "2000", "--style", "lines", "--font", "{fonts}"],
}  # fmt: skip
# matplotlib's fonts that draw ordinary digits and letters (its other fonts are symbols).
FONTS = [*(f"DejaVu{f}.ttf" for f in ("Sans", "Sans-Bold", "Sans-BoldOblique", "Sans-Oblique", "SansMono",
         "SansMono-Bold", "SansMono-BoldOblique", "SansMono-Oblique", "Serif", "Serif-Bold", "Serif-BoldItalic",
         "Serif-Italic")), "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralBolIta.ttf", "STIXGeneralItalic.ttf",
         "cmb10.ttf", "cmr10.ttf", "cmss10.ttf", "cmti10.ttf", "cmtt10.ttf"]  # fmt: skip
TARGETS = {"digits_wave_4": 0.98, "variable_upper": 0.97}


def font_folder(runs: Path) -> Path:
    """A folder of FONTS (copies of matplotlib's), for the recipes' synthetic captchas."""
    import matplotlib

    source = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"
    folder = runs / "fonts"
    folder.mkdir(parents=True, exist_ok=True)
    for name in FONTS:
        shutil.copy(source / name, folder / name)
    return folder


def train(name: str, out: Path, datasets: Path) -> float:
    """Train `name` into `out`; the wall seconds it took."""
    recipe = RECIPES[name]
    if "{fonts}" in recipe:
        fonts = str(font_folder(out.parent))
        recipe = [fonts if arg == "{fonts}" else arg for arg in recipe]
    cmd = ["captcha-break", "train", "--data", str(datasets / name), "--out", str(out), *COMMON, *recipe]
    print("$ " + " ".join(cmd), flush=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "captcha_break", *cmd[1:]], check=True)
    seconds = time.perf_counter() - start
    (out / "command.txt").write_text(" ".join(cmd) + f"\n# wall time {seconds:.0f} s\n")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(RECIPES), action="append")
    parser.add_argument("--runs", default="runs/own_data", help="where the runs go")
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--reuse", action="store_true", help="report runs already in --runs instead of training")
    add_update_option(parser)
    args = parser.parse_args()
    previous = results_dir() / "own_data.json"  # a run of one set keeps the other's figures
    results = json.loads(previous.read_text())["datasets"] if previous.exists() else {}
    for name in args.only or sorted(RECIPES):
        out = Path(args.runs) / name
        if args.reuse:
            seconds = float(out.joinpath("command.txt").read_text().split("wall time ")[1].split()[0])
        else:
            seconds = train(name, out, args.datasets)
        report = json.loads((out / "test_report.json").read_text())
        results[name] = {
            "command": out.joinpath("command.txt").read_text().splitlines()[0],
            "train_minutes": seconds / 60,
            "test_accuracy": report["accuracy"],
            "test_cer": report["cer"],
            "test_count": report["count"],
            "accuracy_by_length": report.get("accuracy_by_length"),
            "target": TARGETS[name],
        }
    table = [
        (
            name,
            f"{r['test_accuracy']:.2%} of {r['test_count']} test images (CER {r['test_cer']:.2%}), "
            f"{r['train_minutes']:.1f} min; target {r['target']:.0%} in 30 min",
        )
        for name, r in results.items()
    ]
    write_results("own_data", {"datasets": results}, table, "Own data: fine-tuned on 80%, tested on the other 20%")


if __name__ == "__main__":
    main()
