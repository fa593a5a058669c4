"""Training: the tutorial's recipe as a resumable loop.

Phase 0 trains with Adam (amsgrad) at `lr` until the validation loss stops improving for
`patience` epochs; phase 1 reloads the best weights and goes on at `phase2_lr` (the
tutorial's second `fit_generator` at 1e-4). After every epoch the run's whole state goes
to `last.pt` (written atomically), the kept weights to `best.pt` (the best by validation
loss; under onecycle, which anneals to its last epoch, the latest), and a row to `log.csv`,
so `--resume` after a kill -9 loses at most the epoch that was running. A run that starts
from pretrained weights (--init) validates them first, and keeps them as `best.pt` if they
read more of the validation set than the trained weights do: training never hands back a
model that reads less of it than the one it started from.

Under torchrun the same loop runs data-parallel (distributed.py): `batch_size` is the
global batch, shared evenly among the processes; gradients are averaged by DDP, the
validation set is shared out and its results gathered, so every rank takes the same
early-stopping decisions; only rank 0 writes files and progress.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from tqdm import tqdm

from .augment import AugmentConfig, augment
from .auto import epochs_within, pace, replanned_epochs
from .charset import Charset
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .config import SCHEDULES, TrainConfig
from .datasets import ArrayDataset, Collate, GlobalBatchSampler, SyntheticDataset, draws, loader_workers
from .decoding import greedy_decode
from .device import autocast, pick_precision, share_cores
from .distributed import SINGLE, World, barrier, gather, join, leave, main_first, processes_here, sum_over_ranks, wrap
from .finetune import load_pretrained, pretrained
from .folders import Samples
from .losses import compute_loss
from .metrics import Scores, score
from .models import build_model
from .prepare import apply_dry_run, check_fonts, check_label_fit, prepare
from .replay import ReplayBuffer
from .report import write_report
from .runfolder import EpochRecord, RunState, append_log, check_writable, hold_run, resumed_config, trim_log
from .sources import DataBundle, draws_as_it_trains, set_epoch
from .tensorboard import EpochBoard

SLOW_ON_CPU = ("cnn", "crnn")  # the tutorial's own models
# Validation images a fine-tune needs before its reading of them can be trusted to tell it
# from its start: with fewer, a warning says so (one image is then 2 points or more).
JUDGE_IMAGES = 50
# An epoch this many times slower than the fastest one so far: the machine is busy (a warning).
SLOWDOWN = 3
# The share of a time budget between two re-plans of it.
REPLAN_SPACING = 0.1
# For a reused synthetic set: the captcha library already varies warps, colours and noise,
# so small extra variations are enough to make each epoch's copy of an image different.
LIGHT_AUGMENT = AugmentConfig(
    rotate_degrees=2.0,
    shear=0.1,
    scale=(0.95, 1.03),
    translate=0.03,
    perspective=0.02,
    blur_p=0.1,
    noise_std=0.02,
    contrast=0.15,
    brightness=0.1,
    erase_p=0.0,
)


@dataclass
class TrainResult:
    best_path: Path
    history: list[EpochRecord] = field(default_factory=list)
    best_scores: Scores | None = None
    test_report: dict | None = None


def train(config: TrainConfig, resume: bool = False, log=print) -> TrainResult:
    """Run (or resume) the recipe described by `config`; see the module docstring."""
    world, device = join(config.device, config.dist_timeout)
    threads = torch.get_num_threads()  # the run sets its own (share_cores); the caller's come back after
    try:
        result = _train(config, resume, log if world.main else _quiet, world, device)
        # Every rank done before any tears the group down: a gloo process whose peer has
        # left while its own last collective is still closing aborts (SIGABRT) at exit.
        barrier(world)
        return result
    finally:
        torch.set_num_threads(threads)
        leave(world)


def _quiet(*_args, **_kwargs) -> None:
    """The log of ranks other than 0."""


def _train(config: TrainConfig, resume: bool, log, world: World, device) -> TrainResult:
    out = Path(config.out)
    last = out / "last.pt"
    if last.exists() and not resume:
        raise FileExistsError(f"{out} already holds a run: pass --resume to continue it, or another --out")
    if resume and not last.exists():
        raise FileNotFoundError(f"nothing to resume: no {last}")
    if world.main:
        check_writable(out)  # before any work, not at the first checkpoint an epoch later
    # Only rank 0 writes the run folder, so only it holds it.
    with hold_run(out) if world.main else contextlib.nullcontext():
        return _run(config, resume, log, world, device)


def _run(config: TrainConfig, resume: bool, log, world: World, device) -> TrainResult:
    started = time.perf_counter()
    out = Path(config.out)
    last = out / "last.pt"
    for stale in out.glob(".*.tmp") if world.main else ():  # left by a kill during a checkpoint write
        stale.unlink()
    saved = load_checkpoint(last) if resume else None
    if saved is not None:
        config = resumed_config(config, saved, log)
    check_fonts(config)
    apply_dry_run(config)
    config.precision = pick_precision(config.precision, device)  # recorded resolved, in the checkpoint
    # Cores are shared out before the data exists: by what the config says the loader will do.
    config.workers, config.threads = share_cores(
        config.workers, config.threads, device, draws_as_it_trains(config), processes_here()
    )
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)  # the same initial weights on every rank
    with main_first(world):  # rank 0 fills the data caches, the others read them
        model_config, spec, data = prepare(config, saved, log)
    # channels_last: measured 30% faster convolutions on a 2-core CPU (benchmarks/).
    model = build_model(config.model, model_config).to(device, memory_format=torch.channels_last)
    check_label_fit(model, data)
    _log_world(world, config, log)
    log(
        f"device {device}, precision {config.precision}, {torch.get_num_threads()} torch threads, {config.workers} data workers"
        + ("" if draws(data.train) else " (decoding or drawing up front; the training loader reads the arrays in memory)")
    )
    if config.replay != 1:
        log(
            f"replay: each step trains on its batch of fresh captchas and {config.replay - 1:g}x as many drawn earlier "
            f"(a buffer of up to {config.replay_size:,} on {device})"
        )
    if device.type == "cpu" and config.model in SLOW_ON_CPU:
        log(
            f"warning: {config.model} is the tutorial's full-resolution model, made for a GPU: on 2 CPU cores an epoch of "
            f"128,000 captchas takes 2-3 hours. crnn_lite, crnn_fast and cnn_fast are the CPU-fast models."
        )
    # The weights are made: from here on each process draws its own augmentation.
    torch.manual_seed(config.seed * 1000 + world.rank)
    state = RunState(**saved.train_state["run"]) if saved else RunState()
    optimizer = _optimizer(model, _phase_lr(config, state.phase), _feature_scale(config))
    if config.init and not saved:
        fresh = load_pretrained(model, pretrained(config.init), data.charset)
        log(f"pretrained weights loaded; starting fresh: {', '.join(fresh) or 'nothing'}")
    if saved:
        model.load_state_dict(saved.state_dict)
        optimizer.load_state_dict(saved.train_state["optimizer"])
        log(f"resuming {out} after epoch {state.epoch} (phase {state.phase})")
    if world.main:
        trim_log(out / "log.csv", state.epoch)
    ceiling = config.epochs  # what the budget's plan may come back up to (auto's plan or --epochs)
    if config.time_budget > 0 and not saved:  # before the config is stored: a resume keeps the plan
        _fit_to_budget(config, model, data, device, started, log)
    if world.main:
        _write_config(out, config)
    meta = {"train_config": dataclasses.asdict(config), "label_lengths": list(data.lengths)}  # lengths: Recognizer's default
    base = Checkpoint(config.model, model_config, data.charset, spec, {}, meta=meta)
    loop = _Loop(config, model, optimizer, data, base, device, out, log, world, ceiling)
    if saved and (out / "best.pt").exists():
        loop.best_state = load_checkpoint(out / "best.pt").state_dict
    if config.init and not saved:
        loop.measure_start()
    elif saved:
        loop.start = saved.train_state.get("start")
    if saved and loop.ema is not None and saved.ema:
        loop.ema.module.load_state_dict(saved.ema["state"])
        loop.ema.n_averaged.fill_(saved.ema["count"])
    elapsed_before = state.elapsed  # a resumed run's clock goes on from where it stopped
    loop.clock = lambda: elapsed_before + time.perf_counter() - started
    loop.scheduler = _scheduler(config, optimizer, len(data.train), saved)
    return loop.run(state)


def _fit_to_budget(config: TrainConfig, model, data: DataBundle, device, started: float, log) -> None:
    """Lower `config.epochs` so that the run fits its time budget, by a timed probe."""
    per_image = _probe_seconds_per_image(model, data, config, device)
    left = config.time_budget - (time.perf_counter() - started)
    # Validation reads each image once, without a backward pass: about a third of a step.
    images = len(data.train) + len(data.val) / 3
    # 10% kept for the loader, checkpoints and the final test report.
    epochs = epochs_within(0.9 * left, per_image, images, config.epochs)
    log(
        f"time budget {config.time_budget / 60:.1f} min ({left / 60:.1f} left): {epochs} epoch{'s' * (epochs != 1)} planned "
        f"(of {config.epochs}; a probe measured {1 / per_image:.0f} images/s, loading included)"
    )
    config.epochs = epochs


def _probe_seconds_per_image(model, data: DataBundle, config: TrainConfig, device, steps: int = 4) -> float:
    """Seconds per training image of this model, data and precision, on a throwaway copy:
    the step and the loading, timed apart and combined as the run's workers will (auto.pace)."""
    probe = copy.deepcopy(model).train()
    augmentation = augmentation_for(config)
    optimizer = _optimizer(probe, config.lr)
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


