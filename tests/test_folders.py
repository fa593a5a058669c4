import shutil

import numpy as np
import pytest
from PIL import Image

from captcha_break.charset import Charset
from captcha_break.folders import holdout_split, load_folder, split_indices
from captcha_break.labels import label_from_name, label_pattern, scan_folder
from captcha_break.preprocess import InputSpec


@pytest.mark.parametrize(
    "name,label",
    [
        ("ABCD.png", "ABCD"),
        ("ABCD_17.png", "ABCD"),
        ("ABCD-3.png", "ABCD"),
        ("0015.1.png", "0015"),
        ("00KAZ749-0.png", "00KAZ749"),
        ("5122.png", "5122"),
    ],
)
def test_auto_label_rule(name, label, tmp_path):
    assert label_from_name(tmp_path / name, label_pattern("auto")) == label


def test_labels_file_wins_over_names(tmp_path):
    for name in ("a.png", "b.png"):
        Image.new("RGB", (40, 20), "white").save(tmp_path / name)
    (tmp_path / "labels.csv").write_text("file,label\na.png,XY12\n")
    found = scan_folder(tmp_path)
    assert [(p.name, label) for p, label in found.items] == [("a.png", "XY12")]
    assert found.skipped == [("b.png", "no label")]


def copy_some(source, target, n):
    target.mkdir()
    for path in sorted(source.iterdir())[:n]:
        shutil.copy(path, target / path.name)
    return target


def test_real_folders_load_with_their_quirks(shared_datasets, tmp_path):
    digits = copy_some(shared_datasets / "digits_wave_4", tmp_path / "digits", 40)
    upper = copy_some(shared_datasets / "variable_upper", tmp_path / "upper", 40)
    spec = InputSpec(64, 192, 1)
    d = load_folder(digits, spec)
    assert len(d.samples) == 40 and not d.skipped
    assert all(len(label) == 4 and label.isdigit() for label in d.samples.labels)
    u = load_folder(upper, spec)
    assert len(u.samples) == 40
    assert {len(label) for label in u.samples.labels} <= set(range(4, 9))
    assert "-" not in "".join(u.samples.labels)
    # RGBA on a transparent background: the corners are white, not black.
    assert u.samples.pixels[:, 0, 0, 0].min() > 200


def test_bad_files_and_labels_are_skipped_with_reasons(tmp_path):
    Image.new("RGB", (40, 20), "white").save(tmp_path / "AB12.png")
    Image.new("RGB", (40, 20), "white").save(tmp_path / "ab12.png")
    (tmp_path / "CD34.png").write_bytes(b"not a png")
    (tmp_path / "EF56.png").write_bytes(b"")
    loaded = load_folder(tmp_path, InputSpec(20, 40, 1), charset=Charset())
    assert loaded.samples.labels == ["AB12"]
    reasons = dict(loaded.skipped)
    assert "outside the charset" in reasons["ab12.png"]
    assert "not an image" in reasons["CD34.png"]
    assert "empty" in reasons["EF56.png"]


def test_cache_is_reused_and_refreshed(tmp_path):
    Image.new("RGB", (40, 20), "white").save(tmp_path / "AB12.png")
    spec = InputSpec(20, 40, 1)
    first = load_folder(tmp_path, spec)
    assert isinstance(load_folder(tmp_path, spec).samples.pixels, np.memmap)  # from the cache
    Image.new("RGB", (40, 20), "black").save(tmp_path / "CD34.png")
    assert len(load_folder(tmp_path, spec).samples) == len(first.samples) + 1


def test_split_is_deterministic_and_complete():
    train, val, test = split_indices(100, (0.1, 0.2), seed=3)
    assert (len(train), len(val), len(test)) == (70, 10, 20)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(100))
    again = split_indices(100, (0.1, 0.2), seed=3)
    assert all((a == b).all() for a, b in zip((train, val, test), again))
    with pytest.raises(ValueError):
        split_indices(10, (0.6, 0.5))


def test_test_split_is_the_same_whatever_the_seed_and_validation_split():
    train, val, test = holdout_split(200, 0.1, 0.2, seed=1)
    assert (len(train), len(val), len(test)) == (140, 20, 40)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(200))
    other_train, other_val, other_test = holdout_split(200, 0.15, 0.2, seed=2)
    assert (other_test == test).all()  # runs with other seeds are scored on the same images
    assert not np.array_equal(other_val, val)
    with pytest.raises(ValueError, match="leave images to train on"):
        holdout_split(10, 0.5, 0.5)
