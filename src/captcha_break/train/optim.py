"""The optimizer and the learning-rate schedule of a run, from its resolved `Rates`."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import SCHEDULES, TrainConfig


@dataclass(frozen=True)
class Rates:
    """What the optimizer and schedule need of a run's config, resolved once (Rates.of)."""

    lr: float  # phase 0, and onecycle's peak
    phase2_lr: float  # after the best weights are reloaded (the tutorial's second stage)
    feature_scale: float  # the convolutions' share of the rate (fine-tuning only)
    steps_per_epoch: int
    onecycle: bool

    @classmethod
    def of(cls, config: TrainConfig, train_size: int) -> Rates:
        if config.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {config.schedule!r}; expected one of {SCHEDULES}")
        steps = max(1, train_size // config.batch_size)  # as GlobalBatchSampler counts them
        scale = config.feature_lr_scale if config.init else 1.0
        return cls(config.lr, config.phase2_lr, scale, steps, config.schedule == "onecycle")

    def phase_lr(self, phase: int) -> float:
        return self.lr if phase == 0 else self.phase2_lr


def make_optimizer(model, lr: float, feature_scale: float = 1.0) -> torch.optim.Optimizer:
    """Adam (amsgrad, the tutorial's). The convolutions (`features`) may learn at a share
    of the rate: fine-tuning then adapts the sequence model and the output layer first and
    keeps more of what the pretrained convolutions knew."""
    if feature_scale == 1.0:  # one group, as runs saved before this option have
        return torch.optim.Adam([{"params": list(model.parameters()), "lr": lr, "scale": 1.0}], amsgrad=True)
    features = [p for name, p in model.named_parameters() if name.startswith("features.")]
    rest = [p for name, p in model.named_parameters() if not name.startswith("features.")]
    groups = [{"params": features, "lr": lr * feature_scale, "scale": feature_scale}, {"params": rest, "lr": lr, "scale": 1.0}]
    return torch.optim.Adam([g for g in groups if g["params"]], amsgrad=True)


def phase_optimizer(model, rates: Rates, phase: int) -> torch.optim.Optimizer:
    """The optimizer of a phase: `lr` in the first, `phase2_lr` after the best weights are reloaded."""
    return make_optimizer(model, rates.phase_lr(phase), rates.feature_scale)


def make_scheduler(rates: Rates, optimizer, epochs: int, saved: dict | None = None, at_step: int = 0):
    """onecycle's per-step schedule over `epochs` (None for the plateau schedule): a saved
    one's state, or a new one already `at_step` steps along (a re-planned time budget)."""
    if not rates.onecycle:
        return None
    peaks = [rates.lr * group.get("scale", 1.0) for group in optimizer.param_groups]  # the features' may be lower
    total = rates.steps_per_epoch * epochs
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peaks, total_steps=total, pct_start=0.15)
    if saved is not None:
        scheduler.load_state_dict(saved)
    elif at_step:
        scheduler.last_epoch = at_step - 1
        scheduler.step()  # sets the rates of step `at_step`
    return scheduler
