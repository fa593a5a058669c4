"""What a run holds beside its config and data, and how last.pt keeps it.

`TrainState.save` writes it and `TrainState.restore` reads it back, side by side, so the
keys of a checkpoint's `train_state` are written and read in this one place.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .optim import Rates, make_scheduler, phase_optimizer


@dataclass
class RunState:
    """Where the recipe stands."""

    epoch: int = 0  # epochs finished, both phases together
    phase: int = 0
    phase_epochs: int = 0
    best_loss: float = math.inf
    bad_epochs: int = 0
    elapsed: float = 0.0  # wall seconds spent by the run before this process


@dataclass
class TrainState:
    run: RunState
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    # An exponential moving average of the weights (and BatchNorm statistics), validated and
    # saved as the model: it smooths the last steps' noise (--ema).
    ema: AveragedModel | None
    # The pretrained (--init) weights and what they read of the validation set before any
    # step ({"state", "accuracy", "char_accuracy"}): a resumed run still compares with them.
    start: dict | None = None
    # The kept weights, in memory on every rank: the phase change reloads them without
    # waiting for rank 0's file. Not saved in last.pt: best.pt holds them.
    best: dict[str, torch.Tensor] | None = None

    @classmethod
    def restore(cls, model, rates: Rates, epochs: int, ema: float, saved: Checkpoint | None, best_path: Path) -> TrainState:
        """A new run's state (`saved` None), or a saved run's, its weights loaded into `model`;
        `epochs` planned, `ema` the moving average's decay (0: none)."""
        kept = (saved.train_state or {}) if saved else {}
        run = RunState(**kept["run"]) if saved else RunState()
        optimizer = phase_optimizer(model, rates, run.phase)
        if saved:
            model.load_state_dict(saved.state_dict)
            optimizer.load_state_dict(kept["optimizer"])
        average = None
        if ema:  # made after the weights are loaded: it starts as a copy of them
            average = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(ema), use_buffers=True)
            if kept.get("ema"):
                average.module.load_state_dict(kept["ema"]["state"])
                average.n_averaged.fill_(kept["ema"]["count"])
        scheduler = make_scheduler(rates, optimizer, epochs, kept.get("scheduler"))
        best = load_checkpoint(best_path).state_dict if saved and best_path.exists() else None
        return cls(run, optimizer, scheduler, average, kept.get("start"), best)

    def save(self, base: Checkpoint, model, path: Path) -> None:
        """Write the run as `restore` reads it: `base` (the model's description and meta)
        with the weights of `model` and this state."""
        kept = {"run": dataclasses.asdict(self.run), "optimizer": self.optimizer.state_dict()}
        if self.scheduler is not None:
            kept["scheduler"] = self.scheduler.state_dict()
        if self.ema is not None:
            kept["ema"] = {"state": cpu_state(self.ema.module), "count": int(self.ema.n_averaged)}  # Checkpoint.ema reads it
        if self.start is not None:
            kept["start"] = self.start
        save_checkpoint(dataclasses.replace(base, state_dict=cpu_state(model), train_state=kept), path)


def cpu_state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
