"""scripts/real_corpus.py: the pre-training corpus never lists a held-out site, keeps a fifth of
each site apart to measure on, and leaves out labels whose case it cannot know."""

import csv
from pathlib import Path

import pytest
from conftest import script_module
from PIL import Image


@pytest.fixture(scope="module")
def corpus():
    return script_module("real_corpus")


def _site(folder: Path, labels: list[str]) -> None:
    folder.mkdir(parents=True)
    rows = [("file", "label")]
    for i, label in enumerate(labels):
        Image.new("RGB", (60, 20), "white").save(folder / f"{i:06d}.png")
        rows.append((f"{i:06d}.png", label))
    with (folder / "labels.csv").open("w", newline="") as f:
        csv.writer(f).writerows(rows)


def test_the_corpus_lists_train_sites_only_and_keeps_a_fifth_apart(corpus, tmp_path):
    sites = tmp_path / "datasets" / "real_sites"
    (sites.parent).mkdir()
    sites.mkdir()
    (sites / "README.md").write_text(
        "| folder | role |\n| --- | --- |\n| `alpha` | train |\n| `beta` | **held out** |\n| `tjsp_esaj_br` | train |\n"
    )
    _site(sites / "alpha", [f"{i:04d}" for i in range(50)] + ["ab\u0436c"])  # one label outside the charset
    _site(sites / "beta", ["9999"] * 10)
    _site(sites / "tjsp_esaj_br", ["abcde"] * 10)  # lower-case labels, glyphs of both cases
    out = tmp_path / "corpus" / "train.csv"
    counts = corpus.gather(sites.parent, out, "0123456789abcdefghijklmnopqrstuvwxyz", apart=tmp_path / "corpus")
    listed = list(csv.reader(out.open()))[1:]
    assert listed and all("/alpha/" in path for path, _ in listed)  # held out and unknown case: never listed
    apart = list(csv.reader((tmp_path / "corpus" / "alpha" / "labels.csv").open()))[1:]
    assert 0 < len(apart) < 51 and not {Path(p).name for p, _ in listed} & {name for name, _ in apart}
    assert all((tmp_path / "corpus" / "alpha" / name).is_file() for name, _ in apart)
    assert len(listed) + len(apart) + counts["alpha (left out: characters outside --chars)"] == 51
    tjsp_apart = list(csv.reader((tmp_path / "corpus" / "tjsp_esaj_br" / "labels.csv").open()))[1:]
    assert counts["tjsp_esaj_br (left out: no case read)"] + len(tjsp_apart) == 10
    assert not (tmp_path / "corpus" / "beta").exists()
