"""A run's clock and its time budget (`--time-budget`): a timed probe plans the epochs, the
epochs' measured length re-plans them, and a run that would overrun stops in time.

The plan matters because onecycle anneals its rate to the last planned epoch: a run cut by
its budget before that keeps weights trained at a high rate. How the tolerances below were
measured: docs/notebook.md ("Time budgets").
"""

from __future__ import annotations

import copy
import os
import time

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..augment import augment, augmentation_for
from ..config import TrainConfig
from ..datasets import Collate, loader_workers
from ..device import autocast
from ..distributed import World, sum_over_ranks
from ..losses import compute_loss
from ..sources import DataBundle
from .optim import make_optimizer

# How far a plan may stray from what the epochs measured before it moves: a share of the
# epochs that fit, and at least a quarter of an epoch before it grows.
PLAN_TOLERANCE = 0.1
GROW_MARGIN = 0.25
# The share of a time budget between two re-plans: on a busy machine the times of tiny
# epochs swing many-fold, and a plan that followed each one had its rate jagged by each new curve.
REPLAN_SPACING = 0.1
# An epoch this many times slower than the fastest one so far: the machine is busy (a warning).
SLOWDOWN = 3


class Clock:
    """Seconds the run has spent, a resumed run's earlier processes included."""

    def __init__(self):
        self.started, self.before = time.perf_counter(), 0.0

    def __call__(self) -> float:
        return self.before + time.perf_counter() - self.started


class Budget:
    """The time budget of one run: `config.epochs` is its plan, lowered or raised here."""

    def __init__(self, config: TrainConfig, world: World, clock: Clock):
        self.config, self.world, self.clock = config, world, clock
        self.ceiling = config.epochs  # what a re-plan may come back up to (the plain command's plan or --epochs)
        self.last_replan: float | None = None  # when the plan last changed (clock())
        self.fastest, self.warned_slow = 0.0, False  # the best images/s so far; a slowdown said once

    @property
    def on(self) -> bool:
        return self.config.time_budget > 0

    def fit(self, model, data: DataBundle, device, log) -> None:
        """Lower `config.epochs` so that the run fits its budget, by a timed probe."""
        per_image = probe_seconds_per_image(model, data, self.config, device)
        left = self.config.time_budget - self.clock()
        # Validation reads each image once, without a backward pass: about a third of a step.
        images = len(data.train) + len(data.val) / 3
        # 10% kept for the loader, checkpoints and the final test report.
        epochs = epochs_within(0.9 * left, per_image, images, self.config.epochs)
        log(
            f"time budget {self.config.time_budget / 60:.1f} min ({left / 60:.1f} left): {epochs} "
            f"epoch{'s' * (epochs != 1)} planned (of {self.config.epochs}; a probe measured {1 / per_image:.0f} images/s, "
            "loading included)"
        )
        self.config.epochs = epochs

    def out_of_time(self, history) -> bool:
        """Whether another epoch as long as the recent ones would overrun the budget."""
        if not self.on or not history:
            return False
        left, epoch_s = self._view(history)
        return epoch_s > left

    def replanned(self, history, done: int) -> tuple[int, str] | None:
        """(epochs, what to log) when the epochs' measured length moves the plan, `done`
        epochs into it, so that its rate has annealed when the budget ends; else None."""
        if not self.on:
            return None
        if self.last_replan is not None and self.clock() - self.last_replan < REPLAN_SPACING * self.config.time_budget:
            return None
        left, epoch_s = self._view(history)
        epochs = replanned_epochs(done, self.config.epochs, self.ceiling, left, epoch_s)
        if epochs == self.config.epochs:
            return None
        self.last_replan = self.clock()
        said = f"re-planned: {epochs} epochs instead of {self.config.epochs} fit the time budget ({epoch_s:.0f}s an epoch)"
        return epochs, said

    def _view(self, history) -> tuple[float, float]:
        """(seconds of the budget left, seconds an epoch takes: the median of the last five,
        checkpoints included, so that one epoch slowed by another program does not cut the
        plan), the same on every rank so that all stop or re-plan together."""
        history = history[-6:]
        spans = [b.elapsed - a.elapsed for a, b in zip(history, history[1:])] or [history[-1].seconds]
        left, epoch_s = sum_over_ranks(self.world, self.config.time_budget - self.clock(), float(np.median(spans)))
        return left / self.world.size, epoch_s / self.world.size

    def check_pace(self, rate: float, log) -> None:
        """Say so when training runs far slower than it did: on a shared CPU another program's
        threads and these oversubscribe the cores, and a run slows many times over unnoticed."""
        self.fastest = max(self.fastest, rate)
        if rate * SLOWDOWN < self.fastest and not self.warned_slow:
            self.warned_slow = True
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            log(
                f"warning: training slowed to {rate:.0f} images/s from {self.fastest:.0f} (load average {load:.1f} on "
                f"{os.cpu_count()} cores): other programs are using the cores. Stop them, or give each job its threads "
                "(--threads, --workers); a time budget re-plans to what is left"
            )


