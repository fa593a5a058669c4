"""Weight averaging: runs fine-tuned from one model, averaged into one (a "model soup").

Runs that start from the same weights and train on with different seeds end in one basin
of the loss, each at a different point of it; the mean of their weights sits nearer its
middle and tends to read better than each of them, at no cost when reading: the result is
one model of the same size (measured: docs/notebook.md, "Weight averaging"). Only runs from the same starting weights average:
networks trained from different random weights do not line up unit for unit. What is
checked here is the least of it: one architecture, charset and input.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from .assets import resolve
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .models import config_to_dict
from .runfolder import one_clock, read_log, write_log

# What a checkpoint's meta says of its own run that is not true of an average.
RUN_FIGURES = ("epoch", "accuracy", "char_accuracy", "val_loss", "card")


def average_checkpoints(checkpoints: list[Checkpoint]) -> Checkpoint:
    """The element-wise mean of the weights (BatchNorm statistics included), in fp32."""
    if len(checkpoints) < 2:
        raise ValueError("averaging needs at least two checkpoints")
    first = checkpoints[0]
    for other in checkpoints[1:]:
        _check_alike(first, other)
    mean = {}
    for name, value in first.state_dict.items():
        if value.is_floating_point():
            mean[name] = torch.stack([c.state_dict[name].float() for c in checkpoints]).mean(0)
        else:  # counters (BatchNorm's num_batches_tracked): not weights
            mean[name] = value
    meta = {k: v for k, v in first.meta.items() if k not in RUN_FIGURES}
    return dataclasses.replace(first, state_dict=mean, train_state=None, meta=meta)


def _check_alike(a: Checkpoint, b: Checkpoint) -> None:
    problems = []
    if a.model_name != b.model_name or config_to_dict(a.config) != config_to_dict(b.config):
        problems.append(f"the models differ ({a.model_name} and {b.model_name}, or their configs)")
    if a.charset.chars != b.charset.chars:
        problems.append("the charsets differ")
    if a.input != b.input:
        problems.append(f"the inputs differ ({a.input} and {b.input})")
    if not problems and any(a.state_dict[k].shape != v.shape for k, v in b.state_dict.items()):
        problems.append("the weights' shapes differ")
    if problems:
        raise ValueError("cannot average these checkpoints: " + "; ".join(problems))


def trained_weights(checkpoint: Checkpoint) -> Checkpoint:
    """A run's last.pt holds the raw weights of its last step and, with --ema, their moving
    average: the weights the run validates and would keep. Average those. (A continuation
    whose validation ends a hair under its start keeps the start in best.pt, yet its last
    weights can still add to a soup.)"""
    return dataclasses.replace(checkpoint, state_dict=checkpoint.ema["state"]) if checkpoint.ema else checkpoint


def average_runs(sources: list[str | Path], out: str | Path) -> Path:
    """Average run folders (their best.pt), checkpoint files (a run's last.pt too) or
    bundled models (by name) into OUT/best.pt.

    OUT/log.csv gets the epochs of every run folder among the sources, one after the other
    on one clock: the average cost the training of all of them. Returns OUT/best.pt.
    """
    out, sources = Path(out), [Path(s) for s in sources]
    if (out / "best.pt").exists():
        raise FileExistsError(f"{out} already holds a model: pass another --out")
    paths = [s / "best.pt" if s.is_dir() else resolve(s, "pt") for s in sources]
    averaged = average_checkpoints([trained_weights(load_checkpoint(p)) for p in paths])
    log: list[dict[str, float]] = []
    for logged in map(_run_log, sources):
        if logged.is_file():
            log = one_clock(log, read_log(logged))
    averaged.meta.update(averaged_from=[str(p) for p in paths], epoch=len(log))
    save_checkpoint(averaged, out / "best.pt")
    if log:
        write_log(log, out / "log.csv")
    return out / "best.pt"


def _run_log(source: Path) -> Path:
    """The log of the run a source is, or is a checkpoint of (RUN/last.pt)."""
    if source.is_file() and (source.parent / "config.json").is_file():
        return source.parent / "log.csv"
    return source / "log.csv"
