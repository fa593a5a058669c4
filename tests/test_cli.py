"""The command line end to end on a tiny generated set, as a user would run it."""

import csv
import json

import pytest

from captcha_break.cli import main


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    assert main(["generate", "--count", "48", "--seed", "5", "--out", str(root / "data"), "--workers", "2"]) == 0
    assert (
        main(
            [
                "train",
                "--model",
                "crnn_fast",
                "--out",
                str(root / "run"),
                "--data",
                str(root / "data"),
                "--dry-run",
                "--batch-size",
                "16",
                "--workers",
                "0",
            ]
        )
        == 0
    )
    return root


def test_generate_names_files_by_label(workspace):
    names = sorted(p.name for p in (workspace / "data").glob("*.png"))
    assert len(names) == 48 and all(len(n.split("_")[0]) == 4 for n in names)


def test_train_writes_checkpoints_and_log(workspace):
    run = workspace / "run"
    assert (run / "best.pt").exists() and (run / "last.pt").exists()
    assert (run / "log.csv").read_text().startswith("epoch,phase,lr,train_loss,val_loss")


def test_evaluate_json_on_folder_and_fresh_captchas(workspace, capsys):
    model = str(workspace / "run" / "best.pt")
    assert main(["evaluate", "--model", model, "--data", str(workspace / "data"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["count"] == 48
    assert {"accuracy", "char_accuracy", "count", "images_per_second"} <= set(report)
    assert main(["evaluate", "--model", model, "--count", "20", "--json", "--plot", str(workspace / "pred.png")]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 20
    assert (workspace / "pred.png").stat().st_size > 1000


def test_predict_reads_good_files_and_reports_bad_ones(workspace, capsys, tmp_path):
    good = sorted((workspace / "data").glob("*.png"))[:2]
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(good[0].read_bytes()[:200])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    files = [str(good[0]), str(text), str(truncated), str(empty), str(good[1])]
    code = main(["predict", "--model", str(workspace / "run" / "best.pt"), *files])
    out, err = capsys.readouterr()
    assert code == 1
    assert [line.split("\t")[0] for line in out.splitlines()] == [str(good[0]), str(good[1])]
    assert f"{text}: error: not an image" in err
    assert f"{truncated}: error: corrupt or truncated" in err
    assert f"{empty}: error: empty file" in err


def test_plots(workspace, capsys):
    for args in (
        ["samples", "--count", "8"],
        ["augment", "--count", "2"],
        ["curves", str(workspace / "run" / "log.csv")],
        ["model", "crnn"],
        ["model", str(workspace / "run" / "best.pt")],
    ):
        out = workspace / f"{args[0]}-{len(args)}.png"
        assert main(["plot", *args, "--out", str(out)]) == 0
        assert out.stat().st_size > 1000
    assert "GRU" in capsys.readouterr().out  # the printed layer table


def test_user_errors_are_clear(workspace, capsys):
    assert main(["evaluate", "--model", str(workspace / "nope.pt"), "--count", "4"]) == 2
    assert "no model at" in capsys.readouterr().err
    assert main(["train", "--model", "crnn_fast", "--out", str(workspace / "run"), "--dry-run"]) == 2
    assert "--resume" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["generate", "--count", "3", "--out", "x", "--length", "6-4"])


def test_train_help_names_every_registered_model_and_bad_names_are_clear(workspace, capsys):
    from captcha_break.models import MODELS

    assert main(["models"]) == 0
    listed = capsys.readouterr().out
    assert all(f"{name:<10} {entry.about}" in listed for name, entry in MODELS.items())  # the registry's own words
    bundled = listed.split("bundled models")[1]
    assert "captcha4   crnn_fast, 128x64: 4 characters of 36 (v07 style)" in bundled  # from the file's own card
    assert "general    crnn_lite, 256x48: 1-10 characters of 62 (broad style)" in bundled
    assert main(["train", "--model", "resnet", "--out", str(workspace / "bad"), "--dry-run"]) == 2
    assert "unknown model 'resnet'" in capsys.readouterr().err


def test_fonts_for_synthetic_captchas(tmp_path, capsys, font_folder):
    from captcha_break.checkpoint import load_checkpoint

    serif = str(font_folder / "DejaVuSerif.ttf")
    args = ["--count", "2", "--seed", "1", "--workers", "0"]
    assert main(["generate", *args, "--out", str(tmp_path / "lib")]) == 0
    assert main(["generate", *args, "--out", str(tmp_path / "serif"), "--font", serif]) == 0
    names = sorted(p.name for p in (tmp_path / "lib").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "serif").iterdir())
    assert all((tmp_path / "lib" / n).read_bytes() != (tmp_path / "serif" / n).read_bytes() for n in names)

    run = str(tmp_path / "run")
    train = ["train", "--model", "crnn_fast", "--out", run, "--dry-run", "--batch-size", "8", "--workers", "0"]
    assert main([*train, "--val-size", "16", "--font", str(font_folder)]) == 0
    fonts = load_checkpoint(tmp_path / "run" / "last.pt").meta["train_config"]["fonts"]
    assert len(fonts) == 5 and serif in fonts  # the folder, expanded, travels with the run

    assert main(["generate", *args, "--out", str(tmp_path / "x"), "--font", str(tmp_path / "lib")]) == 2
    assert "no font files" in capsys.readouterr().err


def test_evaluate_errors_lists_the_wrong_labels_first(tmp_path, capsys):
    """Two labels made wrong on purpose: the bundled model reads the images as drawn, so
    exactly those two files are in the CSV, each with the drawn text as its reading."""
    drawn = tmp_path / "drawn"
    assert main(["generate", "--count", "12", "--seed", "errors", "--out", str(drawn), "--workers", "0"]) == 0
    data = tmp_path / "data"
    data.mkdir()
    truth, rows = {}, ["file,label"]
    for i, path in enumerate(sorted(drawn.glob("*.png"))):
        name, text = f"site_{i}.png", path.name.split("_")[0]
        (data / name).write_bytes(path.read_bytes())
        truth[name] = text
        rows.append(f"{name},{text[::-1] if i in (3, 7) else text}")  # reversed: a wrong label
    (data / "labels.csv").write_text("\n".join(rows) + "\n")
    errors = tmp_path / "errors.csv"
    assert main(["evaluate", "--model", "captcha4", "--data", str(data), "--errors", str(errors)]) == 0
    listed = list(csv.DictReader(errors.open()))
    assert {row["file"] for row in listed} >= {"site_3.png", "site_7.png"}
    wrong_labels = [row for row in listed if row["file"] in ("site_3.png", "site_7.png")]
    assert all(row["reading"] == truth[row["file"]] for row in wrong_labels)
    confidences = [float(row["confidence"]) for row in listed]
    assert confidences == sorted(confidences, reverse=True)
    assert "misread images" in capsys.readouterr().err
