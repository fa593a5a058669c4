"""Evaluate a recognizer on labeled samples: accuracy, character accuracy, confusions, speed."""

from __future__ import annotations

import csv
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .decoding import Prediction
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


def evaluate(recognizer: Recognizer, samples: Samples, progress: bool = True, folder: str | Path | None = None) -> Evaluation:
    """Run `recognizer` over `samples` in batches and score the strings it reads.
    `folder`: where the samples' files are (see `read_samples`)."""
    decoded, seconds = read_samples(recognizer, samples, progress, folder)
    preds = [d.text for d in decoded]
    return Evaluation(
        scores=score(samples.labels, preds),
        images_per_second=len(samples) / seconds if seconds else 0.0,
        seconds=seconds,
        model=recognizer.info.path,
        predictions=preds,
        confidences=[d.confidence for d in decoded],
    )


def read_samples(
    recognizer: Recognizer, samples: Samples, progress: bool = False, folder: str | Path | None = None
) -> tuple[list[Prediction], float]:
    """What `recognizer` reads of each sample, and the seconds of inference (decoding not
    counted). Given the `folder` the samples' files are in, a model that reads any width
    reads each file as `predict` would, a wide one at its own width, rather than the
    samples' copies at the input size, and a reader of several fits reads each file every way."""
    decoded: list[Prediction] = []
    seconds = 0.0
    step = recognizer.batch_size
    from_files = folder is not None and (recognizer.reads_any_width or len(recognizer.views) > 1)
    starts = range(0, len(samples), step)
    for start in tqdm(starts, desc="evaluate", unit="batch", disable=not progress or None, file=sys.stderr):
        if from_files:
            batch = [recognizer.inputs(Path(folder) / name) for name in samples.names[start : start + step]]
        elif samples.others is not None:  # drawn in every fit the reader reads in
            batch = [[p, *o] for p, o in zip(samples.pixels[start : start + step], samples.others[start : start + step])]
        else:
            batch = np.asarray(samples.pixels[start : start + step])
        began = time.perf_counter()
        decoded += recognizer.predict_arrays(batch)
        seconds += time.perf_counter() - began
    return decoded, seconds


def errors_first(truths: list[str], preds: list[str], count: int) -> list[int]:
    """Indices of up to `count` samples to show: the misread ones first, then right ones."""
    wrong = [i for i, (t, p) in enumerate(zip(truths, preds)) if t != p]
    right = [i for i, (t, p) in enumerate(zip(truths, preds)) if t == p]
    return (wrong + right)[:count]


def write_errors(path: str | Path, samples: Samples, result: Evaluation) -> int:
    """Every misread image as a CSV row (file, label, reading, confidence), the most
    confident reading first: a model that is sure and disagrees with the label is most
    often right, so the top rows are the likeliest wrong labels to look at. Returns the
    number of rows."""
    names = samples.names or [str(i) for i in range(len(samples))]
    rows = [
        (names[i], truth, read, conf)
        for i, (truth, read, conf) in enumerate(zip(samples.labels, result.predictions, result.confidences))
        if truth != read
    ]
    rows.sort(key=lambda row: -row[3])
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "label", "reading", "confidence"])
        writer.writerows((name, truth, read, f"{conf:.4f}") for name, truth, read, conf in rows)
    return len(rows)
