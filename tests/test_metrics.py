import pytest

from captcha_break.metrics import edit_ops, score


def test_edit_ops_finds_substitutions():
    assert edit_ops("ABCD", "ABCD") == (0, [])
    assert edit_ops("ABCD", "A8CD") == (1, [("B", "8")])
    assert edit_ops("ABCD", "ABD")[0] == 1
    assert edit_ops("", "AB")[0] == 2


def test_score_counts_whole_captchas_and_characters():
    s = score(["ABCD", "ABCD", "EFGH", "XY"], ["ABCD", "ABCO", "EFGH", "XYZ"])
    assert s.count == 4
    assert s.accuracy == pytest.approx(0.5)
    assert s.cer == pytest.approx(2 / 14)
    assert s.char_accuracy == pytest.approx(1 - 2 / 14)
    assert s.confusions == [("D", "O", 1)]
    assert s.accuracy_by_length == {2: 0.0, 4: pytest.approx(2 / 3)}


def test_score_rejects_mismatched_lists():
    with pytest.raises(ValueError):
        score(["A"], [])
