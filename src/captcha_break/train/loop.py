"""The epoch loop: phases, epochs and steps, nothing else.

Phase 0 trains with Adam (amsgrad) at `lr` until the validation loss stops improving for
`patience` epochs; phase 1 reloads the best weights and goes on at `phase2_lr` (the
tutorial's second `fit_generator` at 1e-4); onecycle, which anneals to its last epoch, has
one phase. After every epoch the run's whole state goes to `last.pt` (written atomically),
the kept weights to `best.pt` (the best by validation loss; under onecycle the latest), and
a row to `log.csv`, so `--resume` after a kill -9 loses at most the epoch that was running.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from torch.utils.data import DataLoader
from tqdm import tqdm

from ..augment import augment, augmentation_for
from ..checkpoint import Checkpoint, save_checkpoint
from ..config import TrainConfig
from ..datasets import Collate, GlobalBatchSampler, SyntheticDataset, loader_workers
from ..device import autocast
from ..distributed import World, sum_over_ranks, sync_buffers, wrap
from ..losses import compute_loss
from ..metrics import Scores
from ..replay import ReplayBuffer
from ..runfolder import EpochRecord, append_log, write_config
from ..sources import DataBundle, set_epoch
from ..tensorboard import EpochBoard
from .budget import Budget
from .judge import validate
from .optim import Rates, make_scheduler, phase_optimizer
from .state import TrainState, cpu_state


@dataclass
class TrainResult:
    best_path: Path
    history: list[EpochRecord] = field(default_factory=list)
    best_scores: Scores | None = None
    test_report: dict | None = None


@dataclass
class RunPlan:
    """A run resolved: what the loop trains, on what, where, and from which state."""

    config: TrainConfig
    model: object  # the nn.Module, on `device`
    data: DataBundle
    base: Checkpoint  # the model's description and meta; each save adds weights
    device: object
    world: World
    state: TrainState
    budget: Budget
    rates: Rates
    log: object

    def validate(self, model) -> tuple[float, Scores, list[str]]:
        """Validation loss, scores and readings of `model` (this model's weights or their average)."""
        return validate(model, self.data.val, self.data.charset, self.model.scheme, self.device, self.config.batch_size,
                        self.world, self.config.precision)  # fmt: skip


class Loop:
    def __init__(self, plan: RunPlan):
        self.plan, self.config, self.state = plan, plan.config, plan.state
        self.out = Path(plan.config.out)
        self.net = wrap(plan.model, plan.world, plan.device)  # what the step calls (DDP or the model)
        self.augment = augmentation_for(plan.config)
        self.board = EpochBoard(self.out, enabled=plan.world.main)
        self.replay = replay_buffer(plan.config, plan.data, plan.world)
        self.result = TrainResult(self.out / "best.pt")

    @property
    def evaluated(self):
        """The weights that are validated and saved as best.pt: the average, when kept."""
        return self.state.ema.module if self.state.ema is not None else self.plan.model

    def run(self) -> TrainResult:
        run = self.state.run
        patience = (self.config.patience, self.config.phase2_patience)
        if self.config.schedule == "onecycle":
            patience = (math.inf, math.inf)
        while run.phase < 2:
            if run.phase_epochs >= self.config.epochs or run.bad_epochs >= patience[run.phase]:
                self._next_phase()
            elif self.plan.budget.out_of_time(self.result.history):
                minutes = self.config.time_budget / 60
                self.plan.log(f"time budget of {minutes:.1f} min spent: stopping with the weights kept so far")
                break
            else:
                self._epoch()
        self.board.close()
        return self.result

    def _next_phase(self) -> None:
        run = self.state.run
        run.phase += 2 if self.config.schedule == "onecycle" else 1  # onecycle has annealed already
        run.phase_epochs, run.bad_epochs = 0, 0
        if run.phase < 2 and self.state.best is not None:
            # The tutorial's second stage: reload the best weights, go on at a lower rate.
            self.plan.model.load_state_dict(self.state.best)
            self.state.optimizer = phase_optimizer(self.plan.model, self.plan.rates, run.phase)
            self.plan.log(f"phase {run.phase}: best weights reloaded, lr {self.state.optimizer.param_groups[-1]['lr']:g}")
        self._save_last()

    def _epoch(self) -> None:
        run, clock = self.state.run, self.plan.budget.clock
        start = clock()
        set_epoch(self.plan.data.train, run.epoch)
        train_loss, seen = self._train_epoch()
        train_seconds = clock() - start
        sync_buffers(self.plan.model, self.plan.world)  # BatchNorm statistics as rank 0 has them
        val_loss, scores, preds = self.plan.validate(self.evaluated)
        run.epoch, run.phase_epochs, run.elapsed = run.epoch + 1, run.phase_epochs + 1, clock()
        lr = self.state.optimizer.param_groups[-1]["lr"]  # the nominal rate (the features' may be scaled)
        record = EpochRecord(run.epoch, run.phase, lr, train_loss, val_loss, scores.accuracy, scores.char_accuracy,
                             run.elapsed - start, seen / max(train_seconds, 1e-9), run.elapsed)  # fmt: skip
        self.result.history.append(record)
        improved = val_loss < run.best_loss
        run.best_loss, run.bad_epochs = (val_loss, 0) if improved else (run.best_loss, run.bad_epochs + 1)
        # onecycle anneals the rate to ~0 by its last epoch: its final weights are the ones it is
        # built to reach, so each epoch's replace the kept ones (docs/notebook.md, "Kept weights").
        if improved or self.config.schedule == "onecycle":
            self.result.best_scores = scores
            self._save_best(record)
        if self.plan.world.main:
            append_log(self.out / "log.csv", record)
            self.board.epoch(record, self.plan.data.val.pixels, self.plan.data.val.labels, preds)
        replanned = self._replan()
        self._save_last()  # before the epoch's line: a line logged is an epoch saved
        self.plan.log(
            f"epoch {record.epoch} phase {record.phase} lr {lr:g}: loss {train_loss:.4f} val_loss {val_loss:.4f} "
            f"acc {scores.accuracy:.4f} char_acc {scores.char_accuracy:.4f} "
            f"({record.seconds:.0f}s, {record.images_per_second:.0f} img/s)"
        )
        if replanned:
            self.plan.log(replanned)
        self.plan.budget.check_pace(record.images_per_second, self.plan.log)

    def _replan(self) -> str | None:
        """Fit a time-budgeted onecycle plan to the epochs' measured length (budget.py)."""
        if self.state.scheduler is None or self.state.run.phase != 0:
            return None
        change = self.plan.budget.replanned(self.result.history, self.state.run.phase_epochs)
        if change is None:
            return None
        self.config.epochs, message = change
        self.plan.base.meta["train_config"]["epochs"] = self.config.epochs  # what --resume continues
        if self.plan.world.main:
            write_config(self.out, self.config)
        if self.config.epochs > self.state.run.phase_epochs:  # the same curve, stretched or squeezed, from its step
            at = self.state.scheduler.last_epoch
            self.state.scheduler = make_scheduler(self.plan.rates, self.state.optimizer, self.config.epochs, at_step=at)
        return message

    def _train_epoch(self) -> tuple[float, int]:
        p = self.plan
        p.model.train()
        shuffle = not isinstance(p.data.train, SyntheticDataset)  # a stream is random already
        loader = epoch_loader(p.data, self.config, p.world, shuffle, self.state.run.epoch)
        total, seen = 0.0, 0
        # To a terminal: a live bar. To a log file (nohup): one line a minute, not silence.
        interval = 0.1 if sys.stderr.isatty() else 60
        bar = tqdm(loader, desc=f"epoch {self.state.run.epoch + 1}", unit="batch", leave=False, mininterval=interval,
                   file=sys.stderr, disable=not p.world.main)  # fmt: skip
        for step, batch in enumerate(bar):
            if self.config.dry_run and step == 2:
                break
            batch = batch.to(p.device)
            loss = self._step(self.replay.mix(batch) if self.replay else batch)
            total, seen = total + loss * len(batch.labels), seen + len(batch.labels)  # fresh images: what an epoch counts
            bar.set_postfix(loss=f"{total / seen:.4f}", refresh=False)
        total, seen = sum_over_ranks(p.world, total, seen)
        return total / max(seen, 1), int(seen)

    def _step(self, batch) -> float:
        """One optimizer step on this process's share of a global batch; its mean loss."""
        optimizer, micro, total = self.state.optimizer, batch.split(self.config.accumulate), 0.0
        optimizer.zero_grad(set_to_none=True)
        for i, part in enumerate(micro):
            images = augment(part.images, self.augment) if self.augment else part.images
            # DDP averages gradients across ranks on the last micro-batch's backward only.
            sync = i == len(micro) - 1 or self.net is self.plan.model
            with contextlib.nullcontext() if sync else self.net.no_sync():
                with autocast(self.config.precision, self.plan.device):
                    logits = self.net(images)
                loss = compute_loss(logits, part.targets, part.lengths, self.plan.model.scheme)
                (loss * (len(part.labels) / len(batch.labels))).backward()  # a mean over the share
            total += loss.item() * len(part.labels)
        optimizer.step()
        if self.state.ema is not None:
            self.state.ema.update_parameters(self.plan.model)
        if self.state.scheduler is not None:
            self.state.scheduler.step()
        return total / len(batch.labels)

    def _save_best(self, record: EpochRecord) -> None:
        scores = {"epoch": record.epoch, "accuracy": record.accuracy, "char_accuracy": record.char_accuracy}
        self.state.best = cpu_state(self.evaluated)
        if self.plan.world.main:
            meta = {**self.plan.base.meta, **scores, "val_loss": record.val_loss}
            save_checkpoint(dataclasses.replace(self.plan.base, state_dict=self.state.best, meta=meta), self.result.best_path)

    def _save_last(self) -> None:
        if self.plan.world.main:
            self.state.save(self.plan.base, self.plan.model, self.out / "last.pt")


def epoch_loader(data: DataBundle, config: TrainConfig, world: World, shuffle: bool, epoch: int) -> DataLoader:
    # A synthetic stream needs no shuffling, and its items are seeded by index, so the
    # disjoint index shares of the sampler are distinct captchas on every rank and worker.
    sampler = GlobalBatchSampler(
        len(data.train), config.batch_size, world.rank, world.size, shuffle=shuffle, seed=config.seed * 1000 + epoch
    )
    return DataLoader(
        data.train,
        batch_sampler=sampler,
        num_workers=loader_workers(data.train, config.workers),
        collate_fn=Collate(data.charset),
        persistent_workers=False,  # re-created per epoch so SyntheticDataset.set_epoch reaches them
    )


def replay_buffer(config: TrainConfig, data: DataBundle, world: World) -> ReplayBuffer | None:
    if config.replay == 1:
        return None
    return ReplayBuffer(config.replay, config.replay_size, data.max_len, seed=config.seed * 1000 + world.rank)
