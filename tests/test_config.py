"""The command line and TrainConfig agree: every field settable, every default defined once."""

import dataclasses
import json
from pathlib import Path

import pytest
from PIL import Image

from captcha_break.cli import build_parser, main
from captcha_break.commands import train_fields
from captcha_break.config import TrainConfig
from captcha_break.runfolder import merge_resumed


def parse(*argv: str):
    return build_parser().parse_args(["train", *argv])


def test_every_field_is_an_option_and_no_option_holds_a_default_of_its_own():
    fields = train_fields(parse())
    assert set(fields) == {f.name for f in dataclasses.fields(TrainConfig)}
    # Nothing given: nothing set, so TrainConfig's defaults (and --config, and the --data
    # choices) decide. A default written twice would show up here as a value.
    assert {k: v for k, v in fields.items() if v is not None} == {}


@pytest.mark.parametrize(
    "argv,field,value",
    [
        (["--model", "crnn_lite"], "model", "crnn_lite"),
        (["--phase2-lr", "3e-4"], "phase2_lr", 3e-4),
        (["--precision", "fp32"], "precision", "fp32"),
        (["--dry-run"], "dry_run", True),
        (["--size", "170x80"], "image_width", 170),
        (["--input-size", "256x48"], "input_height", 48),
        (["--color", "rgb"], "channels", 3),
        (["--time-budget", "30m"], "time_budget", 1800.0),
        (["--length", "4-6"], "length", "4-6"),
    ],
)
def test_options_set_their_fields(argv, field, value):
    assert train_fields(parse(*argv))[field] == value


def test_choices_come_from_the_config():
    with pytest.raises(SystemExit):
        parse("--schedule", "sometimes")


