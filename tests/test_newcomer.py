"""What a new user reaches for: many files at once, case-insensitive sites, other providers,
clear hints for missing extras, pictures that show the errors first."""

import csv
import json
import sys

import numpy as np
import pytest
from PIL import Image

from captcha_break.backends import PROVIDERS, onnx_providers
from captcha_break.cli import main
from captcha_break.evaluate import errors_first
from captcha_break.recognizer import Recognizer
from captcha_break.synth import SynthConfig, write_pngs


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shots")
    write_pngs(SynthConfig(), folder, 5, seed="newcomer")
    (folder / "notes.txt").write_text("not an image, and not an image suffix either")
    return folder


def test_predict_a_folder_and_a_glob_into_csv_and_jsonl(shots, tmp_path, capsys):
    out = tmp_path / "readings.csv"
    assert main(["predict", str(shots), "--output", str(out)]) == 0
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["file"] for r in rows] == sorted(str(p) for p in shots.glob("*.png"))
    assert [r["text"] for r in rows] == [p.text for p in Recognizer.load().predict([r["file"] for r in rows])]  # general
    assert "wrote 5 results" in capsys.readouterr().out
    lines = tmp_path / "readings.jsonl"
    assert main(["predict", str(shots / "*.png"), "--output", str(lines)]) == 0
    records = [json.loads(line) for line in lines.read_text().splitlines()]
    assert [r["text"] for r in records] == [r["text"] for r in rows] and "char_probs" in records[0]
    assert main(["predict", str(shots / "*.gif")]) == 2
    assert "no files match" in capsys.readouterr().err
    assert main(["predict", str(shots), "--output", str(tmp_path / "x.xlsx")]) == 2


def test_fold_case_through_the_cli_and_the_api(shots, tiny_model, capsys):
    image = sorted(shots.glob("*.png"))[0]
    assert main(["predict", "--fold-case", "--json", str(image)]) == 0
    assert json.loads(capsys.readouterr().out)["text"].isupper()
    lower = Image.open(image)
    assert (
        Recognizer.load(tiny_model["onnx"], fold_case=True).predict(lower).text
        == Recognizer.load(tiny_model["onnx"]).predict(lower).text.upper()
    )


def test_only_chars_through_the_cli_and_the_api(shots, capsys):
    images = sorted(shots.glob("*.png"))
    digits = Recognizer.load("captcha4", only_chars="0123456789").predict(images)
    assert all(p.text.isdigit() or not p.text for p in digits)
    # The same letters when every character the model knows is allowed.
    everything = Recognizer.load("captcha4", only_chars=Recognizer.load("captcha4").info.charset.chars)
    assert [p.text for p in everything.predict(images)] == [p.text for p in Recognizer.load("captcha4").predict(images)]
    assert main(["predict", "--only-chars", "0123", "--json", str(images[0])]) == 0
    assert set(json.loads(capsys.readouterr().out)["text"]) <= set("0123")
    assert main(["predict", "--model", "captcha4", "--only-chars", "ab", str(images[0])]) == 2  # it reads no lower case
    assert "the model cannot read 'ab'" in capsys.readouterr().err
    assert Recognizer.load("captcha4", fold_case=True, only_chars="ab").only_chars == "AB"


def test_only_length_through_the_cli_and_the_api(shots, capsys):
    images = sorted(shots.glob("*.png"))
    plain = [p.text for p in Recognizer.load("captcha4").predict(images)]
    assert [p.text for p in Recognizer.load("captcha4", only_length=(1, 8)).predict(images)] == plain  # all fit already
    fives = Recognizer.load("captcha4", only_length=5).predict(images)
    assert all(len(p.text) == 5 and len(p.char_probs) == 5 for p in fives)
    assert main(["predict", "--only-length", "2-3", "--json", str(images[0])]) == 0
    assert len(json.loads(capsys.readouterr().out)["text"]) in (2, 3)
    for bad in ((3, 2), 0, "4", (4,), (4.5, 6)):
        with pytest.raises(ValueError, match="only_length"):
            Recognizer.load("captcha4", only_length=bad)
    with pytest.raises(SystemExit):
        main(["predict", "--only-length", "0", str(images[0])])
    assert "bad length range '0'" in capsys.readouterr().err


def test_a_model_reads_the_label_lengths_it_was_trained_on_unless_told_otherwise(tiny_model, capsys):
    images = sorted(tiny_model["images"].glob("*.png"))
    for source in (tiny_model["pt"], tiny_model["onnx"], "captcha4"):  # recorded in training; on a bundled card
        assert Recognizer.load(source).info.label_lengths == (4, 4)
        assert Recognizer.load(source).only_length == (4, 4)
        assert Recognizer.load(source, only_length="any").only_length is None
    # A barely trained model: held to 4 characters, every reading has 4.
    assert all(len(p.text) == 4 for p in Recognizer.load(tiny_model["onnx"]).predict(images))
    assert main(["predict", "--model", str(tiny_model["onnx"]), "--only-length", "any", "--json", str(images[0])]) == 0
    assert "text" in json.loads(capsys.readouterr().out)


def test_providers_are_checked_against_this_onnx_runtime(shots, capsys):
    import onnxruntime

    assert onnx_providers(["cpu"]) == ["CPUExecutionProvider"]
    missing = [n for n in ("tensorrt", "coreml", "dml") if PROVIDERS[n] not in onnxruntime.get_available_providers()]
    if not missing:
        pytest.skip("this onnxruntime has every provider")
    with pytest.raises(ValueError, match=f"has no {PROVIDERS[missing[0]]}"):
        onnx_providers([missing[0]])
    assert main(["predict", "--provider", missing[0], str(shots)]) == 2  # one clear line, not a traceback
    assert "captcha-break: error: ONNX Runtime here has no" in capsys.readouterr().err


def test_a_missing_extra_is_named(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the plot extra were not installed
    assert main(["plot", "samples", "--count", "2", "--out", str(tmp_path / "s.png")]) == 2
    assert "pip install 'captcha-break[plot]'" in capsys.readouterr().err


def test_evaluate_plot_shows_the_errors_first():
    truths = ["AAAA", "BBBB", "CCCC", "DDDD"]
    preds = ["AAAA", "B8BB", "CCCC", "0DDD"]
    assert errors_first(truths, preds, 3) == [1, 3, 0]


def test_generate_takes_a_text_seed(tmp_path):
    assert main(["generate", "--count", "2", "--seed", "site-a", "--out", str(tmp_path / "a"), "--workers", "0"]) == 0
    assert main(["generate", "--count", "2", "--seed", "site-a", "--out", str(tmp_path / "b"), "--workers", "0"]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert all(
        np.array_equal(np.asarray(Image.open(tmp_path / "a" / n)), np.asarray(Image.open(tmp_path / "b" / n))) for n in names
    )