def probe_seconds_per_image(model, data: DataBundle, config: TrainConfig, device, steps: int = 4) -> float:
    """Seconds per training image of this model, data and precision, on a throwaway copy:
    the step and the loading, timed apart and combined as the run's workers will (pace)."""
    probe = copy.deepcopy(model).train()
    augmentation = augmentation_for(config)
    optimizer = make_optimizer(probe, config.lr)
    loader = DataLoader(data.train, batch_size=config.batch_size, shuffle=True, collate_fn=Collate(data.charset))
    batches = iter(loader)
    step_times, fetch_times = [], []
    for step in range(steps + 1):
        begin = time.perf_counter()
        batch = next(batches, None)
        if batch is None:
            break
        fetched = time.perf_counter()
        batch = batch.to(device)
        images = augment(batch.images, augmentation) if augmentation else batch.images
        with autocast(config.precision, device):
            logits = probe(images)
        compute_loss(logits, batch.targets, batch.lengths, model.scheme).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # the step's kernels run asynchronously
        if step:  # the first step pays for one-time set-up; a replaying run's steps are --replay x larger
            step_times.append(config.replay * (time.perf_counter() - fetched) / len(batch.labels))
            fetch_times.append((fetched - begin) / len(batch.labels))
    if not step_times:
        return 1e-3
    return pace(float(np.median(step_times)), float(np.median(fetch_times)), loader_workers(data.train, config.workers))


def epochs_within(budget_s: float, seconds_per_image: float, train_images: int, epochs: int) -> int:
    """The most epochs (at most `epochs`) that fit in `budget_s`, at least one."""
    per_epoch = max(1e-9, seconds_per_image * train_images)
    return max(1, min(epochs, int(budget_s // per_epoch)))


def replanned_epochs(done: int, planned: int, ceiling: int, left_s: float, epoch_s: float) -> int:
    """A time-budgeted run's plan again, from what its epochs really take: `done` epochs run
    of the `planned`, at most `ceiling` in all, `left_s` seconds left at `epoch_s` an epoch.

    The probe that made the plan times a few steps; the epochs that follow may run slower
    (workers drawing beside the training threads) or faster. Re-planned from the epochs'
    length, the schedule is squeezed or stretched to end with the budget; a plan that grows
    late raises a falling rate a little, which costs less than time left unused.

    The plan stays while it is within PLAN_TOLERANCE of the epochs that fit, since epochs'
    lengths wobble and a plan that followed every wobble swung its rate back and forth. An
    overrun is tolerated only on the epochs before the last two, so that a plan that overruns
    is cut while its schedule can still be squeezed: kept into the last epoch, the budget
    would stop it before its rate has annealed."""
    fit = max(0.0, left_s) / max(epoch_s, 1e-9)
    remaining, tolerance = planned - done, PLAN_TOLERANCE * fit
    overrun = PLAN_TOLERANCE * max(0.0, fit - 2)
    if remaining > fit + overrun or fit - remaining > 1 + max(GROW_MARGIN, tolerance):
        return max(done, min(ceiling, done + int(fit)))
    return min(planned, ceiling)


def pace(step_s: float, fetch_s: float, workers: int) -> float:
    """Seconds per training image when each image costs `step_s` of the training step and
    `fetch_s` to load (draw, decode) in one process: loader workers load while the model
    trains, so the slower side sets the pace; without workers the two add up (on a GPU,
    drawing is the slower side: device.share_cores)."""
    if workers <= 0:
        return step_s + fetch_s
    return max(step_s, fetch_s / workers)