class _Loop:
    """The epoch loop with its collaborators held together, to keep each step short."""

    def __init__(self, config, model, optimizer, data: DataBundle, base: Checkpoint, device, out: Path, log, world, ceiling: int):
        self.config, self.model, self.optimizer, self.data = config, model, optimizer, data
        self.base, self.device, self.out, self.log, self.world = base, device, out, log, world
        self.net = wrap(model, world, device)  # what the training step calls (DDP or the model)
        self.scheme = model.scheme
        # The best weights, in memory on every rank: the phase change reloads them without
        # waiting for rank 0's file.
        self.best_state: dict[str, torch.Tensor] | None = None
        self.result = TrainResult(out / "best.pt")
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self.ceiling = ceiling  # the most epochs a re-planned time budget may run
        self.clock = time.perf_counter  # seconds since the run began (set by train())
        self.augment = augmentation_for(config)
        self.board = EpochBoard(out, enabled=world.main)
        # Weight averaging: an exponential moving average of the weights (and BatchNorm
        # statistics), validated and saved as the model, smooths the last steps' noise.
        self.ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema), use_buffers=True) if config.ema else None
        # The pretrained (--init) weights and what they read of the validation set, before any step.
        self.start: dict | None = None
        self.fastest, self.warned_slow = 0.0, False  # the best images/s so far; a slowdown said once
        self.last_replan: float | None = None  # when the time budget's plan last changed (self.clock())
        self.replay = _replay_buffer(config, data, world)

    @property
    def evaluated(self) -> torch.nn.Module:
        """The weights that are validated and saved as best.pt: the average, when kept."""
        return self.ema.module if self.ema is not None else self.model

    def run(self, state: RunState) -> TrainResult:
        patience = (self.config.patience, self.config.phase2_patience)
        if self.config.schedule == "onecycle":
            patience = (math.inf, math.inf)
        while state.phase < 2:
            if state.phase_epochs >= self.config.epochs or state.bad_epochs >= patience[state.phase]:
                self._next_phase(state)
                continue
            if self._out_of_time():
                self.log(f"time budget of {self.config.time_budget / 60:.1f} min spent: stopping with the weights kept so far")
                break
            self._epoch(state)
        self.board.close()
        if self.world.main and self.result.best_path.exists():
            best = self._keep_start_if_better(load_checkpoint(self.result.best_path))
            self.log(
                f"best: epoch {best.meta.get('epoch')}, accuracy {best.meta.get('accuracy', 0):.4f} -> {self.result.best_path}"
            )
            if self.data.test is not None:
                report = write_report(self.result.best_path, self.data.test, self.out, self.log, folder=self.config.data)
                self.result.test_report = report
        return self.result

    def _validate(self, model) -> tuple[float, Scores, list[str]]:
        return validate(
            model, self.data.val, self.data.charset, self.scheme, self.device, self.config.batch_size, self.world,
            self.config.precision,
        )  # fmt: skip

    def measure_start(self) -> None:
        """Validate the weights the run starts from (--init), before any step."""
        _, scores, _ = self._validate(self.model)
        self.start = {"state": _cpu_state(self.model), "accuracy": scores.accuracy, "char_accuracy": scores.char_accuracy}
        self.log(f"before training, the starting weights read {scores.accuracy:.2%} of the validation set")
        if scores.count < JUDGE_IMAGES and self.config.keep_start:
            self.log(
                f"warning: {scores.count} validation images are too few to show that training made the model better: "
                f"the trained weights are kept only if they read more of them than the starting ones (label at least "
                f"{JUDGE_IMAGES - scores.count} more images for a fair judge)"
            )

    def _keep_start_if_better(self, best: Checkpoint) -> Checkpoint:
        """A fine-tuned model that reads less of the validation set than the pretrained one
        it came from (too few labels, too high a rate) is worth less than that one: keep it.
        Returns what best.pt holds now."""
        trained = best.meta.get("accuracy", 0.0)
        start = (self.start["accuracy"], self.start["char_accuracy"]) if self.start and self.config.keep_start else None
        if start is None or not keeps_start(start, (trained, best.meta.get("char_accuracy", 0.0))):
            return best
        meta = {**best.meta, "epoch": 0, "accuracy": self.start["accuracy"], "char_accuracy": self.start["char_accuracy"]}
        meta.pop("val_loss", None)
        best = dataclasses.replace(best, state_dict=self.start["state"], meta=meta)
        save_checkpoint(best, self.result.best_path)
        self.log(
            f"kept the starting weights: they read {self.start['accuracy']:.2%} of the validation set, "
            f"the trained ones {trained:.2%}, no better (still in {self.out / 'last.pt'}: `captcha-break average` takes it)"
        )
        return best

    def _out_of_time(self) -> bool:
        """Whether another epoch as long as the recent ones would overrun the time budget."""
        if self.config.time_budget <= 0 or not self.result.history:
            return False
        left, epoch_s = self._budget_view()
        return epoch_s > left

    def _budget_view(self) -> tuple[float, float]:
        """(seconds of the budget left, seconds an epoch takes: the median of the last five,
        checkpoints included, so that one epoch slowed by another program does not cut the
        plan), the same on every rank so that all stop or re-plan together."""
        history = self.result.history[-6:]
        spans = [b.elapsed - a.elapsed for a, b in zip(history, history[1:])] or [history[-1].seconds]
        left = self.config.time_budget - self.clock()
        left, epoch_s = sum_over_ranks(self.world, left, float(np.median(spans)))
        return left / self.world.size, epoch_s / self.world.size

    def _replan(self, state: RunState) -> str | None:
        """Fit a time-budgeted onecycle plan to the epochs' measured length, so that its rate
        has annealed when the budget ends (auto.replanned_epochs); what to log, if it changed."""
        if self.config.time_budget <= 0 or self.scheduler is None or state.phase != 0:
            return None
        # At most one re-plan per REPLAN_SPACING of the budget: on a busy machine the times of
        # tiny epochs swing many-fold, and a plan that followed each one swung again and again,
        # its learning rate jagged by each new curve (the newcomer review of 2026-12-07).
        if self.last_replan is not None and self.clock() - self.last_replan < REPLAN_SPACING * self.config.time_budget:
            return None
        left, epoch_s = self._budget_view()
        epochs = replanned_epochs(state.phase_epochs, self.config.epochs, self.ceiling, left, epoch_s)
        if epochs == self.config.epochs:
            return None
        self.last_replan = self.clock()
        message = f"re-planned: {epochs} epochs instead of {self.config.epochs} fit the time budget ({epoch_s:.0f}s an epoch)"
        self.config.epochs = epochs
        self.base.meta["train_config"]["epochs"] = epochs  # what --resume continues
        if self.world.main:
            _write_config(self.out, self.config)
        if epochs > state.phase_epochs:  # the same curve, stretched or squeezed, from the step it is at
            self.scheduler = _scheduler(self.config, self.optimizer, len(self.data.train), at_step=self.scheduler.last_epoch)
        return message

    def _next_phase(self, state: RunState) -> None:
        # onecycle has annealed to ~0 already: no second phase.
        state.phase += 2 if self.config.schedule == "onecycle" else 1
        state.phase_epochs, state.bad_epochs = 0, 0
        if state.phase < 2 and self.best_state is not None:
            # The tutorial's second stage: reload the best weights, go on at a lower rate.
            self.model.load_state_dict(self.best_state)
            self.optimizer = _optimizer(self.model, _phase_lr(self.config, state.phase), _feature_scale(self.config))
            self.log(f"phase {state.phase}: best weights reloaded, lr {_phase_lr(self.config, state.phase):g}")
        self._save_last(state)

    def _epoch(self, state: RunState) -> None:
        start = time.perf_counter()
        set_epoch(self.data.train, state.epoch)
        train_loss, seen = self._train_epoch(state)
        train_seconds = time.perf_counter() - start
        _sync_buffers(self.model, self.world)  # BatchNorm statistics as rank 0 has them
        val_loss, scores, preds = self._validate(self.evaluated)
        seconds = time.perf_counter() - start
        state.epoch += 1
        state.phase_epochs += 1
        state.elapsed = self.clock()
        lr = self.optimizer.param_groups[-1]["lr"]  # the nominal rate (the features' may be scaled)
        record = EpochRecord(
            state.epoch,
            state.phase,
            lr,
            train_loss,
            val_loss,
            scores.accuracy,
            scores.char_accuracy,
            seconds,
            seen / train_seconds,
            state.elapsed,
        )
        self.result.history.append(record)
        improved = val_loss < state.best_loss
        if improved:
            state.best_loss, state.bad_epochs = val_loss, 0
        else:
            state.bad_epochs += 1
        # onecycle anneals the rate to ~0 by its last epoch: its final weights are the ones
        # it is built to reach, so each epoch's replace the kept ones. Validation loss would
        # pick an earlier epoch once a fine-tuned model grows confident: on 16 plain-command
        # runs (3 real sets, 100 labels to all) the last weights read 0.44 points more of the
        # test splits on average (more in 10 runs, less in 4).
        if improved or self.config.schedule == "onecycle":
            self.result.best_scores = scores
            self._save_best(record)
        if self.world.main:
            append_log(self.out / "log.csv", record)
            self.board.epoch(record, self.data.val.pixels, self.data.val.labels, preds)
        replanned = self._replan(state)
        self._save_last(state)  # before the epoch's line: a line logged is an epoch saved
        self.log(
            f"epoch {record.epoch} phase {record.phase} lr {lr:g}: loss {train_loss:.4f} val_loss {val_loss:.4f} "
            f"acc {scores.accuracy:.4f} char_acc {scores.char_accuracy:.4f} "
            f"({seconds:.0f}s, {record.images_per_second:.0f} img/s)"
        )
        if replanned:
            self.log(replanned)
        self._check_pace(record.images_per_second)

    def _check_pace(self, rate: float) -> None:
        """Say so when training runs far slower than it did: on a shared CPU another program's
        threads and these oversubscribe the cores, and a run slows many times over unnoticed."""
        self.fastest = max(self.fastest, rate)
        if rate * SLOWDOWN < self.fastest and not self.warned_slow:
            self.warned_slow = True
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            self.log(
                f"warning: training slowed to {rate:.0f} images/s from {self.fastest:.0f} (load average {load:.1f} on "
                f"{os.cpu_count()} cores): other programs are using the cores. Stop them, or give each job its threads "
                "(--threads, --workers); a time budget re-plans to what is left"
            )

    def _train_epoch(self, state: RunState) -> tuple[float, int]:
        self.model.train()
        shuffle = not isinstance(self.data.train, SyntheticDataset)  # a stream is random already
        loader = _loader(self.data.train, self.data.charset, self.config, self.world, shuffle=shuffle, epoch=state.epoch)
        total, seen = 0.0, 0
        # To a terminal: a live bar. To a log file (nohup): one line a minute, not silence.
        interval = 0.1 if sys.stderr.isatty() else 60
        bar = tqdm(loader, desc=f"epoch {state.epoch + 1}", unit="batch", leave=False, mininterval=interval,
                   file=sys.stderr, disable=not self.world.main)  # fmt: skip
        for step, batch in enumerate(bar):
            if self.config.dry_run and step == 2:
                break
            batch = batch.to(self.device)
            loss = self._step(self.replay.mix(batch) if self.replay else batch)
            n = len(batch.labels)  # fresh images: what an epoch counts
            total, seen = total + loss * n, seen + n
            bar.set_postfix(loss=f"{total / seen:.4f}", refresh=False)
        total, seen = sum_over_ranks(self.world, total, seen)
        return total / max(seen, 1), int(seen)

    def _step(self, batch) -> float:
        """One optimizer step on this process's share of a global batch; its mean loss."""
        self.optimizer.zero_grad(set_to_none=True)
        micro = batch.split(self.config.accumulate)
        total = 0.0
        for i, part in enumerate(micro):
            images = augment(part.images, self.augment) if self.augment else part.images
            # DDP averages gradients across ranks on the last micro-batch's backward only.
            sync = i == len(micro) - 1 or self.net is self.model
            with contextlib.nullcontext() if sync else self.net.no_sync():
                with autocast(self.config.precision, self.device):
                    logits = self.net(images)
                loss = compute_loss(logits, part.targets, part.lengths, self.scheme)
                (loss * (len(part.labels) / len(batch.labels))).backward()  # a mean over the share
            total += loss.item() * len(part.labels)
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        if self.scheduler is not None:
            self.scheduler.step()
        return total / len(batch.labels)

    def _save_best(self, record: EpochRecord) -> None:
        meta = {
            **self.base.meta,
            "epoch": record.epoch,
            "accuracy": record.accuracy,
            "char_accuracy": record.char_accuracy,
            "val_loss": record.val_loss,
        }
        self.best_state = _cpu_state(self.evaluated)
        if self.world.main:
            save_checkpoint(dataclasses.replace(self.base, state_dict=self.best_state, meta=meta), self.result.best_path)

    def _save_last(self, state: RunState) -> None:
        if not self.world.main:
            return
        train_state = {"run": dataclasses.asdict(state), "optimizer": self.optimizer.state_dict()}
        if self.scheduler is not None:
            train_state["scheduler"] = self.scheduler.state_dict()
        if self.ema is not None:
            train_state["ema"] = {"state": _cpu_state(self.ema.module), "count": int(self.ema.n_averaged)}  # Checkpoint.ema
        if self.start is not None:  # a resumed run still compares with where it started
            train_state["start"] = self.start
        last = dataclasses.replace(self.base, state_dict=_cpu_state(self.model), train_state=train_state)
        save_checkpoint(last, self.out / "last.pt")


