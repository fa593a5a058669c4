"""Decoding schemes: how a model's outputs become text, and everything that follows from it.

A model's output is (B, T, classes). What T means is its scheme:
- "ctc": T time steps along the image's width (CRNN). Repeats collapse and blanks (class 0)
  drop; CTC loss; any input width works, so export keeps the width dynamic and fine-tuning
  may widen the input; a label needs one frame a character plus one between repeats.
- "positions": T character slots, one softmax head each (the multi-head CNN). Class 0 is
  "no character"; per-slot cross-entropy; the input size is fixed; a label needs one slot
  a character.
Each scheme is one object holding all of that: models declare theirs, and decoding, loss,
validation and export take it; checkpoints and ONNX files carry its name, looked up
(get_scheme) only where they are read. torch is imported only by `loss`, so reading captchas never needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .charset import BLANK

if TYPE_CHECKING:
    import torch


class Scheme(Protocol):
    name: str
    variable_width: bool  # the input may be wider than trained: the width is a time axis
    unit: str  # what a model's output steps are, in messages

    def fit_hint(self, width: int, slots: int) -> str:
        """What to do about labels that need more output steps than the model has."""

    def keep(self, best: np.ndarray) -> np.ndarray:
        """(B, T) best classes -> (B, T) mask of the steps that emit a character."""

    def loss(self, logits: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Mean loss of a batch: logits (B, T, C) fp32, targets (B, L) 0-padded, lengths (B,)."""

    def slots_needed(self, label: str) -> int:
        """Output steps the model needs to emit `label`."""

    def best_path(self, log_probs: np.ndarray, low: int, high: int) -> np.ndarray | None:
        """(T, C) log probabilities -> the (T,) classes of the likeliest output whose text
        has `low` to `high` characters, or None where no output of such a length fits."""


@dataclass(frozen=True)
class CTC:
    name: str = "ctc"
    variable_width: bool = True
    unit: str = "CTC frames"

    def fit_hint(self, width: int, slots: int) -> str:
        return f"widen --input-size, about {width // slots} pixels a frame"

    def keep(self, best: np.ndarray) -> np.ndarray:
        repeated = np.zeros_like(best, dtype=bool)
        repeated[:, 1:] = best[:, 1:] == best[:, :-1]
        return (best != BLANK) & ~repeated

    def loss(self, logits, targets, lengths):
        import torch
        import torch.nn.functional as F

        log_probs = logits.log_softmax(-1).transpose(0, 1)  # (T, B, C) as ctc_loss wants
        frames = torch.full((logits.shape[0],), logits.shape[1], dtype=torch.long)
        # zero_infinity: a label longer than the frames gives inf, which must not poison the
        # batch; such labels are refused before training (train/setup.py, check_label_fit), this is
        # the last guard.
        return F.ctc_loss(log_probs, targets, frames, lengths, blank=BLANK, zero_infinity=True)

    def slots_needed(self, label: str) -> int:
        # n frames for n characters, plus a blank between each repeat (CTC collapses them)
        return len(label) + sum(a == b for a, b in zip(label, label[1:]))

    def best_path(self, log_probs, low, high):
        # Viterbi over states (characters emitted so far, class of the last frame): a frame
        # either repeats the last frame's class (a blank, or the same character held: the
        # count stays) or starts a character (any class but the last frame's: the count
        # grows). Greedy decoding is the same search without the count.
        frames, classes = log_probs.shape
        score = np.full((high + 1, classes), -np.inf)
        score[0, BLANK] = log_probs[0, BLANK]
        score[1, 1:] = log_probs[0, 1:]
        counts = np.arange(high + 1)[:, None]
        back = np.zeros((frames, high + 1, classes, 2), dtype=np.int64)  # (count, class) of the frame before
        for t in range(1, frames):
            stay = score.copy()  # same class, same count; a blank may follow anything
            stay_from = np.broadcast_to(np.arange(classes), score.shape).copy()
            last = score.argmax(axis=1)
            stay[:, BLANK], stay_from[:, BLANK] = score[counts[:, 0], last], last
            # a new character d after count-1 characters, from the best last class other than d
            first = last[:-1, None]
            runner_up = np.where(np.arange(classes) == first, -np.inf, score[:-1]).argmax(axis=1)[:, None]
            other = np.where(first == np.arange(1, classes), runner_up, first)
            start = np.full_like(score, -np.inf)
            start[1:, 1:] = np.take_along_axis(score[:-1], other, axis=1)
            started = start > stay
            score = np.where(started, start, stay) + log_probs[t]
            back[t, ..., 0] = np.where(started, counts - 1, counts)
            back[t, ..., 1] = np.where(started, np.pad(other, ((1, 0), (1, 0))), stay_from)
        ends = score[low : high + 1]
        if not np.isfinite(ends).any():
            return None  # too few frames for `low` characters
        count, cls = np.unravel_index(ends.argmax(), ends.shape)
        count += low
        path = np.empty(frames, dtype=np.int64)
        for t in range(frames - 1, -1, -1):
            path[t] = cls
            count, cls = back[t, count, cls]
        return path


@dataclass(frozen=True)
class Positions:
    name: str = "positions"
    variable_width: bool = False
    unit: str = "character heads"

    def fit_hint(self, width: int, slots: int) -> str:
        return "a CRNN reads any length"

    def keep(self, best: np.ndarray) -> np.ndarray:
        return best != BLANK

    def loss(self, logits, targets, lengths):
        import torch.nn.functional as F

        slots = logits.shape[1]
        if targets.shape[1] > slots:
            raise ValueError(f"labels of {targets.shape[1]} characters but the model has {slots} heads")
        padded = F.pad(targets, (0, slots - targets.shape[1]), value=BLANK)  # (B, slots): "no character"
        return F.cross_entropy(logits.flatten(0, 1), padded.flatten())

    def slots_needed(self, label: str) -> int:
        return len(label)

    def best_path(self, log_probs, low, high):
        # Training fills the first n slots and leaves the rest "no character" (loss above):
        # the best such output for each n in range.
        slots = len(log_probs)
        if low > slots:
            return None
        chars = log_probs[:, 1:].argmax(axis=1) + 1
        filled = np.take_along_axis(log_probs, chars[:, None], axis=1)[:, 0]
        empty = log_probs[:, BLANK]
        totals = [filled[:n].sum() + empty[n:].sum() for n in range(low, min(high, slots) + 1)]
        n = low + int(np.argmax(totals))
        return np.where(np.arange(slots) < n, chars, BLANK)


CTC_SCHEME, POSITIONS_SCHEME = CTC(), Positions()
SCHEMES: dict[str, Scheme] = {s.name: s for s in (CTC_SCHEME, POSITIONS_SCHEME)}


def get_scheme(name: str) -> Scheme:
    if name not in SCHEMES:
        raise ValueError(f"unknown decoding scheme {name!r}; expected one of {', '.join(SCHEMES)}")
    return SCHEMES[name]
