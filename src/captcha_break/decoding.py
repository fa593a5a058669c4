"""Greedy decoding of model outputs into text, in NumPy so that inference needs no torch.

Every model returns scores of shape (B, T, C) over the classes of a `Charset`; which
steps emit a character is the model's decoding scheme's rule (schemes.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .charset import BLANK, Charset
from .schemes import Scheme


@dataclass
class Prediction:
    """What reading one captcha gives, everywhere: the API, the CLI, the HTTP service."""

    text: str
    confidence: float  # probability of the whole string under greedy decoding
    char_probs: list[float]  # probability of each character of `text`

    def to_dict(self) -> dict:
        return {"text": self.text, "confidence": self.confidence, "char_probs": self.char_probs}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, stable for large logits."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def greedy_decode(
    probs: np.ndarray, charset: Charset, scheme: Scheme, lengths: tuple[int, int] | None = None
) -> list[Prediction]:
    """(B, T, C) class probabilities -> one `Prediction` per row.

    lengths: (low, high) characters a text may have. A row whose greedy reading has
    another length is read again as the likeliest output of an allowed length (a site's
    captchas are always 4 digits: a doubled digit read once is then read twice); rows
    already in range are the same either way, as greedy is the likeliest output of all.
    """
    best = probs.argmax(axis=-1)  # (B, T)
    keep = scheme.keep(best)
    if lengths is not None:
        counts = keep.sum(axis=1)
        for row in np.flatnonzero((counts < lengths[0]) | (counts > lengths[1])):
            path = scheme.best_path(np.log(np.clip(probs[row], 1e-12, 1.0)), *lengths)
            if path is not None:  # else too few steps for that many characters: greedy stays
                best[row] = path
        keep = scheme.keep(best)
    best_p = np.take_along_axis(probs, best[..., None], axis=-1)[..., 0]  # (B, T)
    # The whole string's confidence is the product over every step, the blanks and
    # empty slots included: a doubtful blank can hide a character just as well.
    confidence = np.exp(np.log(np.clip(best_p, 1e-12, 1.0)).sum(axis=1))
    texts = charset.decode(np.where(keep, best, BLANK))
    return [
        Prediction(text, float(conf), [float(p) for p in row_p[row_keep]])
        for text, conf, row_p, row_keep in zip(texts, confidence, best_p, keep)
    ]


def _upper(char: str) -> str:
    upper = char.upper()
    return upper if len(upper) == 1 else char  # 'ß'.upper() is 'SS': leave such letters be


def upper(text: str) -> str:
    """Text in upper case as fold_case reads it: one character for one."""
    return "".join(map(_upper, text))


def fold_case(probs: np.ndarray, charset: Charset) -> tuple[np.ndarray, Charset]:
    """Read case-insensitively: each letter's two cases become one upper-case class.

    The probabilities of 'a' and 'A' are added, so a model unsure of the case (o/O, s/S,
    x/X look alike in many fonts) is sure of the letter. Returns (probs over the folded
    classes, the folded charset); a charset with no lower case comes back unchanged.
    """
    folded = Charset("".join(dict.fromkeys(_upper(c) for c in charset.chars)))
    if folded == charset:
        return probs, charset
    merge = np.zeros((charset.num_classes, folded.num_classes), dtype=probs.dtype)
    merge[BLANK, BLANK] = 1
    for i, char in enumerate(charset.chars):
        merge[i + 1, folded.chars.index(_upper(char)) + 1] = 1
    return probs @ merge, folded


def restrict(probs: np.ndarray, charset: Charset, chars: str) -> tuple[np.ndarray, Charset]:
    """Read only `chars` (a digits-only site: "0123456789"): the other characters' classes
    are dropped and each step's probabilities renormalised over the blank and `chars`.

    What a model knows of look-alikes outside the site's alphabet (O for 0, S for 5) then
    cannot turn a right reading wrong. Returns (probs over the kept classes, their charset).
    """
    kept = Charset("".join(dict.fromkeys(chars)))
    missing = sorted(set(kept.chars) - set(charset.chars))
    if missing:
        raise ValueError(f"the model cannot read {''.join(missing)!r}: it reads {charset.chars!r}")
    columns = [BLANK] + [charset.chars.index(char) + 1 for char in kept.chars]
    probs = probs[..., columns]
    return probs / np.clip(probs.sum(axis=-1, keepdims=True), 1e-12, None), kept
