"""The alphabet a model reads, and the mapping between text and class indices.

Class 0 is reserved in every model family: it is the CTC blank for sequence models and
"no character here" for multi-head classifiers (so they can read labels shorter than
their number of heads). Characters are classes 1..len(charset).
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np

DEFAULT_CHARS = string.digits + string.ascii_uppercase
BLANK = 0


class LabelError(ValueError):
    """A label that this charset cannot encode."""


@dataclass(frozen=True)
class Charset:
    chars: str = DEFAULT_CHARS

    def __post_init__(self) -> None:
        if not self.chars:
            raise ValueError("a charset needs at least one character")
        if len(set(self.chars)) != len(self.chars):
            raise ValueError(f"charset has repeated characters: {self.chars!r}")

    @classmethod
    def from_labels(cls, labels: list[str]) -> Charset:
        """The sorted set of characters used by `labels`."""
        return cls("".join(sorted(set("".join(labels)))))

    @property
    def num_classes(self) -> int:
        """Output classes of a model: the characters plus class 0 (blank / empty)."""
        return len(self.chars) + 1

    def __len__(self) -> int:
        return len(self.chars)

    def check(self, label: str) -> None:
        """Raise LabelError if `label` is empty or uses characters outside the charset."""
        if not label:
            raise LabelError("empty label")
        bad = sorted(set(label) - set(self.chars))
        if bad:
            raise LabelError(f"label {label!r} has characters outside the charset: {''.join(bad)!r}")

    def encode(self, labels: list[str], width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Labels -> (targets (B, width) int64 padded with 0, lengths (B,) int64).

        `width` defaults to the longest label; a label longer than `width` is an error.
        """
        for label in labels:
            self.check(label)
        lengths = np.array([len(label) for label in labels], dtype=np.int64)
        width = int(lengths.max(initial=0)) if width is None else width
        if lengths.size and lengths.max() > width:
            raise LabelError(f"label longer than the model's {width} positions")
        index = {c: i + 1 for i, c in enumerate(self.chars)}
        targets = np.zeros((len(labels), width), dtype=np.int64)
        for row, label in enumerate(labels):
            targets[row, : len(label)] = [index[c] for c in label]
        return targets, lengths

    def decode(self, indices: np.ndarray) -> list[str]:
        """Class indices (B, L) -> strings, dropping class 0. No CTC collapse here."""
        table = np.array(["", *self.chars], dtype=object)
        return ["".join(table[row[row != BLANK]]) for row in np.asarray(indices)]
