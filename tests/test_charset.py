import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from captcha_break.charset import DEFAULT_CHARS, Charset, LabelError
from captcha_break.decoding import greedy_decode
from captcha_break.schemes import CTC_SCHEME, POSITIONS_SCHEME

CHARSET = Charset()
labels = st.text(alphabet=DEFAULT_CHARS, min_size=1, max_size=8)


@given(st.lists(labels, min_size=1, max_size=6))
def test_encode_decode_round_trip(texts):
    targets, lengths = CHARSET.encode(texts)
    assert targets.shape == (len(texts), max(map(len, texts)))
    assert lengths.tolist() == [len(t) for t in texts]
    assert CHARSET.decode(targets) == texts


def ctc_frames(text: str, repeats: list[int], blanks: list[int]) -> np.ndarray:
    """A frame path that greedy CTC must collapse back to `text`: each character repeated,
    blanks sprinkled in, and always a blank between two equal neighbours."""
    frames = [0] * blanks[0]
    for i, c in enumerate(text):
        if i and c == text[i - 1]:
            frames.append(0)
        frames += [DEFAULT_CHARS.index(c) + 1] * repeats[i]
        frames += [0] * blanks[i + 1]
    return np.array(frames)


@given(labels, st.data())
def test_ctc_greedy_collapse(text, data):
    repeats = data.draw(st.lists(st.integers(1, 3), min_size=len(text), max_size=len(text)))
    blanks = data.draw(st.lists(st.integers(0, 2), min_size=len(text) + 1, max_size=len(text) + 1))
    frames = ctc_frames(text, repeats, blanks)
    probs = np.full((1, len(frames), CHARSET.num_classes), 0.01)
    probs[0, np.arange(len(frames)), frames] = 0.9
    [decoded] = greedy_decode(probs, CHARSET, CTC_SCHEME)
    assert decoded.text == text
    assert len(decoded.char_probs) == len(text)
    assert decoded.confidence == pytest.approx(0.9 ** len(frames))


def test_ctc_keeps_doubled_letters_split_by_blank_and_merges_runs():
    probs = np.zeros((1, 6, CHARSET.num_classes))
    a, b = DEFAULT_CHARS.index("A") + 1, DEFAULT_CHARS.index("B") + 1
    for t, k in enumerate([a, a, 0, a, b, b]):
        probs[0, t, k] = 1.0
    assert greedy_decode(probs, CHARSET, CTC_SCHEME)[0].text == "AAB"
    assert greedy_decode(probs, CHARSET, POSITIONS_SCHEME)[0].text == "AAABB"


def test_positions_drop_empty_slots():
    probs = np.zeros((1, 4, CHARSET.num_classes))
    for t, k in enumerate([1, 0, 2, 0]):
        probs[0, t, k] = 1.0
    assert greedy_decode(probs, CHARSET, POSITIONS_SCHEME)[0].text == "01"


@pytest.mark.parametrize("label", ["abc", "AB-C", ""])
def test_labels_outside_charset_are_rejected_clearly(label):
    with pytest.raises(LabelError) as err:
        CHARSET.encode(["ABCD", label])
    assert "charset" in str(err.value) or "empty" in str(err.value)


def test_charset_from_labels_and_validation():
    assert Charset.from_labels(["B2", "A1"]).chars == "12AB"
    with pytest.raises(ValueError):
        Charset("AAB")
    with pytest.raises(LabelError):
        Charset("AB").encode(["ABAB"], width=3)
