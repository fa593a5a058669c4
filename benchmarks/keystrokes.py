"""What the labeling tool's guesses save: the share of pre-filled guesses already right.

    python benchmarks/keystrokes.py [--from DIR] [--datasets DIR]

Seconds of labeling per image depend on the person; what the model saves does not. A
right guess costs one key (Enter) instead of the label and Enter. For each shared set:

- out of the box: `captcha-break label DIR --model general --chars ALPHABET` guesses
  what `general` reads held to the set's alphabet (benchmarks/out_of_box.py's row
  `general --only-chars ...`, every image of the set);
- after one round: the model the plain command trains on 300 labels reads the rest
  (benchmarks/own_data.py --labels 300, scored on the 20% test split).

Figures are read from those two benchmarks' JSON (default: the committed results) and
written as keystrokes.json / keystrokes.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from common import RESULTS, add_datasets_option, add_update_option, write_results

from captcha_break.labels import scan_folder

MODEL = "general"
ROUND_LABELS = "300"


def saved(share: float, mean_length: float) -> str:
    """The share, and the keys it saves per 1,000 images (each right guess saves its typing)."""
    return f"{share:.1%} right: {share * mean_length * 1000:,.0f} of {(mean_length + 1) * 1000:,.0f} keys saved"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", type=Path, default=RESULTS, help="where the two benchmarks' JSON is")
    add_datasets_option(parser)
    add_update_option(parser)
    args = parser.parse_args()
    out_of_box = json.loads((args.source / "out_of_box.json").read_text())["datasets"]
    own_data = json.loads((args.source / "own_data.json").read_text())["datasets"]
    results, table = {}, []
    for name, readers in sorted(out_of_box.items()):
        held = next((r for reader, r in readers.items() if reader.startswith(f"{MODEL} --only-chars")), None)
        after = own_data.get(name, {}).get("runs", {}).get(ROUND_LABELS)
        if held is None:
            continue
        length = statistics.mean(len(label) for _, label in scan_folder(args.datasets / name).items)
        results[name] = {
            "mean_label_length": length,
            "out_of_box": held["accuracy"],
            f"after_{ROUND_LABELS}_labels": after["test_accuracy"] if after else None,
        }
        table.append((f"{name}: `{MODEL}` out of the box", saved(held["accuracy"], length)))
        if after:
            table.append((f"{name}: after one round of {ROUND_LABELS} labels", saved(after["test_accuracy"], length)))
    write_results("keystrokes", {"model": MODEL, "datasets": results}, table, "Labeling: pre-filled guesses already right")


if __name__ == "__main__":
    main()