@torch.no_grad()
def validate(
    model,
    samples: Samples,
    charset: Charset,
    scheme: str,
    device,
    batch_size: int,
    world: World = SINGLE,
    precision: str = "fp32",
) -> tuple[float, Scores, list[str]]:
    """Mean loss, scores and readings of `model` on `samples`; each rank reads a share, all get the result."""
    model.eval()
    mine = np.arange(world.rank, len(samples), world.size)
    loader = DataLoader(ArrayDataset(samples.subset(mine)), batch_size=batch_size, collate_fn=Collate(charset))
    total, preds = 0.0, []
    for batch in loader:
        batch = batch.to(device)
        with autocast(precision, device):
            logits = model(batch.images)
        total += compute_loss(logits, batch.targets, batch.lengths, scheme).item() * len(batch.labels)
        probs = logits.float().softmax(-1).cpu().numpy()
        preds += [d.text for d in greedy_decode(probs, charset, scheme)]
    shares = gather(world, (mine.tolist(), preds, total))
    merged = [""] * len(samples)
    for index, texts, _ in shares:
        for i, text in zip(index, texts):
            merged[i] = text
    return sum(s[2] for s in shares) / max(len(samples), 1), score(samples.labels, merged), merged


def _sync_buffers(model, world: World) -> None:
    if world.distributed:
        for buffer in model.buffers():
            torch.distributed.broadcast(buffer, 0)


