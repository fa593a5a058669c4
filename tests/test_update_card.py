"""scripts/update_card.py: a bundled model's card changes in all three copies, its weights in none."""

import json
import shutil
from pathlib import Path

import onnx
import pytest
import torch
from conftest import SCRIPTS, script_module

from captcha_break.assets import ASSETS, ONNX_METADATA_KEY
from captcha_break.checkpoint import load_checkpoint

NAME = "cnn_fast"  # the smallest bundled model


@pytest.fixture
def update(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))  # it imports bundle_model beside it
    return script_module("update_card")


@pytest.fixture
def assets(tmp_path):
    if not (ASSETS / f"{NAME}.pt").exists():
        pytest.skip(f"no bundled {NAME}")
    for suffix in (".pt", ".onnx", ".log.csv", ".md"):
        shutil.copy(ASSETS / f"{NAME}{suffix}", tmp_path / f"{NAME}{suffix}")
    return tmp_path


def onnx_card(path: Path) -> dict:
    proto = onnx.load(str(path))
    return json.loads(next(e.value for e in proto.metadata_props if e.key == ONNX_METADATA_KEY))["meta"]["card"]


def test_notes_and_out_of_box_rows_reach_all_three_copies(update, assets):
    before = load_checkpoint(assets / f"{NAME}.pt")
    graph_before = onnx.load(str(assets / f"{NAME}.onnx")).graph.SerializeToString()
    results = assets / "out_of_box.json"
    results.write_text(json.dumps({"datasets": {"some_set": {
        f"{NAME} (held)": {"accuracy": 0.5, "char_accuracy": 0.75},
        "ddddocr 1.6.1": {"accuracy": 0.25, "char_accuracy": 0.5},
        "another_model": {"accuracy": 0.9, "char_accuracy": 0.9},
    }}}))  # fmt: skip
    update.main([NAME, "--assets", str(assets), "--replace", "first four runs", "first 4 runs", "--out-of-box", str(results)])

    after = load_checkpoint(assets / f"{NAME}.pt")
    for card in (after.meta["card"], onnx_card(assets / f"{NAME}.onnx")):
        assert card["notes"].startswith("The first 4 runs")
        assert card["out_of_box"] == [["some_set", f"{NAME} (held)", "50.00% (chars 75.00%)"],
                                      ["some_set", "ddddocr 1.6.1", "25.00% (chars 50.00%)"]]  # fmt: skip
        assert card["accuracy"] == before.meta["card"]["accuracy"]
    markdown = (assets / f"{NAME}.md").read_text()
    assert "The first 4 runs" in markdown and "| some_set | ddddocr 1.6.1 | 25.00% (chars 50.00%) |" in markdown
    # The weights: the same tensors, still stored as they were (fp16), and the same ONNX graph.
    assert before.state_dict.keys() == after.state_dict.keys()
    for key, tensor in before.state_dict.items():
        assert after.state_dict[key].dtype == tensor.dtype and torch.equal(after.state_dict[key], tensor)
    assert onnx.load(str(assets / f"{NAME}.onnx")).graph.SerializeToString() == graph_before


def test_a_replacement_that_hits_nothing_changes_nothing(update, assets):
    original = (assets / f"{NAME}.pt").read_bytes()
    with pytest.raises(SystemExit, match="occurs 0 times"):
        update.main([NAME, "--assets", str(assets), "--replace", "no such words", "x"])
    assert (assets / f"{NAME}.pt").read_bytes() == original


def test_a_model_that_is_not_bundled_is_named(update, tmp_path):
    with pytest.raises(SystemExit, match="no bundled model 'nonesuch'"):
        update.main(["nonesuch", "--assets", str(tmp_path), "--replace", "a", "b"])
