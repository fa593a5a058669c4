"""Self-training: a site's unlabeled images, read by the model its labels trained, teach a second model.

Labels are what a site's captchas cost; its images are free (a user can download thousands).
With `--unlabeled DIR`, `train` first trains on the labels as always (into RUN/labeled),
reads every image of DIR with that model, keeps the readings it is at least
`--pseudo-threshold` sure of (RUN/pseudo_labels.csv) and trains a second model from the same
start on the labels plus those readings (into RUN). Validation and the test split stay the
labeled images only, so both models are scored alike, and RUN/best.pt is the better of the
two on validation.

What it gained on sites in fonts the base model never saw, and why the threshold is 0.9 and
not 0.8: docs/notebook.md, "Self-training".
"""

from __future__ import annotations

import csv
import dataclasses
import shutil
import time
from pathlib import Path

from .atomic import atomic_write
from .config import TrainConfig
from .labels import image_files, scan_folder
from .train import TrainResult, train

FIRST_SHARE = 1 / 3  # of a --time-budget: the first model sees fewer images than the second
PSEUDO_LABELS = "pseudo_labels.csv"


def self_train(config: TrainConfig, resume: bool = False, log=print) -> TrainResult:
    """Train on the labels, read `config.unlabeled` with that model, train again on both.

    A run stopped at any point continues with --resume: a finished first stage (its
    readings written) is not run again."""
    started = time.monotonic()
    if not config.data:
        raise ValueError("--unlabeled needs --data: the labeled images the first model trains on")
    _check_folder(config.unlabeled)  # before the first stage's minutes, not after them
    out = Path(config.out)
    readings = out / PSEUDO_LABELS
    first_out = out / "labeled"
    first = dataclasses.replace(config, out=str(first_out), unlabeled=None, time_budget=config.time_budget * FIRST_SHARE)
    if readings.exists():
        log(f"first stage done: {first_out}, its readings in {readings}")
        first_path = first_out / "best.pt"
    else:
        log(f"first stage: training on the labels alone, into {first_out}")
        first_path = train(first, resume=resume and (first_out / "last.pt").exists(), log=log).best_path
        # A labeled image is never read as an unlabeled one: the test split must stay unseen
        # when DIR is the labeled folder itself (its images not labeled yet are the point).
        labeled = frozenset(p.resolve() for p, _ in scan_folder(config.data, config.label_rule, config.fold_case).items)
        kept, total, unreadable = write_readings(first_path, config.unlabeled, config.pseudo_threshold, readings, labeled)
        skipped = f"; {unreadable} unreadable, skipped" if unreadable else ""
        log(f"the first model read {total} images of {config.unlabeled}; {kept} at confidence >= "
            f"{config.pseudo_threshold} go to {readings}{skipped}")  # fmt: skip
    left = config.time_budget - (time.monotonic() - started) if config.time_budget else 0.0
    if config.time_budget and left < 60:
        raise ValueError(f"--time-budget {config.time_budget:.0f}s left {left:.0f}s for the second stage: give more time")
    second = dataclasses.replace(config, pseudo_labels=str(readings.resolve()), time_budget=left)
    log("second stage: the labels plus the first model's sure readings")
    result = train(second, resume=resume and (out / "last.pt").exists(), log=log)
    return _better(result, first_path, out, log)


def write_readings(
    model: Path, folder: str, threshold: float, path: Path, skip: frozenset[Path] = frozenset(), chunk: int = 2048
) -> tuple[int, int, int]:
    """`folder`'s images but `skip` (resolved paths) read by `model` as `predict` reads them,
    `chunk` at a time (a folder of any size is read without holding it all), those read at
    >= `threshold` written to `path` as a labels file of absolute paths (written whole, then
    renamed: a kill leaves none); (rows written, images read, images that could not be read)."""
    from .preprocess import ImageError
    from .recognizer import Recognizer

    recognizer = Recognizer.load(model)
    files = [p for p in image_files(Path(folder)) if p.resolve() not in skip]
    rows, unreadable = [], 0
    for file, p in recognizer.read_files(files, chunk):
        if isinstance(p, ImageError):
            unreadable += 1
        elif p.confidence >= threshold and p.text:
            rows.append((str(file.resolve()), p.text))
    with atomic_write(path) as f:
        csv.writer(f).writerows([("file", "label"), *rows])
    return len(rows), len(files) - unreadable, unreadable


def _check_folder(folder: str) -> None:
    path = Path(folder)
    if not path.is_dir():
        raise FileNotFoundError(f"--unlabeled: no folder at {folder}")
    if not image_files(path):
        raise ValueError(f"--unlabeled {folder}: no images in this folder")


def _better(second: TrainResult, first_path: Path, out: Path, log) -> TrainResult:
    """The second model, unless the first read more of the validation images: then the first
    one's best.pt and test report are copied over the second's."""
    from .checkpoint import load_checkpoint

    first_acc, second_acc = (load_checkpoint(p).meta.get("accuracy") for p in (first_path, second.best_path))
    log(f"validation: the labels alone {_pct(first_acc)}, with the readings {_pct(second_acc)}")
    if first_acc is None or second_acc is None or second_acc >= first_acc:
        return second
    log("keeping the first model: the readings did not help here")
    shutil.copyfile(first_path, second.best_path)
    report = first_path.parent / "test_report.json"
    if report.exists():
        shutil.copyfile(report, out / "test_report.json")
    return dataclasses.replace(second, best_scores=None, test_report=None)


def _pct(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2%}"