def test_config_files_round_trip_and_options_win(tmp_path, capsys):
    source = TrainConfig(model="crnn_lite", out=str(tmp_path / "a"), lr=2e-3, epochs=7, fonts=())
    path = tmp_path / "config.json"
    path.write_text(source.to_json())
    assert main(["train", "--config", str(path), "--epochs", "9", "--print-config"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {**dataclasses.asdict(source), "epochs": 9, "fonts": []}
    path.write_text(json.dumps({"model": "crnn", "learning_rate": 1}))
    assert main(["train", "--config", str(path), "--print-config"]) == 2
    assert "unknown config fields learning_rate" in capsys.readouterr().err


def test_a_run_folder_keeps_its_config(tmp_path):
    from captcha_break.train import train

    config = TrainConfig(model="crnn_fast", out=str(tmp_path / "run"), pregenerate=32, val_size=16, batch_size=16, epochs=1,
                         phase2_patience=0, workers=0)  # fmt: skip
    train(config, log=lambda *_: None)
    saved = TrainConfig(**TrainConfig.from_file(tmp_path / "run" / "config.json"))
    assert saved.model == "crnn_fast" and saved.batch_size == 16 and saved.precision in ("bf16", "fp32")


def test_a_folder_from_nothing_still_gets_the_folders_choices(tmp_path, capsys):
    for i, label in enumerate(["1234", "5678", "9012"]):
        Image.new("RGB", (192, 64), "white").save(tmp_path / f"{label}_{i}.png")
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--init", "none", "--print-config"]) == 0
    out = capsys.readouterr().out
    printed = json.loads(out[out.index("{") :])
    assert printed["init"] is None and printed["model"] == "crnn_lite"
    assert printed["input_width"] == 192 and printed["channels"] == 1 and printed["chars"] == "0123456789"
    assert "chose model = crnn_lite: from nothing" in out


def test_a_model_unlike_the_base_trains_from_nothing_or_is_refused(tmp_path, capsys):
    """Fine-tuning builds the base model's architecture: an asked-for --model must not be
    replaced unseen by it."""
    for i, label in enumerate(["1234", "5678", "9012"]):
        Image.new("RGB", (192, 64), "white").save(tmp_path / f"{label}_{i}.png")
    run = ["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--print-config"]
    assert main([*run, "--model", "crnn_fast"]) == 0
    out = capsys.readouterr().out
    printed = json.loads(out[out.index("{") :])
    assert printed["init"] is None and printed["model"] == "crnn_fast"
    assert "chose init = none: --model crnn_fast is not the base model's architecture" in out
    assert main([*run, "--model", "crnn_fast", "--init", "captcha4"]) == 0  # default is a crnn_fast
    assert json.loads((out := capsys.readouterr().out)[out.index("{") :])["init"] == "captcha4"
    assert main([*run, "--model", "cnn_fast", "--init", "captcha4"]) == 2
    assert "--model cnn_fast and --init captcha4 disagree: captcha4 is a crnn_fast" in capsys.readouterr().err


def test_the_plain_command_with_a_30_minute_budget_chooses_a_soup_unless_told_not_to(tmp_path, capsys):
    for i, label in enumerate(["1234", "5678", "9012"]):
        Image.new("RGB", (192, 64), "white").save(tmp_path / f"{label}_{i}.png")
    run = ["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--print-config"]
    assert main([*run, "--time-budget", "30m"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{") :])["soup"] == 2 and "chose soup = 2: a budget of 30 min" in out
    assert main([*run, "--time-budget", "30m", "--soup", "1"]) == 0
    assert json.loads((out := capsys.readouterr().out)[out.index("{") :])["soup"] == 1


def test_a_resume_takes_what_the_command_line_gave_even_at_its_default_value():
    default = TrainConfig()
    stored = TrainConfig(patience=default.patience + 2, batch_size=default.batch_size * 2)
    # From the command line: `--patience N` is taken, whatever N is; a learning option is refused.
    assert merge_resumed(stored, default, given={"patience"}, log=lambda *_: None).patience == default.patience
    with pytest.raises(ValueError, match="batch_size"):
        merge_resumed(stored, default, given={"batch_size"})
    # A config built in Python says nothing of which fields were meant: its defaults are unset.
    assert merge_resumed(stored, default).patience == stored.patience


def test_time_budget_is_an_option_generated_from_its_field(capsys):
    args = build_parser().parse_args(["train", "--out", "r", "--time-budget", "90s"])
    assert train_fields(args)["time_budget"] == 90.0
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--time-budget", "soon"])
    assert "a duration is like 30m" in capsys.readouterr().err


def test_a_plain_run_reads_its_base_model_once(tmp_path, monkeypatch):
    """Choosing the options, setting the run up and loading the weights of every soup member
    all ask for the base model: its file is read once."""
    from captcha_break import finetune

    for i, label in enumerate(["1234", "5678", "9012", "3456"]):
        Image.new("RGB", (192, 64), "white").save(tmp_path / f"{label}_{i}.png")
    reads = []
    real = finetune.load_checkpoint
    monkeypatch.setattr(finetune, "load_checkpoint", lambda path: reads.append(path) or real(path))
    finetune._read_once.cache_clear()
    run = ["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--init", "captcha4", "--soup", "2"]
    assert main([*run, "--dry-run", "--workers", "0", "--test-split", "0", "--val-split", "0.25"]) == 0
    assert [Path(p).name for p in reads] == ["captcha4.pt"]


def test_an_option_whose_default_is_none_takes_the_type_its_field_names():
    """ReaderOptions.threads is `int | None` = None: its text becomes an int (ONNX Runtime
    refused the string "1"), and a word is refused at parsing."""
    needs = {"predict": ["x"], "label": ["x"], "evaluate": ["--count", "5"], "serve": []}
    for command, rest in needs.items():
        args = build_parser().parse_args([command, "--threads", "1", *rest])
        assert args.threads == 1 and isinstance(args.threads, int), command
    with pytest.raises(SystemExit):
        build_parser().parse_args(["predict", "--threads", "two", "x"])
