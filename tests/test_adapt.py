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


def test_a_base_that_reads_both_fits_adapts_in_the_one_it_reads_the_site_more_surely_in(tmp_path):
    import dataclasses

    import numpy as np
    from PIL import Image, ImageDraw

    from captcha_break.adapt import site_fit
    from captcha_break.checkpoint import load_checkpoint, save_checkpoint
    from captcha_break.recognizer import Recognizer

    rules = {"chars": "0123456789", "length": "4"}
    site = tmp_path / "site"
    site.mkdir()
    for i in range(12):  # small digits in wide margins: cropping changes what the model sees
        image = Image.new("RGB", (200, 80), "white")
        ImageDraw.Draw(image).text((70, 34), f"{1000 + 37 * i}", fill="black")
        image.save(site / f"{i:02d}.png")
    images = sorted(site.glob("*.png"))
    logged = []
    assert site_fit(ASSETS / "captcha4.pt", images, rules, logged.append) == "stretch" and not logged  # one fit: no reading
    base = load_checkpoint(ASSETS / "general.pt")
    both = tmp_path / "both.pt"
    save_checkpoint(dataclasses.replace(base, meta={**base.meta, "read_fits": ["pad", "crop"]}), both)
    chosen = site_fit(both, images, rules, logged.append)
    sureness = {
        fit: np.mean(
            [p.confidence for p in Recognizer.load(both, fit=fit, only_chars="0123456789", only_length=4).predict(images)]
        )
        for fit in ("pad", "crop")
    }
    assert chosen == max(sureness, key=sureness.get) and sureness["pad"] != sureness["crop"]
    assert chosen in logged[0] and "pad" in logged[0] and "crop" in logged[0]