def _log_world(world: World, config: TrainConfig, log) -> None:
    if world.distributed:
        log(
            f"distributed: {world.size} processes ({world.backend}); global batch {config.batch_size} = "
            f"{world.size} x {config.batch_size // world.size} per process; lr {config.lr:g} for the global batch "
            "(not scaled by the process count)"
        )


def _replay_buffer(config: TrainConfig, data: DataBundle, world: World) -> ReplayBuffer | None:
    if config.replay == 1:
        return None
    return ReplayBuffer(config.replay, config.replay_size, data.max_len, seed=config.seed * 1000 + world.rank)


def augmentation_for(config: TrainConfig) -> AugmentConfig | None:
    """ "auto": the full set for folders of real images; a light one for a synthetic set drawn
    once and reused every epoch (so that reuse does not overfit); none for fresh captchas."""
    if config.augment == "off":
        return None
    if config.augment == "on" or config.data is not None:
        return AugmentConfig()
    return LIGHT_AUGMENT if config.pregenerate > 0 else None


def _loader(dataset, charset: Charset, config: TrainConfig, world: World, shuffle: bool, epoch: int) -> DataLoader:
    # A synthetic stream needs no shuffling, and its items are seeded by index, so the
    # disjoint index shares of the sampler are distinct captchas on every rank and worker.
    sampler = GlobalBatchSampler(
        len(dataset), config.batch_size, world.rank, world.size, shuffle=shuffle, seed=config.seed * 1000 + epoch
    )
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=loader_workers(dataset, config.workers),
        collate_fn=Collate(charset),
        persistent_workers=False,  # re-created per epoch so SyntheticDataset.set_epoch reaches them
    )


