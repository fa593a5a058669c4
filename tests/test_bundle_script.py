"""scripts/bundle_model.py: the card of a bundled model trained further keeps how it was made."""

import pytest
from conftest import script_module


@pytest.fixture(scope="module")
def bundle():
    return script_module("bundle_model")


def test_an_extended_card_tells_both_runs(bundle):
    prior = {"command": "captcha-break train A", "hardware": "CPU one", "notes": "Run 1 went well.", "epochs": 10}
    card = {"command": "captcha-break train B", "hardware": "CPU two", "notes": "Paused once.", "epochs": 16, "accuracy": 0.9}
    extended = bundle.extend_card(prior, card, first_epoch=11)
    assert extended["command"] == "captcha-break train A\ncaptcha-break train B"
    assert extended["hardware"] == "CPU one; epochs 11-16: CPU two"
    assert extended["notes"] == "Run 1 went well. Epochs 11-16: Paused once."
    assert extended["accuracy"] == 0.9 and extended["epochs"] == 16  # the new run's figures, not the prior's


def test_an_extended_card_without_new_notes_keeps_the_old(bundle):
    prior = {"command": "a", "hardware": "h", "notes": "Old."}
    extended = bundle.extend_card(prior, {"command": "b", "hardware": "h2", "notes": "", "epochs": 3}, first_epoch=2)
    assert extended["notes"] == "Old."


def test_extending_a_model_that_is_not_bundled_says_so(bundle):
    with pytest.raises(SystemExit, match="no bundled model 'nonesuch'"):
        bundle.bundled_card("nonesuch")


def test_the_bundled_default_has_a_card_to_extend(bundle):
    if not (bundle.ASSETS / "captcha4.pt").exists():
        pytest.skip("no bundled default")
    assert bundle.bundled_card("captcha4")["command"].startswith("captcha-break train")
