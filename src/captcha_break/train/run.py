"""A training run from its config: the guards, the set-up, and one call to the loop.

`train(config)` checks the run folder, resolves everything the loop needs (the data, the
model and its starting weights, the cores, the precision, the time budget's plan, the saved
state of a resumed run) into a `RunPlan`, and hands it to `Loop`.

Under torchrun the same loop runs data-parallel (distributed.py): `batch_size` is the
global batch, shared evenly among the processes; gradients are averaged by DDP, the
validation set is shared out and its results gathered, so every rank takes the same
early-stopping decisions; only rank 0 writes files and progress.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from pathlib import Path

import torch

from ..checkpoint import Checkpoint, load_checkpoint
from ..config import TrainConfig
from ..datasets import draws
from ..device import pick_precision, share_cores
from ..distributed import World, barrier, join, leave, main_first, processes_here
from ..finetune import load_pretrained, pretrained
from ..models import build_model
from ..report import write_report
from ..runfolder import check_writable, hold_run, resumed_config, trim_log, write_config
from ..sources import draws_as_it_trains
from .budget import Budget, Clock
from .judge import keep_start_if_better, measure_start
from .loop import Loop, RunPlan, TrainResult
from .optim import Rates
from .setup import apply_dry_run, check_fonts, check_label_fit, prepare
from .state import TrainState

SLOW_ON_CPU = ("cnn", "crnn")  # the tutorial's own models


def train(config: TrainConfig, resume: bool = False, log=print, given: Collection[str] | None = None) -> TrainResult:
    """Run (or resume) the recipe described by `config` (loop.py). given: for a resumed run,
    the options the command gave (runfolder.resumed_config)."""
    world, device = join(config.device, config.dist_timeout)
    threads = torch.get_num_threads()  # the run sets its own (share_cores); the caller's come back after
    try:
        result = _guarded(config, resume, log if world.main else _quiet, world, device, given)
        # Every rank done before any tears the group down: a gloo process whose peer has
        # left while its own last collective is still closing aborts (SIGABRT) at exit.
        barrier(world)
        return result
    finally:
        torch.set_num_threads(threads)
        leave(world)


def _quiet(*_args, **_kwargs) -> None:
    """The log of ranks other than 0."""


def _guarded(config: TrainConfig, resume: bool, log, world: World, device, given) -> TrainResult:
    """The run, once its folder is known to be writable and held by this run alone."""
    clock = Clock()  # the time budget counts the set-up too
    out = Path(config.out)
    last = out / "last.pt"
    if last.exists() and not resume:
        raise FileExistsError(f"{out} already holds a run: pass --resume to continue it, or another --out")
    if resume and not last.exists():
        raise FileNotFoundError(f"nothing to resume: no {last}")
    if not world.main:
        return Loop(_plan(config, resume, log, world, device, clock, given)).run()
    check_writable(out)  # before any work, not at the first checkpoint an epoch later
    with hold_run(out):  # only rank 0 writes the run folder, so only it holds it
        for stale in out.glob(".*.tmp"):  # left by a kill during a checkpoint write
            stale.unlink()
        plan = _plan(config, resume, log, world, device, clock, given)
        return _hand_back(plan, Loop(plan).run())


def _hand_back(plan: RunPlan, result: TrainResult) -> TrainResult:
    """What the run hands back, once trained (rank 0): the starting weights where training
    could not beat them (judge.py), and the test split's report where there is one."""
    if not result.best_path.exists():
        return result
    start = plan.state.start if plan.config.keep_start else None
    best = keep_start_if_better(load_checkpoint(result.best_path), start, result.best_path, plan.log)
    plan.log(f"best: epoch {best.meta.get('epoch')}, accuracy {best.meta.get('accuracy', 0):.4f} -> {result.best_path}")
    if plan.data.test is not None:
        result.test_report = write_report(
            result.best_path, plan.data.test, Path(plan.config.out), plan.log, folder=plan.config.data
        )
    return result


def _plan(config: TrainConfig, resume: bool, log, world: World, device, clock: Clock, given) -> RunPlan:
    out = Path(config.out)
    saved = load_checkpoint(out / "last.pt") if resume else None
    config = _resolved_config(config, saved, device, log, given)
    torch.manual_seed(config.seed)  # the same initial weights on every rank
    with main_first(world):  # rank 0 fills the data caches, the others read them
        model_config, spec, data = prepare(config, saved, log)
    # channels_last: faster convolutions on a CPU (docs/notebook.md, "CPU levers").
    model = build_model(config.model, model_config).to(device, memory_format=torch.channels_last)
    check_label_fit(model, data)
    _log_setup(config, world, device, data, log)
    torch.manual_seed(config.seed * 1000 + world.rank)  # the weights are made: each process augments its own way
    if config.init and not saved:
        fresh = load_pretrained(model, pretrained(config.init), data.charset)
        log(f"pretrained weights loaded; starting fresh: {', '.join(fresh) or 'nothing'}")
    budget = Budget(config, world, clock)
    if budget.on and not saved:  # before the config is stored: a resume keeps the plan
        budget.fit(model, data, device, log)
    rates = Rates.of(config, len(data.train))
    state = TrainState.restore(model, rates, config.epochs, config.ema, saved, out / "best.pt")
    if saved:
        clock.before = state.run.elapsed  # a resumed run's clock goes on from where it stopped
        log(f"resuming {out} after epoch {state.run.epoch} (phase {state.run.phase})")
    if world.main:
        trim_log(out / "log.csv", state.run.epoch)
        write_config(out, config)
    meta = {"train_config": dataclasses.asdict(config), "label_lengths": list(data.lengths)}  # lengths: Recognizer's default
    plan = RunPlan(config, model, data, Checkpoint(config.model, model_config, data.charset, spec, {}, meta=meta),
                   device, world, state, budget, rates, log)  # fmt: skip
    if config.init and not saved:
        state.start = measure_start(model, plan.validate(model)[1], config.keep_start, log)
    return plan


def _resolved_config(config: TrainConfig, saved: Checkpoint | None, device, log, given=None) -> TrainConfig:
    """`config` as the run will use it: a resumed run's own, the fonts checked, the dry run's
    sizes, the precision and the cores resolved (recorded so, in the checkpoint)."""
    if saved is not None:
        config = resumed_config(config, saved, log, given)
    check_fonts(config)
    apply_dry_run(config)
    config.precision = pick_precision(config.precision, device)
    # Cores are shared out before the data exists: by what the config says the loader will do.
    config.workers, config.threads = share_cores(
        config.workers, config.threads, device, draws_as_it_trains(config), processes_here()
    )
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    return config


def _log_setup(config: TrainConfig, world: World, device, data, log) -> None:
    if world.distributed:
        log(
            f"distributed: {world.size} processes ({world.backend}); global batch {config.batch_size} = "
            f"{world.size} x {config.batch_size // world.size} per process; lr {config.lr:g} for the global batch "
            "(not scaled by the process count)"
        )
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