def _write_config(out: Path, config: TrainConfig) -> None:
    """The run's config as a file a user can read and reuse (train --config)."""
    (out / "config.json").write_text(config.to_json() + "\n")


def _scheduler(config: TrainConfig, optimizer, train_size: int, saved: Checkpoint | None = None, at_step: int = 0):
    """onecycle's per-step schedule over the run's epochs (None for the others): a saved
    run's own, or a new one already `at_step` steps along (a re-planned time budget)."""
    if config.schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {config.schedule!r}; expected one of {SCHEDULES}")
    if config.schedule != "onecycle":
        return None
    steps = max(1, train_size // config.batch_size)  # as GlobalBatchSampler counts them
    peaks = [config.lr * group.get("scale", 1.0) for group in optimizer.param_groups]  # the features' may be lower
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peaks, total_steps=steps * config.epochs, pct_start=0.15)
    if saved is not None and "scheduler" in (saved.train_state or {}):
        scheduler.load_state_dict(saved.train_state["scheduler"])
    elif at_step:
        scheduler.last_epoch = at_step - 1
        scheduler.step()  # sets the rates of step `at_step`
    return scheduler


def _optimizer(model, lr: float, feature_scale: float = 1.0) -> torch.optim.Optimizer:
    """Adam (amsgrad, the tutorial's). The convolutions (`features`) may learn at a share
    of the rate: fine-tuning then adapts the sequence model and the output layer first and
    keeps more of what the pretrained convolutions knew."""
    if feature_scale == 1.0:  # one group, as runs saved before this option have
        return torch.optim.Adam([{"params": list(model.parameters()), "lr": lr, "scale": 1.0}], amsgrad=True)
    features = [p for name, p in model.named_parameters() if name.startswith("features.")]
    rest = [p for name, p in model.named_parameters() if not name.startswith("features.")]
    groups = [{"params": features, "lr": lr * feature_scale, "scale": feature_scale}, {"params": rest, "lr": lr, "scale": 1.0}]
    return torch.optim.Adam([g for g in groups if g["params"]], amsgrad=True)


def _feature_scale(config: TrainConfig) -> float:
    return config.feature_lr_scale if config.init else 1.0


def _phase_lr(config: TrainConfig, phase: int) -> float:
    return config.lr if phase == 0 else config.phase2_lr


def keeps_start(start: tuple[float, float], trained: tuple[float, float]) -> bool:
    """Whether a fine-tune hands back the weights it started from: unless the trained ones
    read more of the validation set (whole captchas, then characters), a tie included, since
    a model that cannot be shown better is not handed back. The training images cannot break
    the tie: the fine-tune has fitted them, and reads all of them while it may read fewer fresh
    captchas than the start (the newcomer review of 2026-12-07)."""
    return trained <= start


def _cpu_state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
