"""scripts/device_pack.py: what a pre-training burst on a bare GPU machine needs, in one folder
whose run.sh trains with nothing but that folder and src/."""

import csv
import os
import subprocess
import sys
from pathlib import Path

from conftest import script_module
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def test_the_pack_holds_the_fonts_the_corpus_and_a_command_that_trains(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    rows = []
    for label in ("4821", "ab7K", "0055"):
        Image.new("RGB", (90, 30), "white").save(images / f"{label}.png")
        rows.append((str(images / f"{label}.png"), label))
    labels = tmp_path / "train.csv"
    with labels.open("w", newline="") as f:
        csv.writer(f).writerows([("file", "label"), *rows])
    box = tmp_path / "box"
    counts = script_module("device_pack").pack(box / ".device", labels, 1_500_000)
    pack = box / ".device"
    fonts = list((pack / "fonts").iterdir())
    assert counts["fonts"] == len(fonts) > 5 and sum(f.stat().st_size for f in fonts) <= 1_500_000
    assert (pack / "site" / "captcha" / "__init__.py").is_file()
    assert [r["label"] for r in csv.DictReader((pack / "corpus" / "labels.csv").open())] == ["4821", "ab7K", "0055"]
    (box / "src").symlink_to(ROOT / "src")  # as the tree travels: src/ beside .device/
    env = {**os.environ, "OUT": str(tmp_path / "out"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    args = ["bash", str(pack / "run.sh"), "1", "general", "5", "--dry-run", "--device", "cpu", "--workers", "0"]
    subprocess.run(args, cwd=box, env=env, check=True, capture_output=True, timeout=300)
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"best.pt", "log.csv", "config.json", "console.log"}
    assert "adding 3 images" in (tmp_path / "out" / "console.log").read_text()
