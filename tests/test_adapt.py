"""Label-free adaptation: `train --unlabeled DIR` with no labels at all."""

import json

from captcha_break.adapt import CHECK_SHARE, split_images, steady_readings
from captcha_break.assets import ASSETS
from captcha_break.cli import main
from captcha_break.synth import SynthConfig, write_pngs


def test_the_judging_images_are_a_fixed_share_split_by_name(tmp_path):
    for i in range(400):
        (tmp_path / f"{i:05d}.png").write_bytes(b"")
    pool, check = split_images(tmp_path)
    assert len(pool) + len(check) == 400 and abs(len(check) / 400 - CHECK_SHARE) < 0.06
    (tmp_path / "new.png").write_bytes(b"")  # a grown folder keeps its split
    assert set(check) <= set(split_images(tmp_path)[1])


def test_steadiness_needs_no_label_and_tells_a_reader_from_a_stranger(tmp_path):
    write_pngs(SynthConfig(), tmp_path, 24, seed="steady", answers=tmp_path.parent / "answers.csv")
    images = sorted(tmp_path.glob("*.png"))
    rules = {"chars": None, "length": None}
    own = steady_readings(ASSETS / "captcha4.pt", images, 0.9, rules)  # its own task
    assert len(own) > 0.6 * len(images)
    wrong = steady_readings(ASSETS / "captcha4.pt", images, 0.9, {"chars": "0123456789", "length": None})
    assert len(wrong) < len(own)  # held to the wrong alphabet
    every = steady_readings(ASSETS / "captcha4.pt", images, 0.9, rules, all_readings=True)
    assert {p: text for p, (text, steady) in every.items() if steady} == own


def test_train_unlabeled_alone_adapts_or_hands_back_the_base_and_says_which(tmp_path, capsys):
    site = tmp_path / "site"
    write_pngs(SynthConfig(style="v03"), site, 60, seed="adapt", answers=tmp_path / "answers.csv")
    run = tmp_path / "run"
    assert main(["train", "--unlabeled", str(site), "--out", str(run), "--init", "captcha4", "--dry-run",
                 "--workers", "0", "--pseudo-threshold", "0.5"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    report = json.loads((run / "adapt_report.json").read_text())
    assert report["pool"] + report["check"] == 60 and report["rounds"]
    assert ("adapted:" in out) == report["adapted"] and ("kept the base model" in out) != report["adapted"]
    if not report["adapted"]:  # never a model it cannot show to be better
        assert (run / "best.pt").read_bytes() == (ASSETS / "captcha4.pt").read_bytes()
    assert not any(p.name == "labels.csv" for p in site.iterdir())  # the user's folder is never written
