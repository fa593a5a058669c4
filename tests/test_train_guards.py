"""Training refuses what would waste a run, before the work starts, in one line."""

import errno

import pytest
from PIL import Image

from captcha_break import sources
from captcha_break.charset import Charset
from captcha_break.checkpoint import load_checkpoint
from captcha_break.cli import main
from captcha_break.folders import describe, load_folder
from captcha_break.preprocess import InputSpec
from captcha_break.train import TrainConfig, loop, run, state, train

QUIET = dict(log=lambda *_: None)


def tiny(tmp_path, **kw) -> TrainConfig:
    base = dict(model="crnn_fast", out=str(tmp_path / "run"), pregenerate=32, val_size=16, batch_size=16, epochs=2,
                phase2_patience=0, workers=0)  # fmt: skip
    return TrainConfig(**{**base, **kw})


def labeled_folder(folder, labels, size=(120, 40)):
    folder.mkdir(exist_ok=True)
    for i, label in enumerate(labels):
        Image.new("RGB", size, "white").save(folder / f"{label}_{i}.png")
    return folder


def test_an_unwritable_run_folder_fails_before_any_work(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setattr(run, "prepare", lambda *a: pytest.fail("data was prepared"))
    with pytest.raises(ValueError, match="cannot write the run to"):
        train(tiny(tmp_path, out=str(tmp_path / "file" / "run")), **QUIET)


def test_a_full_disk_mid_run_is_one_line_and_keeps_the_last_checkpoint(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    args = ["train", "--model", "crnn_fast", "--out", str(run), "--pregenerate", "32", "--val-size", "16",
            "--batch-size", "16", "--epochs", "3", "--workers", "0"]  # fmt: skip
    real = state.save_checkpoint
    saves = []

    def disk_fills_up(checkpoint, path):
        saves.append(path)
        if len(saves) > 2:  # epoch 1's best.pt and last.pt are written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(checkpoint, path)

    monkeypatch.setattr(loop, "save_checkpoint", disk_fills_up)  # best.pt
    monkeypatch.setattr(state, "save_checkpoint", disk_fills_up)  # last.pt
    assert main(args) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("captcha-break:")]
    assert len(errors) == 2 and "No space left on device" in errors[0] and "--resume" in errors[1]
    last = load_checkpoint(run / "last.pt")
    assert last.train_state["run"]["epoch"] == 1  # the good checkpoint of epoch 1


def test_resume_refuses_options_that_would_change_the_run(tmp_path):
    train(tiny(tmp_path, epochs=1), **QUIET)
    for change in (dict(model="cnn_fast"), dict(batch_size=8), dict(lr=0.01), dict(chars="0123")):
        with pytest.raises(ValueError, match=f"{next(iter(change))} \\(the run's"):
            train(tiny(tmp_path, **change), resume=True, **QUIET)
    # How it runs may change (workers), and the plateau schedule's patience, with a note.
    lines = []
    result = train(tiny(tmp_path, workers=1, patience=7), resume=True, log=lines.append)
    assert "resume: patience changed from 3 to 7" in lines
    assert result.best_path.exists()


def test_labels_longer_than_the_ctc_frames_are_refused_with_their_files(tmp_path):
    folder = labeled_folder(tmp_path / "data", ["ABCDEFGHIJ", "ABCD", "AABBCCDDEE", "XYZW"] * 3)
    config = tiny(tmp_path, data=str(folder), input_width=64)  # 8 frames
    with pytest.raises(ValueError, match=r"labels need more CTC frames .* ABCDEFGHIJ_0\.png"):
        train(config, **QUIET)


def test_a_folder_too_small_to_validate_is_refused(tmp_path):
    folder = labeled_folder(tmp_path / "data", ["1234", "5678", "9012"])
    with pytest.raises(ValueError, match="0 for validation"):
        train(tiny(tmp_path, data=str(folder)), **QUIET)


def test_duplicate_rows_and_spaces_are_reported(tmp_path):
    folder = labeled_folder(tmp_path / "data", [])
    for name in ("a.png", "b.png", "c.png"):
        Image.new("RGB", (60, 20), "white").save(folder / name)
    (folder / "labels.csv").write_text("file,label\na.png,AB12\nb.png,AB 3\na.png,CD34\nc.png,XY99\n")
    data = load_folder(folder, InputSpec(32, 64, 1), use_cache=False)
    summary = describe(data, Charset.from_labels(data.samples.labels), {"train": 3})
    assert "labels.csv lists a.png twice ('AB12', then 'CD34'" in summary
    assert "1 labels hold spaces" in summary and "b.png" in summary


def test_a_half_labeled_folder_is_summed_up_not_listed(tmp_path):
    folder = labeled_folder(tmp_path / "data", [])
    for i in range(30):
        Image.new("RGB", (60, 20), "white").save(folder / f"img_{i:02d}.png")
    (folder / "broken.png").write_bytes(b"not a png")
    rows = "".join(f"img_{i:02d}.png,AB{i:02d}\n" for i in range(5))
    (folder / "labels.csv").write_text("file,label\n" + rows + "broken.png,XY12\n")
    data = load_folder(folder, InputSpec(32, 64, 1), use_cache=False)
    summary = describe(data, Charset.from_labels(data.samples.labels), {"train": 5})
    assert "skipped: 26 (25 no label, 1 " in summary
    assert summary.count("\n  img_") == 20 and "... and 6 more" in summary


def test_a_bad_label_rule_is_one_line(tmp_path, capsys):
    folder = labeled_folder(tmp_path / "data", ["1234"] * 12)
    args = ["train", "--data", str(folder), "--out", str(tmp_path / "run"), "--label-rule", "(?P<label>[0-9", "--dry-run"]
    assert main(args) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(errors) == 1 and "not a valid regular expression" in errors[0]


def test_fonts_are_checked_before_the_data_is_read(tmp_path, monkeypatch, symbol_font):
    folder = labeled_folder(tmp_path / "data", [str(1234 + 7 * i) for i in range(12)])
    monkeypatch.setattr(sources, "load_folder", lambda *a, **k: pytest.fail("the folder was read"))
    config = tiny(tmp_path, data=str(folder), mix_synthetic=8, fonts=(str(symbol_font),))
    with pytest.raises(ValueError, match="no glyph"):
        train(config, **QUIET)


def test_the_machines_fonts_pass_the_font_check(tmp_path):
    """--font system names the machine's fonts (fonts.SYSTEM), not a file: the check lets it
    through, and the run draws with them (train --style broad --font system)."""
    from captcha_break.fonts import SYSTEM
    from captcha_break.train.setup import check_fonts

    check_fonts(tiny(tmp_path, fonts=(SYSTEM,), style="broad", chars="0123456789"))  # no "cannot open resource"
    result = train(tiny(tmp_path, fonts=(SYSTEM,), style="broad", chars="0123456789", length="1-4"), **QUIET)
    assert result.best_path.exists()
