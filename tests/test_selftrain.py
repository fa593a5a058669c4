"""Self-training (train --unlabeled): the first model's sure readings join the labels."""

import csv
from pathlib import Path

import pytest
from PIL import Image

from captcha_break.cli import main
from captcha_break.recognizer import Recognizer
from captcha_break.selftrain import write_readings


def _unlabeled_copy(drawn: Path, folder: Path) -> dict[str, str]:
    """The drawn images under names that carry no label; {absolute path: the drawn text}."""
    folder.mkdir()
    truth = {}
    for i, path in enumerate(sorted(drawn.glob("*.png"))):
        target = folder / f"shot_{i:03d}.png"
        target.write_bytes(path.read_bytes())
        truth[str(target.resolve())] = path.name.split("_")[0]
    return truth


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("selftrain")
    assert main(["generate", "--count", "40", "--seed", "labeled", "--out", str(root / "data"), "--workers", "0"]) == 0
    assert main(["generate", "--count", "24", "--seed", "unlabeled", "--out", str(root / "drawn"), "--workers", "0"]) == 0
    return root, _unlabeled_copy(root / "drawn", root / "unlabeled")


def _train(root: Path, *extra: str) -> int:
    return main(["train", "--data", str(root / "data"), "--unlabeled", str(root / "unlabeled"), "--out", str(root / "run"),
                 "--init", "captcha4", "--dry-run", "--batch-size", "8", "--workers", "0", "--pseudo-threshold", "0.5",
                 *extra])  # fmt: skip


def test_the_second_model_trains_on_the_first_ones_sure_readings(site, capsys):
    root, truth = site
    assert _train(root) == 0
    out = capsys.readouterr().out
    run = root / "run"
    assert (run / "labeled" / "best.pt").exists() and (run / "best.pt").exists()
    rows = {row["file"]: row["label"] for row in csv.DictReader((run / "pseudo_labels.csv").open())}
    # exactly the first model's readings at the threshold or above, by absolute path
    first = Recognizer.load(run / "labeled" / "best.pt")
    readings = dict(zip(truth, first.predict(list(truth))))
    assert rows == {path: p.text for path, p in readings.items() if p.confidence >= 0.5}
    assert rows and sum(label == truth[path] for path, label in rows.items()) > len(rows) / 2  # readings, not noise
    assert f"adding {len(rows)} images of" in out  # into the second model's training split
    assert "validation: the labels alone" in out


def test_a_resumed_run_does_not_train_the_first_stage_again(site, capsys):
    root, _ = site
    assert _train(root, "--resume") == 0
    assert "first stage done" in capsys.readouterr().out


def test_unlabeled_alone_adapts_and_refuses_a_folder_too_small(tmp_path, capsys):
    # Without --data, --unlabeled is label-free adaptation (adapt.py, tests/test_adapt.py).
    code = main(["train", "--unlabeled", str(tmp_path), "--out", str(tmp_path / "run"), "--dry-run"])
    assert code == 2 and "too few to adapt on" in capsys.readouterr().err


def test_the_labeled_folder_itself_gives_only_its_unlabeled_images(site, tmp_path, capsys):
    """Label some of a folder, pass it as both: no labeled image (the test split among them)
    is read and trained on as an unlabeled one."""
    root, _ = site
    folder = tmp_path / "site"
    folder.mkdir()
    drawn = sorted((root / "data").glob("*.png"))
    for path in drawn:
        (folder / path.name).write_bytes(path.read_bytes())
    labeled = drawn[:30]
    (folder / "labels.csv").write_text("file,label\n" + "".join(f"{p.name},{p.name.split('_')[0]}\n" for p in labeled))
    code = main(["train", "--data", str(folder), "--unlabeled", str(folder), "--out", str(tmp_path / "run"), "--init",
                 "captcha4", "--dry-run", "--batch-size", "8", "--workers", "0", "--pseudo-threshold", "0"])  # fmt: skip
    assert code == 0
    rows = list(csv.DictReader((tmp_path / "run" / "pseudo_labels.csv").open()))
    assert sorted(Path(row["file"]).name for row in rows) == sorted(p.name for p in drawn[30:])
    capsys.readouterr()


def test_a_folder_without_images_is_refused_before_any_training(site, tmp_path, capsys):
    root, _ = site
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(["train", "--data", str(root / "data"), "--unlabeled", str(empty), "--out", str(tmp_path / "run"), "--dry-run"])
    assert code == 2 and "no images in this folder" in capsys.readouterr().err
    assert not (tmp_path / "run" / "labeled").exists()


def test_unlabeled_images_are_read_a_chunk_at_a_time_and_none_is_lost(tmp_path, monkeypatch):
    monkeypatch.setenv("CAPTCHA_BREAK_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(7):
        Image.new("L", (40, 20), i * 30).save(folder / f"shot{i}.png")
    (folder / "shot7.png").write_bytes(b"cut sho")
    skip = frozenset({(folder / "shot0.png").resolve()})
    kept, read, unreadable = write_readings("captcha4", str(folder), 0.0, tmp_path / "r.csv", skip, chunk=3)
    assert (kept, read, unreadable) == (6, 6, 1)
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert sorted(Path(row["file"]).name for row in rows) == [f"shot{i}.png" for i in range(1, 7)]
    assert not (tmp_path / "cache").exists()  # a one-off read leaves no decoded copy behind
