"""Evaluate a recognizer on labeled samples: accuracy, character accuracy, confusions, speed."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from .folders import Samples
from .metrics import Scores, score
from .recognizer import Recognizer


@dataclass
class Evaluation:
    scores: Scores
    images_per_second: float  # inference only (data loading and generation excluded)
    seconds: float
    model: str
    predictions: list[str]
    confidences: list[float]

    def to_dict(self) -> dict:
        return {
            **self.scores.to_dict(),
            "images_per_second": self.images_per_second,
            "seconds": self.seconds,
            "model": self.model,
        }


def evaluate(recognizer: Recognizer, samples: Samples, progress: bool = True) -> Evaluation:
    """Run `recognizer` over `samples` in batches and score the strings it reads."""
    preds: list[str] = []
    confidences: list[float] = []
    seconds = 0.0
    step = recognizer.batch_size
    starts = range(0, len(samples), step)
    for start in tqdm(starts, desc="evaluate", unit="batch", disable=not progress or None, file=sys.stderr):
        batch = np.asarray(samples.pixels[start : start + step])
        began = time.perf_counter()
        decoded = recognizer.predict_pixels(batch)
        seconds += time.perf_counter() - began
        preds += [d.text for d in decoded]
        confidences += [d.confidence for d in decoded]
    return Evaluation(
        scores=score(samples.labels, preds),
        images_per_second=len(samples) / seconds if seconds else 0.0,
        seconds=seconds,
        model=recognizer.info.path,
        predictions=preds,
        confidences=confidences,
    )


def errors_first(truths: list[str], preds: list[str], count: int) -> list[int]:
    """Indices of up to `count` samples to show: the misread ones first, then right ones."""
    wrong = [i for i, (t, p) in enumerate(zip(truths, preds)) if t != p]
    right = [i for i, (t, p) in enumerate(zip(truths, preds)) if t == p]
    return (wrong + right)[:count]
