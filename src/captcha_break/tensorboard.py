"""TensorBoard event files beside log.csv, when the tensorboard package is installed.

`tensorboard --logdir runs/` then shows every run's losses, accuracies, learning rate and
speed per epoch, and a few validation captchas with what the model read. Without the
package this does nothing: log.csv stays the record.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np


class EpochBoard:
    def __init__(self, out: Path, enabled: bool = True):
        self.writer = None
        if enabled and importlib.util.find_spec("tensorboard") is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(out / "tensorboard"))

    def epoch(self, record, pixels: np.ndarray, truths: list[str], preds: list[str]) -> None:
        """One epoch's figures (an EpochRecord) and up to 8 validation images with their readings."""
        if self.writer is None:
            return
        step = record.epoch
        for name in ("train_loss", "val_loss", "accuracy", "char_accuracy", "lr", "images_per_second"):
            self.writer.add_scalar(name, getattr(record, name), step)
        shown = min(8, len(truths))
        if shown:
            self.writer.add_images("validation", np.asarray(pixels[:shown]), step, dataformats="NCHW")
            rows = [f"| {t} | {p or '∅'} | {'ok' if t == p else 'WRONG'} |" for t, p in zip(truths[:shown], preds[:shown])]
            self.writer.add_text("validation", "| truth | read | |\n|---|---|---|\n" + "\n".join(rows), step)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
