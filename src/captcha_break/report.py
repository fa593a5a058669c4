"""The report on a held-out test split: scores by length and a gallery of the errors."""

from __future__ import annotations

import json
from pathlib import Path

from .evaluate import evaluate
from .folders import Samples
from .plots import plot_predictions
from .recognizer import Recognizer

GALLERY_SIZE = 24


def write_report(model: str | Path, samples: Samples, out: Path, log=print, folder: str | Path | None = None) -> dict:
    """Evaluate `model` on `samples`; write out/test_report.json and out/test_errors.png.
    `folder`: where the samples' files are, read as `evaluate --data` and `predict` read
    them (a padded model reads a wide image at its own width)."""
    result = evaluate(Recognizer.load(model), samples, progress=False, folder=folder)
    wrong = [i for i, (t, p) in enumerate(zip(samples.labels, result.predictions)) if t != p][:GALLERY_SIZE]
    report = result.to_dict()
    if wrong:
        gallery = out / "test_errors.png"
        plot_predictions(
            samples.pixels[wrong], [samples.labels[i] for i in wrong], [result.predictions[i] for i in wrong], gallery, cols=6
        )
        report["errors_png"] = str(gallery)
    (out / "test_report.json").write_text(json.dumps(report, indent=2) + "\n")
    s = result.scores
    by_length = ", ".join(f"{k}: {v:.2%}" for k, v in s.accuracy_by_length.items())
    log(f"test split ({s.count} images): accuracy {s.accuracy:.4f}, CER {s.cer:.4f}; by length {by_length}")
    return report
