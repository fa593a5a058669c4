"""Bundle a trained run as a packaged model: ONNX file + model card + training log.

    python scripts/bundle_model.py runs/crnn_fast captcha4 --command "captcha-break train ..."
    python scripts/bundle_model.py runs/captcha4_more captcha4 --extends --command "captcha-break train --init captcha4 ..."

Exports RUN/best.pt to src/captcha_break/assets/NAME.onnx (and NAME.pt, for fine-tuning), measures the exported file on
fresh captchas (a model of the tutorial's task: captcha 0.7, and captcha 0.3's stronger
warps; a broad model: captchas of its own broad style, and captcha 0.7 read
case-insensitively), and writes beside it NAME.md (the model card: command, training time,
hardware, accuracy, size, and with --out-of-box the table of real captchas read without
training) and NAME.log.csv (the run's per-epoch log). The card's figures also go into the
ONNX metadata, where `GET /models` reads them.
To change a bundled card later (its out-of-box table, a note) without exporting again:
scripts/update_card.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import tempfile
from pathlib import Path

from captcha_break.assets import ASSETS
from captcha_break.checkpoint import load_checkpoint, save_checkpoint
from captcha_break.config import FITS, INT8_MODES, WEIGHT_FORMATS
from captcha_break.evaluate import evaluate
from captcha_break.export import export_onnx
from captcha_break.fonts import font_report
from captcha_break.preprocess import CROP_BELOW
from captcha_break.recognizer import Recognizer
from captcha_break.runfolder import one_clock, read_log, write_log
from captcha_break.sources import fresh_samples
from captcha_break.synth import BROAD_STYLES, SynthConfig


def card_sets(train_config: dict) -> list[tuple[str, SynthConfig, bool]]:
    """(what, captchas, read case-insensitively): the model's own task first, the figure
    the card leads with and the bundled-model tests check. A model of the broad styles (broad,
    sites) is measured on broad, the yardstick its earlier cards used."""
    if train_config.get("style") not in BROAD_STYLES:
        return [("captcha 0.7", SynthConfig(style="v07"), False), ("captcha 0.3", SynthConfig(style="v03"), False)]
    own = SynthConfig.from_options(
        train_config["chars"], train_config["length"], (train_config["image_width"], train_config["image_height"]), "broad"
    )
    return [("its own broad style", own, False), ("captcha 0.7, case-insensitive", SynthConfig(style="v07"), True)]


def measure(model: Path, count: int, sets: list[tuple[str, SynthConfig, bool]]) -> list[dict]:
    figures = []
    for about, synth, fold_case in sets:  # the same count of each
        recognizer = Recognizer.load(model, fold_case=fold_case)
        samples = fresh_samples(recognizer.spec, count, f"card-{synth.style}", synth, workers=2, also=recognizer.views[1:])
        result = evaluate(recognizer, samples, progress=False)
        figures.append({"about": about, "accuracy": result.scores.accuracy, "char_accuracy": result.scores.char_accuracy,
                        "count": count, "seed": f"card-{synth.style}"})  # fmt: skip
    return figures


def out_of_box_rows(path: Path, name: str) -> list[tuple[str, str, str]]:
    """(set, reader, figure) for this model and ddddocr, from benchmarks/out_of_box.py's JSON."""
    rows = []
    for dataset, readers in json.loads(path.read_text())["datasets"].items():
        for reader, r in readers.items():
            if (reader.startswith("ddddocr") or reader.split()[0] == name) and "accuracy" in r:
                rows.append((dataset, reader, f"{r['accuracy']:.2%} (chars {r['char_accuracy']:.2%})"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run")
    parser.add_argument("name")
    parser.add_argument("--command", required=True, help="the train command that made the run, for the card")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument(
        "--prior-run",
        help="the run this one was fine-tuned from (train --init): its epochs and time are counted in; "
        "or its log.csv, e.g. the bundled NAME.log.csv when that model was itself fine-tuned from another",
    )
    parser.add_argument(
        "--extends",
        action="store_true",
        help="the run continues the bundled NAME (train --init NAME): the new card keeps that card's command, hardware "
        "and notes, with this run's after them, and counts in that model's log (the default --prior-run)",
    )
    parser.add_argument("--int8", choices=INT8_MODES, default="none", help="int8 arithmetic (export.py); static: calibrated")
    parser.add_argument("--note", help="anything the card should say about how the run went (pauses, restarts)")
    parser.add_argument("--weights", choices=WEIGHT_FORMATS, default="fp32", help="weight storage (export.py)")
    parser.add_argument(
        "--hardware", help="where the run trained, for a run made on another machine (default: this machine's CPU)"
    )
    parser.add_argument("--out-of-box", type=Path, help="benchmarks/results/out_of_box.json: its table goes on the card")
    parser.add_argument(
        "--fit",
        choices=(*FITS, "both"),
        help="read images with this fit, not the one the run trained with (e.g. crop for "
        "a padded model); both: padded and cropped, the surer reading kept (Recognizer's fit, the file's read_fits)",
    )
    args = parser.parse_args()
    prior_card = bundled_card(args.name) if args.extends else None  # read before the files are replaced
    if args.extends and not args.prior_run:
        args.prior_run = str(ASSETS / f"{args.name}.log.csv")
    run = Path(args.run)
    ckpt = load_checkpoint(run / "best.pt")
    if args.fit == "both":
        read_fits = {"read_fits": ["pad", "crop"]}
        ckpt = dataclasses.replace(ckpt, input=dataclasses.replace(ckpt.input, fit="pad"), meta={**ckpt.meta, **read_fits})
    elif args.fit:
        ckpt = dataclasses.replace(ckpt, input=dataclasses.replace(ckpt.input, fit=args.fit))
    before = read_log(prior_log(Path(args.prior_run))) if args.prior_run else []
    log = one_clock(before, read_log(run / "log.csv"))
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "best.pt"  # the run's weights as they will read
        save_checkpoint(ckpt, source)
        trial = export_onnx(source, Path(tmp) / "m.onnx", int8=args.int8, weights=args.weights)
        sets = card_sets(ckpt.meta.get("train_config", {}))
        figures = measure(trial, args.count, sets)
        card = make_card(args, ckpt, log, len(before), sets[0][1], figures)
        if prior_card:
            card = extend_card(prior_card, card, first_epoch=len(before) + 1)
        ASSETS.mkdir(exist_ok=True)
        out = export_onnx(source, ASSETS / f"{args.name}.onnx", int8=args.int8, weights=args.weights, meta={"card": card})
    card["file_mb"] = round(out.stat().st_size / 1e6, 2)
    # The checkpoint too, for fine-tuning (`train --init NAME`): fp16 weights halve the file;
    # loading casts them back to fp32.
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in ckpt.state_dict.items()}
    save_checkpoint(
        dataclasses.replace(ckpt, state_dict=half, train_state=None, meta={**ckpt.meta, "card": card}), ASSETS / f"{args.name}.pt"
    )
    write_log(log, ASSETS / f"{args.name}.log.csv")
    (ASSETS / f"{args.name}.md").write_text(render(args.name, card, log))
    print(json.dumps(card, indent=2))


def make_card(args: argparse.Namespace, ckpt, log: list[dict], prior_epochs: int, main_set: SynthConfig, figures: list) -> dict:
    return {
        "model": ckpt.model_name,
        "command": args.command,
        "training_minutes": round(log[-1]["elapsed"] / 60, 1),
        "epochs": len(log),
        "best_epoch": ckpt.meta.get("epoch", 0) + prior_epochs,
        "averaged_from": len(ckpt.meta.get("averaged_from", [])),  # models whose weights it is the mean of
        "hardware": args.hardware or hardware(),
        "fit": "both" if ckpt.meta.get("read_fits") else ckpt.input.fit,  # how images become its input
        "accuracy": figures[0]["accuracy"],  # on the model's own task
        "char_accuracy": figures[0]["char_accuracy"],
        "synth": {k: v for k, v in dataclasses.asdict(main_set).items() if k != "fonts"},  # that task's captchas
        "figures": figures,
        # The fonts the broad figures were drawn in: the install's own, the same on every machine.
        **({"fonts": font_report(main_set.chars)} if main_set.style == "broad" else {}),
        "out_of_box": out_of_box_rows(args.out_of_box, args.name) if args.out_of_box else [],
        "compression": {"int8": args.int8, "weights": args.weights},
        "notes": args.note or "",
    }


def bundled_card(name: str, assets: Path = ASSETS) -> dict:
    """The card of the bundled model NAME (for --extends, and for update_card.py)."""
    path = assets / f"{name}.pt"
    if not path.exists():
        raise SystemExit(f"no bundled model {name!r} ({path} is missing)")
    card = load_checkpoint(path).meta.get("card")
    if not card:
        raise SystemExit(f"the bundled {name!r} has no card")
    return card


def extend_card(prior: dict, card: dict, first_epoch: int) -> dict:
    """The card of a model trained further: how it was made is the prior card's story, then this run's."""
    epochs = f"epochs {first_epoch}-{card['epochs']}"
    notes = [prior.get("notes", ""), f"{epochs.capitalize()}: {card['notes']}" if card["notes"] else ""]
    return {
        **card,
        "command": f"{prior['command']}\n{card['command']}",
        "hardware": f"{prior['hardware']}; {epochs}: {card['hardware']}",
        "notes": " ".join(n for n in notes if n),
    }


def prior_log(path: Path) -> Path:
    """A run folder's log, or a log file as it is (a bundled model's, holding all its runs)."""
    return path / "log.csv" if path.is_dir() else path


def hardware() -> str:
    """The CPU the run trained on, as the card says it."""
    import os

    import torch

    from captcha_break.device import cpu_has_bf16

    try:
        name = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        name = platform.processor() or platform.machine()
    bf16 = ", AVX-512 BF16" if cpu_has_bf16() else ""
    return f"{name}{bf16}, {os.cpu_count()} cores, torch {torch.__version__}"


def curve(log: list[dict[str, float]]) -> str:
    """The training curve as a table: validation accuracy (fresh captchas) by wall time."""
    rows = [
        f"| {int(r['epoch'])} | {r['elapsed'] / 60:.1f} | {r['lr']:.2g} | {r['accuracy']:.2%} | {r['char_accuracy']:.2%} |"
        for r in log
    ]
    return "\n".join(["| epoch | minutes | lr | validation accuracy | per character |", "| --- | --- | --- | --- | --- |", *rows])


def which_weights(card: dict) -> str:
    """Which epoch's weights the card's figures are of: an average has no best epoch."""
    if card.get("averaged_from"):
        return f"the mean of {card['averaged_from']} models' weights"
    return f"best at epoch {card['best_epoch']}"


def render(name: str, card: dict, log: list[dict[str, float]]) -> str:
    notes = f"\n{card['notes']}\n" if card.get("notes") else ""
    figures = "\n".join(
        f"| whole-captcha accuracy, {f['about']} | {f['accuracy']:.2%} (per character {f['char_accuracy']:.2%}; "
        f"{f['count']:,} fresh captchas, seed {f['seed']}) |"
        for f in card["figures"]
    )
    return _render(name, card, log, notes, figures) + _out_of_box(card["out_of_box"])


def _out_of_box(rows: list) -> str:
    if not rows:
        return ""
    table = "\n".join(f"| {dataset} | {reader} | {figure} |" for dataset, reader, figure in rows)
    return f"""
## Real captchas, read without training

Every image of each shared set of real labeled captchas (benchmarks/out_of_box.py), beside ddddocr 1.6.1:

| set | reader | whole captcha right |
| --- | --- | --- |
{table}
"""


FIT_WORDS = {
    "stretch": "resized to the input",
    "pad": "scaled to the input's height, padded to its width",
    "crop": f"cut to the text where it is under {CROP_BELOW:.0%} of the image's height, then scaled and padded",
    "both": "read twice, padded and cut to the text where it is under "
    f"{CROP_BELOW:.0%} of the image's height, the surer reading kept",
}


def _render(name: str, card: dict, log: list[dict[str, float]], notes: str, figures: str) -> str:
    return f"""# Model card: `{name}` ({card["model"]})

Trained by this project's own commands, in order (--pseudo-labels: real captchas beside the synthetic ones):

```
{card["command"]}
```

| | |
| --- | --- |
| training wall time | {card["training_minutes"]} min ({card["epochs"]} epochs, {which_weights(card)}), \
data generation included |
| hardware | {card["hardware"]} |
| images become its input by | fit `{card.get("fit", "stretch")}` ({FIT_WORDS.get(card.get("fit", "stretch"), "")}) |
{figures}{_fonts(card)}
| file | {card["file_mb"]} MB ONNX; weights stored as {card["compression"]["weights"]}, \
int8 arithmetic: {card["compression"]["int8"]} |
{notes}
The curve (validation on fresh captchas after each epoch; `{name}.log.csv` has every column):

{curve(log)}

The per-epoch training log is `{name}.log.csv` beside this file. {_about(card)}
"""


def _fonts(card: dict) -> str:
    """The row that says which fonts the broad figures were drawn in (the install's own)."""
    if not card.get("fonts"):
        return ""
    sources = ", ".join(f"{s['source']} ({s['fonts']}, {s['licence']})" for s in card["fonts"])
    return f"\n| fonts of those captchas | {sum(s['fonts'] for s in card['fonts'])}, all brought by the install: {sources} |"


def _about(card: dict) -> str:
    if card["synth"]["style"] == "broad":
        return (
            "Broad style: many fonts, colours, backgrounds, clutter and warps (broad.py), "
            f"{card['synth']['min_len']}-{card['synth']['max_len']} characters of {card['synth']['chars']}. "
            "It is the start for fine-tuning on a site's own captchas: `captcha-break train --data DIR`."
        )
    return (
        "Default task: 4 characters of 0-9A-Z, 128x64 images from `captcha` 0.7.1 (`ImageCaptcha`, its "
        "default font). Models trained on synthetic captchas do not read other sites' captchas well: "
        "train on your own labeled images (`captcha-break train --data DIR`)."
    )


if __name__ == "__main__":
    main()
