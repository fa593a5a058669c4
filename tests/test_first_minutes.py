"""What a newcomer meets first: one default model, no silent guesses, help that teaches, a
seed that draws the same captchas on every machine."""

import argparse
import csv
import shutil
import socket

import pytest

import captcha_break
from captcha_break import fonts
from captcha_break.assets import DEFAULT_MODEL, resolve
from captcha_break.cli import build_parser, main
from captcha_break.labels import names_problem, scan_folder
from captcha_break.recognizer import Recognizer
from captcha_break.synth import SynthConfig, draw, write_pngs

BROAD_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def test_the_default_model_is_general_everywhere_and_the_old_name_says_where_it_went():
    assert DEFAULT_MODEL == "general"
    assert Recognizer.load().info.path == str(resolve("general", "onnx"))
    parser = build_parser()
    for command in ("predict", "evaluate", "serve", "label"):
        sub = parser._subparsers._group_actions[0].choices[command]
        assert sub.get_default("model") == "general", command
    with pytest.raises(FileNotFoundError, match="now called 'captcha4'.*default model.*'general'"):
        resolve("default", "onnx")


def test_predict_says_which_model_reads(tmp_path, capsys):
    [name] = write_pngs(SynthConfig(), tmp_path, 1, seed="which")
    assert main(["predict", str(tmp_path / name)]) == 0
    assert "reading 1 image with general (crnn_lite" in capsys.readouterr().err


def test_broad_style_draws_the_same_captchas_whatever_system_fonts_the_machine_has(tmp_path, monkeypatch):
    """A machine with more Debian fonts installed draws the broad style exactly as one without."""
    before = fonts.broad_fonts(BROAD_CHARS)
    drawn = [draw(SynthConfig(chars=BROAD_CHARS, min_len=1, max_len=10, style="broad"), "same", i) for i in range(20)]
    extra = tmp_path / "liberation"
    extra.mkdir()
    dejavu = next(f for f in before if "DejaVuSans.ttf" in f)
    shutil.copy(dejavu, extra / "ExtraSans-Regular.ttf")  # a "system" font no install brings
    system = fonts.FontSource("fonts-extra", "test", (str(extra),))
    monkeypatch.setattr(fonts, "SOURCES", (*fonts.SOURCES, system))
    fonts.installed_fonts.cache_clear()
    try:
        assert fonts.broad_fonts(BROAD_CHARS) == before
        again = [draw(SynthConfig(chars=BROAD_CHARS, min_len=1, max_len=10, style="broad"), "same", i) for i in range(20)]
        assert [(a.tobytes(), la) for a, la in drawn] == [(b.tobytes(), lb) for b, lb in again]
        assert str(extra / "ExtraSans-Regular.ttf") in SynthConfig(chars=BROAD_CHARS, style="broad", fonts=("system",)).fonts
        assert not any(f.startswith("/usr/share/fonts") for f in before)  # only what the install brings
    finally:
        fonts.installed_fonts.cache_clear()


@pytest.mark.parametrize(
    ("names", "why"),
    [
        ([f"captcha_{i:04d}.png" for i in range(30)], "30 of 30 images would be labeled 'captcha'"),
        ([f"img{i}.png" for i in range(1, 8)], "7 of 7 names are 'img' and a counter"),
        ([f"{i:032x}.png" for i in range(5)], "5 of 5 names are longer than 16 characters"),
    ],
)
def test_file_names_that_are_not_labels_are_refused_pointing_to_label(tmp_path, names, why):
    for name in names:
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(ValueError, match=f"do not look like labels \\({why}.*captcha-break label"):
        scan_folder(tmp_path)
    assert scan_folder(tmp_path, rule="none").source == "file names by --label-rule none"  # a named rule is trusted


def test_real_labels_pass_and_say_where_they_come_from(tmp_path):
    assert names_problem(["0015", "0015", "7731", "2208", "9140"]) is None  # repeats happen on digit sites
    assert names_problem(["AB12", "CD34", "EF56"]) is None
    for name in ("AB12_1.png", "CD34.png", "XK9P.png"):
        (tmp_path / name).write_bytes(b"")
    assert scan_folder(tmp_path).source == "file names by --label-rule auto"
    (tmp_path / "labels.csv").write_text("file,label\nCD34.png,ZZZZ\n")
    assert scan_folder(tmp_path).source == str(tmp_path / "labels.csv")


def test_evaluate_on_a_folder_without_labels_is_an_error(tmp_path, capsys):
    names = write_pngs(SynthConfig(), tmp_path / "site", 3, seed="nolabels", answers=tmp_path / "answers.csv")
    (tmp_path / "site" / "labels.csv").write_text("file,label\n" + "".join(f"{n},\n" for n in names))  # all unreadable
    assert main(["evaluate", "--model", "captcha4", "--data", str(tmp_path / "site")]) == 2
    assert "no labeled images to evaluate on" in capsys.readouterr().err


def test_generate_answers_keeps_the_labels_apart(tmp_path, capsys):
    assert main(["generate", "--count", "3", "--out", str(tmp_path / "site"), "--answers", str(tmp_path / "a.csv")]) == 0
    rows = list(csv.DictReader((tmp_path / "a.csv").open()))
    assert [r["file"] for r in rows] == ["000000.png", "000001.png", "000002.png"]
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == [r["file"] for r in rows]
    assert "wrote 3 captchas" in capsys.readouterr().out
    assert main(["generate", "--count", "1", "--out", str(tmp_path / "x"), "--answers", str(tmp_path / "x" / "a.csv")]) == 2


def test_predict_of_an_empty_folder_and_a_missing_file(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(tmp_path / "empty")]) == 2
    assert "no images in this folder" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="no file at"):
        Recognizer.load("captcha4").predict(tmp_path / "missing.png")
    with pytest.raises(captcha_break.ImageError):  # exported, and still what a bad item of a list raises
        Recognizer.load("captcha4").predict([tmp_path / "missing.png"])


def test_a_busy_port_is_refused_before_any_reading(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["label", str(tmp_path / "nosuch"), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "no folder" not in err
    assert main(["label", str(tmp_path), "--port", "99999"]) == 2
    assert "a port is a number from 1 to 65535" in capsys.readouterr().err


def test_every_command_has_a_description_an_example_and_help_for_every_option():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0]
    for name, sub in commands.choices.items():
        assert sub.description and sub.epilog.startswith("examples:\n  captcha-break"), name
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
    train = commands.choices["train"]
    titles = [group.title for group in train._action_groups]
    assert {"data: what to learn from", "model: the architecture, where it starts, what it reads"} <= set(titles)
    model_help = next(a.help for a in train._actions if "--model" in a.option_strings)
    assert "with --data chosen from the folder" in model_help  # the default that applies, not crnn's alone


def test_the_readme_is_short_and_the_results_page_is_generated_and_current():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    assert len((root / "README.md").read_text().splitlines()) <= 250
    check = subprocess.run([sys.executable, str(root / "scripts" / "docs_results.py"), "--check"])
    assert check.returncode == 0, "docs/results.md is out of date: python scripts/docs_results.py"
