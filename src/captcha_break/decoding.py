"""Greedy decoding of model outputs into text, in NumPy so that inference needs no torch.

Every model returns scores of shape (B, T, C) over the classes of a `Charset`. What T
means depends on the model's decoding scheme:
- "ctc": T time steps; collapse repeats, then drop blanks (class 0).
- "positions": T character slots (one softmax head each); drop the empty class 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .charset import BLANK, Charset

SCHEMES = ("ctc", "positions")


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


def keep_mask(best: np.ndarray, scheme: str) -> np.ndarray:
    """(B, T) best classes -> (B, T) mask of the steps that emit a character."""
    if scheme == "ctc":
        repeated = np.zeros_like(best, dtype=bool)
        repeated[:, 1:] = best[:, 1:] == best[:, :-1]
        return (best != BLANK) & ~repeated
    if scheme == "positions":
        return best != BLANK
    raise ValueError(f"unknown decoding scheme {scheme!r}; expected one of {SCHEMES}")


def greedy_decode(probs: np.ndarray, charset: Charset, scheme: str) -> list[Prediction]:
    """(B, T, C) class probabilities -> one `Prediction` per row."""
    best = probs.argmax(axis=-1)  # (B, T)
    best_p = np.take_along_axis(probs, best[..., None], axis=-1)[..., 0]  # (B, T)
    keep = keep_mask(best, scheme)
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
