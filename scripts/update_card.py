"""Update a bundled model's card without touching its weights.

    python scripts/update_card.py general --out-of-box benchmarks/results/out_of_box.json
    python scripts/update_card.py default --replace "Five runs" "Six runs"

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
from bundle_model import bundled_card, out_of_box_rows, render  # the script beside this one

from captcha_break.assets import ASSETS, ONNX_METADATA_KEY
from captcha_break.checkpoint import load_checkpoint, save_checkpoint
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
    parser.add_argument("--assets", type=Path, default=ASSETS, help="where the bundled models are (default: the package's)")
    args = parser.parse_args(argv)
    if not args.out_of_box and not args.replace:
        parser.error("nothing to update: give --out-of-box and/or --replace")
    card = bundled_card(args.name, args.assets)
    write_card(args.assets, args.name, updated(card, args.name, args.out_of_box, args.replace))
    print(f"updated {args.name}'s card in {args.name}.pt, {args.name}.onnx and {args.name}.md")


if __name__ == "__main__":
    main()
