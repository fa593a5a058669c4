"""Update a bundled model's card without touching its weights.

    python scripts/update_card.py general --out-of-box benchmarks/results/out_of_box.json
    python scripts/update_card.py captcha4 --replace "Five runs" "Six runs"
    python scripts/update_card.py captcha4 --remeasure 10000

A card lives in three copies: the checkpoint's meta (NAME.pt), the ONNX metadata (NAME.onnx, read by
`GET /models`) and NAME.md. bundle_model.py writes all three when it exports a run; this script is for
what changes later — the out-of-the-box table after benchmarks/out_of_box.py is rerun, or a sentence of
the notes corrected — so that the card is fixed by a project command, not by re-exporting (which would
measure the model again and re-quantize it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import onnx
from bundle_model import bundled_card, card_sets, measure, out_of_box_rows, render  # the script beside this one

from captcha_break.assets import ASSETS, ONNX_METADATA_KEY
from captcha_break.checkpoint import load_checkpoint, save_checkpoint
from captcha_break.export import export_onnx
from captcha_break.fonts import font_report
from captcha_break.runfolder import read_log


def updated(card: dict, name: str, out_of_box: Path | None, replace: list[tuple[str, str]]) -> dict:
    """The card with its notes' replacements made and, given the benchmark's JSON, its out-of-box rows redone."""
    notes = card.get("notes", "")
    for old, new in replace:
        found = notes.count(old)
        if found != 1:  # a replacement that hits nothing or several places is a mistake, not a no-op
            raise SystemExit(f"--replace: {old!r} occurs {found} times in {name}'s notes, not once")
        notes = notes.replace(old, new)
    card = {**card, "notes": notes}
    if out_of_box:
        card["out_of_box"] = [list(row) for row in out_of_box_rows(out_of_box, name)]
    return card


def remeasured(assets: Path, name: str, card: dict, count: int) -> dict:
    """The card with its figures measured again on NAME.onnx (after a change to how captchas
    are drawn, or to the export). A quantized model is first exported again from NAME.pt
    with the card's compression, as export.py quantizes now; the weights stay NAME.pt's."""
    compression = card.get("compression", {"int8": "none", "weights": "fp32"})
    model = assets / f"{name}.onnx"
    if compression["int8"] != "none":
        export_onnx(assets / f"{name}.pt", model, int8=compression["int8"], weights=compression["weights"], meta={"card": card})
    sets = card_sets(load_checkpoint(assets / f"{name}.pt").meta.get("train_config", {}))
    figures = measure(model, count, sets)
    card = {**card, "accuracy": figures[0]["accuracy"], "char_accuracy": figures[0]["char_accuracy"], "figures": figures}
    card["file_mb"] = round(model.stat().st_size / 1e6, 2)
    if sets[0][1].style == "broad":  # the fonts its figure was drawn with (the install's own)
        card["fonts"] = font_report(sets[0][1].chars)
    return card


def write_card(assets: Path, name: str, card: dict) -> None:
    """The card into all three copies; the weights stay as stored (fp16 in NAME.pt, the ONNX graph as exported)."""
    proto = onnx.load(str(assets / f"{name}.onnx"))  # checked before anything is written: no copy left half-updated
    entry = next((e for e in proto.metadata_props if e.key == ONNX_METADATA_KEY), None)
    if entry is None:
        raise SystemExit(f"{name}.onnx has no {ONNX_METADATA_KEY!r} metadata: not a bundled model")
    description = json.loads(entry.value)
    description["meta"]["card"] = card
    entry.value = json.dumps(description)
    ckpt = load_checkpoint(assets / f"{name}.pt")
    ckpt.meta["card"] = card
    save_checkpoint(ckpt, assets / f"{name}.pt")
    onnx.save(proto, str(assets / f"{name}.onnx"))
    (assets / f"{name}.md").write_text(render(name, card, read_log(assets / f"{name}.log.csv")))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="the bundled model, e.g. general")
    parser.add_argument("--out-of-box", type=Path, help="benchmarks/results/out_of_box.json: redo the card's table from it")
    parser.add_argument(
        "--replace", nargs=2, action="append", default=[], metavar=("OLD", "NEW"), help="a correction to the notes"
    )
    parser.add_argument(
        "--remeasure", type=int, metavar="COUNT",
        help="measure the card's figures again on COUNT fresh captchas of each set (a quantized model exported again)",
    )  # fmt: skip
    parser.add_argument("--assets", type=Path, default=ASSETS, help="where the bundled models are (default: the package's)")
    args = parser.parse_args(argv)
    if not args.out_of_box and not args.replace and not args.remeasure:
        parser.error("nothing to update: give --out-of-box, --replace and/or --remeasure")
    card = updated(bundled_card(args.name, args.assets), args.name, args.out_of_box, args.replace)
    if args.remeasure:
        card = remeasured(args.assets, args.name, card, args.remeasure)
    write_card(args.assets, args.name, card)
    print(f"updated {args.name}'s card in {args.name}.pt, {args.name}.onnx and {args.name}.md")


if __name__ == "__main__":
    main()
