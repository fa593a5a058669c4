"""Reading only texts of a given length (`only_length`): the likeliest output of an
allowed length, checked against every output there is on small cases."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from captcha_break.charset import Charset
from captcha_break.decoding import greedy_decode
from captcha_break.schemes import CTC_SCHEME, get_scheme

SMALL = Charset("AB")  # 3 classes with the blank: every path of a few steps can be listed


def collapsed_length(path, scheme: str) -> int:
    return int(get_scheme(scheme).keep(np.array([path]))[0].sum())


def best_by_listing(log_probs: np.ndarray, low: int, high: int, scheme: str) -> float | None:
    """The best score over every path whose text has low..high characters."""
    steps, classes = log_probs.shape
    scores = [
        log_probs[np.arange(steps), path].sum()
        for path in itertools.product(range(classes), repeat=steps)
        if low <= collapsed_length(path, scheme) <= high
        # the positions scheme fills its first slots: "no character" only after the last one
        and (scheme == "ctc" or list(path) == sorted(path, key=lambda c: c == 0))
    ]
    return max(scores) if scores else None


probabilities = st.integers(1, 5).flatmap(
    lambda steps: arrays(np.float64, (steps, SMALL.num_classes), elements=st.floats(0.01, 1.0))
)


@settings(max_examples=200, deadline=None)
@given(probabilities, st.integers(1, 4), st.integers(0, 2), st.sampled_from(["ctc", "positions"]))
def test_the_best_path_of_an_allowed_length_is_the_best_of_all_listed(weights, low, extra, scheme):
    log_probs = np.log(weights / weights.sum(axis=1, keepdims=True))
    high = low + extra
    path = get_scheme(scheme).best_path(log_probs, low, high)
    listed = best_by_listing(log_probs, low, high, scheme)
    if listed is None:
        assert path is None  # too few steps for `low` characters
        return
    assert low <= collapsed_length(path, scheme) <= high
    assert log_probs[np.arange(len(path)), path].sum() == pytest.approx(listed)


def probs_of(path: list[int], classes: int, sure: float = 0.9) -> np.ndarray:
    probs = np.full((1, len(path), classes), (1 - sure) / (classes - 1))
    probs[0, np.arange(len(path)), path] = sure
    return probs


def test_a_doubled_digit_read_once_is_read_twice_when_the_length_says_so():
    digits = Charset("0123456789")
    one, five = digits.chars.index("1") + 1, digits.chars.index("5") + 1
    # "1" held over 4 frames with a doubtful frame in the middle where the second "1" starts
    probs = probs_of([one, one, one, one, 0, five, 0, five], digits.num_classes)
    probs[0, 2, 0] = 0.45  # the blank between the two 1s almost won
    probs[0, 2, one] = 0.5
    assert greedy_decode(probs, digits, CTC_SCHEME)[0].text == "155"
    read = greedy_decode(probs, digits, CTC_SCHEME, lengths=(4, 4))[0]
    assert read.text == "1155"
    assert len(read.char_probs) == 4
    assert read.confidence < greedy_decode(probs, digits, CTC_SCHEME)[0].confidence


@given(arrays(np.float64, (6, SMALL.num_classes), elements=st.floats(0.01, 1.0)))
def test_a_reading_already_of_an_allowed_length_is_left_as_it_is(weights):
    probs = (weights / weights.sum(axis=1, keepdims=True))[None]
    greedy = greedy_decode(probs, SMALL, CTC_SCHEME)[0]
    held = greedy_decode(probs, SMALL, CTC_SCHEME, lengths=(max(1, len(greedy.text)), 6))[0]
    if greedy.text:
        assert held == greedy


def test_too_few_steps_for_the_length_keeps_the_greedy_reading():
    probs = probs_of([1, 0, 2], SMALL.num_classes)
    assert greedy_decode(probs, SMALL, CTC_SCHEME, lengths=(5, 6))[0].text == "AB"
