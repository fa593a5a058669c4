"""Training: the tutorial's recipe as a resumable loop.

Phase 0 trains with Adam (amsgrad) at `lr` until the validation loss stops improving for
`patience` epochs; phase 1 reloads the best weights and goes on at `phase2_lr` (the
tutorial's second `fit_generator` at 1e-4). After every epoch the run's whole state goes
to `last.pt` (written atomically), the best weights to `best.pt`, and a row to `log.csv`,
so `--resume` after a kill -9 loses at most the epoch that was running.

Under torchrun the same loop runs data-parallel (distributed.py): `batch_size` is the
global batch, shared evenly among the processes; gradients are averaged by DDP, the
validation set is shared out and its results gathered, so every rank takes the same
early-stopping decisions; only rank 0 writes files and progress.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader
from tqdm import tqdm

from .augment import AugmentConfig, augment
from .auto import epochs_within
from .charset import DEFAULT_CHARS, Charset
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .config import RENAMED, SCHEDULES, TrainConfig
from .datasets import ArrayDataset, Collate, GlobalBatchSampler, SyntheticDataset
from .decoding import greedy_decode
from .device import autocast, pick_precision
from .distributed import SINGLE, World, gather, join, leave, main_first, sum_over_ranks, wrap
from .finetune import choose_charset, finetune_config, load_pretrained, pretrained
from .folders import Samples, describe, load_folder, split_indices
from .fonts import check_font
from .labels import scan_folder
from .losses import compute_loss
from .metrics import Scores, score
from .models import build_model, default_config, with_channels
from .preprocess import InputSpec
from .report import write_report
from .schemes import get_scheme
from .synth import SynthConfig, draw_arrays, draw_arrays_cached, parse_length
from .tensorboard import EpochBoard

LOG_FIELDS = [
    "epoch",
    "phase",
    "lr",
    "train_loss",
    "val_loss",
    "accuracy",
    "char_accuracy",
    "seconds",
    "images_per_second",
    "elapsed",
]
SLOW_ON_CPU = ("cnn", "crnn")  # the tutorial's own models


@dataclass
class EpochRecord:
    epoch: int
    phase: int
    lr: float
    train_loss: float
    val_loss: float
    accuracy: float
    char_accuracy: float
    seconds: float
    images_per_second: float
    elapsed: float  # wall time since the run began, data preparation included

    def row(self) -> dict:
        return {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in dataclasses.asdict(self).items()}


@dataclass
class RunState:
    """Where the recipe stands; stored in last.pt so a run can resume."""

    epoch: int = 0  # epochs finished, both phases together
    phase: int = 0
    phase_epochs: int = 0
    best_loss: float = math.inf
    bad_epochs: int = 0
    elapsed: float = 0.0  # wall seconds spent by the run before this process


@dataclass
class TrainResult:
    best_path: Path
    history: list[EpochRecord] = field(default_factory=list)
    best_scores: Scores | None = None
    test_report: dict | None = None


@dataclass
class DataBundle:
    train: torch.utils.data.Dataset
    val: Samples
    charset: Charset
    max_len: int
    test: Samples | None = None
    folder: Samples | None = None  # every labeled image of a folder (None: synthetic data)


def train(config: TrainConfig, resume: bool = False, log=print) -> TrainResult:
    """Run (or resume) the recipe described by `config`; see the module docstring."""
    world, device = join(config.device, config.dist_timeout)
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    try:
        return _train(config, resume, log if world.main else _quiet, world, device)
    finally:
        leave(world)


def _quiet(*_args, **_kwargs) -> None:
    """The log of ranks other than 0."""


def _train(config: TrainConfig, resume: bool, log, world: World, device) -> TrainResult:
    started = time.perf_counter()
    out = Path(config.out)
    last = out / "last.pt"
    if last.exists() and not resume:
        raise FileExistsError(f"{out} already holds a run: pass --resume to continue it, or another --out")
    if resume and not last.exists():
        raise FileNotFoundError(f"nothing to resume: no {last}")
    if world.main:
        check_writable(out)  # before any work, not at the first checkpoint an epoch later
    for stale in out.glob(".*.tmp") if world.main else ():  # left by a kill during a checkpoint write
        stale.unlink()
    saved = load_checkpoint(last) if resume else None
    if saved is not None:
        config = _resumed_config(config, saved, log)
    check_fonts(config)
    _apply_dry_run(config)
    config.precision = pick_precision(config.precision, device)  # recorded resolved, in the checkpoint
    torch.manual_seed(config.seed)  # the same initial weights on every rank
    with main_first(world):  # rank 0 fills the data caches, the others read them
        model_config, spec, data = _prepare(config, saved, log)
    # channels_last: measured 30% faster convolutions on a 2-core CPU (benchmarks/).
    model = build_model(config.model, model_config).to(device, memory_format=torch.channels_last)
    check_label_fit(model, data)
    _log_world(world, config, log)
    log(f"device {device}, precision {config.precision}, {torch.get_num_threads()} torch threads, {config.workers} data workers")
    if device.type == "cpu" and config.model in SLOW_ON_CPU:
        log(
            f"warning: {config.model} is the tutorial's full-resolution model, made for a GPU: on 2 CPU cores an epoch of "
            f"128,000 captchas takes 2-3 hours. crnn_lite, crnn_fast and cnn_fast are the CPU-fast models."
        )
    state = RunState(**saved.train_state["run"]) if saved else RunState()
    optimizer = _optimizer(model, _phase_lr(config, state.phase))
    if config.init and not saved:
        fresh = load_pretrained(model, pretrained(config.init), data.charset)
        log(f"pretrained weights loaded; starting fresh: {', '.join(fresh) or 'nothing'}")
    if saved:
        model.load_state_dict(saved.state_dict)
        optimizer.load_state_dict(saved.train_state["optimizer"])
        log(f"resuming {out} after epoch {state.epoch} (phase {state.phase})")
    if world.main:
        _trim_log(out / "log.csv", state.epoch)
    if config.time_budget > 0 and not saved:  # before the config is stored: a resume keeps the plan
        _fit_to_budget(config, model, data, device, started, log)
    if world.main:  # the run's config as a file a user can read and reuse (train --config)
        (out / "config.json").write_text(config.to_json() + "\n")
    base = Checkpoint(config.model, model_config, data.charset, spec, {}, meta={"train_config": dataclasses.asdict(config)})
    loop = _Loop(config, model, optimizer, data, base, device, out, log, world)
    if saved and (out / "best.pt").exists():
        loop.best_state = load_checkpoint(out / "best.pt").state_dict
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
        f"time budget {config.time_budget / 60:.1f} min ({left / 60:.1f} left): {epochs} epochs planned "
        f"(of {config.epochs}; a probe trained {1 / per_image:.0f} images/s)"
    )
    config.epochs = epochs


def _probe_seconds_per_image(model, data: DataBundle, config: TrainConfig, device, steps: int = 4) -> float:
    """Seconds per training image of this model, data and precision, on a throwaway copy."""
    probe = copy.deepcopy(model).train()
    augmentation = _augmentation(config)
    optimizer = _optimizer(probe, config.lr)
    loader = DataLoader(data.train, batch_size=config.batch_size, shuffle=True, collate_fn=Collate(data.charset))
    timings = []
    for step, batch in zip(range(steps + 1), loader):
        begin = time.perf_counter()
        batch = batch.to(device)
        images = augment(batch.images, augmentation) if augmentation else batch.images
        with autocast(config.precision, device):
            logits = probe(images)
        compute_loss(logits, batch.targets, batch.lengths, model.scheme).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step:  # the first step pays for one-time set-up
            timings.append((time.perf_counter() - begin) / len(batch.labels))
    return float(np.median(timings)) if timings else 1e-3


class _Loop:
    """The epoch loop with its collaborators held together, to keep each step short."""

    def __init__(self, config, model, optimizer, data: DataBundle, base: Checkpoint, device, out: Path, log, world):
        self.config, self.model, self.optimizer, self.data = config, model, optimizer, data
        self.base, self.device, self.out, self.log, self.world = base, device, out, log, world
        self.net = wrap(model, world, device)  # what the training step calls (DDP or the model)
        self.scheme = model.scheme
        # The best weights, in memory on every rank: the phase change reloads them without
        # waiting for rank 0's file.
        self.best_state: dict[str, torch.Tensor] | None = None
        self.result = TrainResult(out / "best.pt")
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self.clock = time.perf_counter  # seconds since the run began (set by train())
        self.augment = _augmentation(config)
        self.board = EpochBoard(out, enabled=world.main)

    def run(self, state: RunState) -> TrainResult:
        patience = (self.config.patience, self.config.phase2_patience)
        if self.config.schedule == "onecycle":
            patience = (math.inf, math.inf)
        while state.phase < 2:
            if self._out_of_time():
                self.log(f"time budget of {self.config.time_budget / 60:.1f} min spent: stopping with the best weights so far")
                break
            if state.phase_epochs >= self.config.epochs or state.bad_epochs >= patience[state.phase]:
                self._next_phase(state)
                continue
            self._epoch(state)
        self.board.close()
        if self.world.main and self.result.best_path.exists():
            best = load_checkpoint(self.result.best_path)
            self.log(
                f"best: epoch {best.meta.get('epoch')}, accuracy {best.meta.get('accuracy', 0):.4f} -> {self.result.best_path}"
            )
            if self.data.test is not None:
                self.result.test_report = write_report(self.result.best_path, self.data.test, self.out, self.log)
        return self.result

    def _out_of_time(self) -> bool:
        """Whether another epoch as long as the last would overrun the time budget."""
        if self.config.time_budget <= 0 or not self.result.history:
            return False
        return self.clock() + self.result.history[-1].seconds > self.config.time_budget

    def _next_phase(self, state: RunState) -> None:
        # onecycle has annealed to ~0 already: no second phase.
        state.phase += 2 if self.config.schedule == "onecycle" else 1
        state.phase_epochs, state.bad_epochs = 0, 0
        if state.phase < 2 and self.best_state is not None:
            # The tutorial's second stage: reload the best weights, go on at a lower rate.
            self.model.load_state_dict(self.best_state)
            self.optimizer = _optimizer(self.model, _phase_lr(self.config, state.phase))
            self.log(f"phase {state.phase}: best weights reloaded, lr {_phase_lr(self.config, state.phase):g}")
        self._save_last(state)

    def _epoch(self, state: RunState) -> None:
        start = time.perf_counter()
        _set_epoch(self.data.train, state.epoch)
        train_loss, seen = self._train_epoch(state)
        train_seconds = time.perf_counter() - start
        _sync_buffers(self.model, self.world)  # BatchNorm statistics as rank 0 has them
        val_loss, scores, preds = validate(
            self.model, self.data.val, self.data.charset, self.scheme, self.device, self.config.batch_size, self.world,
            self.config.precision,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        state.epoch += 1
        state.phase_epochs += 1
        state.elapsed = self.clock()
        lr = self.optimizer.param_groups[0]["lr"]
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
        if val_loss < state.best_loss:
            state.best_loss, state.bad_epochs = val_loss, 0
            self.result.best_scores = scores
            self._save_best(record)
        else:
            state.bad_epochs += 1
        if self.world.main:
            _append_log(self.out / "log.csv", record)
            self.board.epoch(record, self.data.val.pixels, self.data.val.labels, preds)
        self._save_last(state)
        self.log(
            f"epoch {record.epoch} phase {record.phase} lr {lr:g}: loss {train_loss:.4f} val_loss {val_loss:.4f} "
            f"acc {scores.accuracy:.4f} char_acc {scores.char_accuracy:.4f} "
            f"({seconds:.0f}s, {record.images_per_second:.0f} img/s)"
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
            loss = self._step(batch.to(self.device))
            n = len(batch.labels)
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
        self.best_state = _cpu_state(self.model)
        if self.world.main:
            save_checkpoint(dataclasses.replace(self.base, state_dict=self.best_state, meta=meta), self.result.best_path)

    def _save_last(self, state: RunState) -> None:
        if not self.world.main:
            return
        train_state = {"run": dataclasses.asdict(state), "optimizer": self.optimizer.state_dict()}
        if self.scheduler is not None:
            train_state["scheduler"] = self.scheduler.state_dict()
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
) -> tuple[float, Scores]:
    """Mean loss and scores of `model` on `samples`; each rank reads a share, all get the result."""
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


def _prepare(config: TrainConfig, saved: Checkpoint | None, log) -> tuple[object, InputSpec, DataBundle]:
    """Model config, its input spec and the data, consistent with each other."""
    if saved is not None:
        return saved.config, saved.input, _load_data(config, saved.input, saved.charset, log)
    if config.init:
        return _prepare_finetune(config, log)
    # The input size does not depend on the charset, so it is known before the data.
    spec = dataclasses.replace(_input_spec(_model_config(config, 2, 1)), fit=config.fit)
    given = Charset(config.chars) if config.chars else None
    data = _load_data(config, spec, given if config.data else given or Charset(DEFAULT_CHARS), log)
    return _model_config(config, data.charset.num_classes, data.max_len), spec, data


def _prepare_finetune(config: TrainConfig, log) -> tuple[object, InputSpec, DataBundle]:
    source = pretrained(config.init)
    config.model = source.model_name
    spec = dataclasses.replace(
        source.input,
        width=config.input_width or source.input.width,
        channels=config.channels or source.input.channels,
        fit=config.fit,
    )
    given = Charset(config.chars) if config.chars else None
    data = _load_data(config, spec, given or (None if config.data else source.charset), log)
    data.charset = choose_charset(source.charset, data.charset, given)
    model_config = finetune_config(source, data.charset, config.input_width, config.channels)
    log(f"fine-tuning {config.init} ({source.model_name}); charset {data.charset.chars!r}")
    return model_config, spec, data


def _model_config(config: TrainConfig, num_classes: int, max_len: int):
    model_config = default_config(config.model, num_classes, max_len, **_input_overrides(config))
    return with_channels(model_config, config.channels) if config.channels else model_config


def _input_overrides(config: TrainConfig) -> dict[str, int]:
    return {k: v for k, v in (("height", config.input_height), ("width", config.input_width)) if v}


def _input_spec(model_config) -> InputSpec:
    return InputSpec(model_config.height, model_config.width, model_config.convs.in_channels)


def _load_data(config: TrainConfig, spec: InputSpec, charset: Charset | None, log) -> DataBundle:
    return _folder_data(config, spec, charset, log) if config.data else _synthetic_data(config, spec, charset)


def _synthetic_data(config: TrainConfig, spec: InputSpec, charset: Charset) -> DataBundle:
    synth = _synth_config(config, charset.chars, *parse_length(config.length))
    if config.pregenerate > 0:
        train_set = ArrayDataset(
            Samples(*draw_arrays_cached(synth, spec, f"{config.seed}-train", config.pregenerate, config.workers, progress=True))
        )
    else:
        train_set = SyntheticDataset(synth, spec, f"{config.seed}-train", config.epoch_size)
    pixels, labels = draw_arrays(synth, spec, f"{config.seed}-val", config.val_size, workers=config.workers)
    return DataBundle(train_set, Samples(pixels, labels), charset, synth.max_len)


def _synth_config(config: TrainConfig, chars: str, min_len: int, max_len: int) -> SynthConfig:
    return SynthConfig(chars, min_len, max_len, config.image_width, config.image_height, config.style, config.fonts)


def _folder_data(config: TrainConfig, spec: InputSpec, charset: Charset | None, log) -> DataBundle:
    loaded = load_folder(config.data, spec, config.label_rule, charset, fold_case=config.fold_case, workers=config.workers)
    for name, reason in loaded.skipped:
        log(f"skipped {name}: {reason}")
    samples = loaded.samples
    if len(samples) < 2:
        raise ValueError(f"{config.data}: fewer than 2 usable labeled images")
    charset = charset or Charset.from_labels(samples.labels)
    train_idx, val_idx, test_idx = split_indices(len(samples), (config.val_split, config.test_split), config.seed)
    if len(val_idx) == 0 or len(train_idx) == 0:
        raise ValueError(
            f"{config.data}: {len(samples)} images leave {len(train_idx)} for training and {len(val_idx)} for validation "
            f"(--val-split {config.val_split}, --test-split {config.test_split}): label more images or change the splits"
        )
    log(describe(loaded, charset, {"train": len(train_idx), "validation": len(val_idx), "test": len(test_idx)}))
    test = samples.subset(test_idx) if len(test_idx) else None
    train_set = ArrayDataset(samples.subset(train_idx))
    if config.mix_synthetic > 0:
        train_set = ConcatDataset([train_set, _mixed_in(config, spec, samples.labels)])
        log(f"mixing {config.mix_synthetic} fresh synthetic captchas into each epoch's {len(train_idx)} images")
    return DataBundle(train_set, samples.subset(val_idx), charset, max(map(len, samples.labels)), test, samples)


def _mixed_in(config: TrainConfig, spec: InputSpec, labels: list[str]) -> SyntheticDataset:
    lengths = [len(label) for label in labels]
    chars = "".join(sorted(set("".join(labels))))
    synth = _synth_config(config, chars, min(lengths), max(lengths))
    return SyntheticDataset(synth, spec, f"{config.seed}-mix", config.mix_synthetic)


def _augmentation(config: TrainConfig) -> AugmentConfig | None:
    """Augmentation: on for folders of real images ("auto"), off for synthetic captchas (fresh every epoch)."""
    on = config.augment == "on" or (config.augment == "auto" and config.data is not None)
    return AugmentConfig() if on else None


def _set_epoch(dataset, epoch: int) -> None:
    """Fresh synthetic captchas every epoch, alone or mixed into a folder's images."""
    for part in getattr(dataset, "datasets", [dataset]):
        if isinstance(part, SyntheticDataset):
            part.set_epoch(epoch)


def _loader(dataset, charset: Charset, config: TrainConfig, world: World, shuffle: bool, epoch: int) -> DataLoader:
    # A synthetic stream needs no shuffling, and its items are seeded by index, so the
    # disjoint index shares of the sampler are distinct captchas on every rank and worker.
    sampler = GlobalBatchSampler(
        len(dataset), config.batch_size, world.rank, world.size, shuffle=shuffle, seed=config.seed * 1000 + epoch
    )
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=config.workers,
        collate_fn=Collate(charset),
        persistent_workers=False,  # re-created per epoch so SyntheticDataset.set_epoch reaches them
    )


def _scheduler(config: TrainConfig, optimizer, train_size: int, saved: Checkpoint | None):
    if config.schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {config.schedule!r}; expected one of {SCHEDULES}")
    if config.schedule != "onecycle":
        return None
    steps = max(1, train_size // config.batch_size)  # as GlobalBatchSampler counts them
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=steps * config.epochs, pct_start=0.15
    )
    if saved is not None and "scheduler" in (saved.train_state or {}):
        scheduler.load_state_dict(saved.train_state["scheduler"])
    return scheduler


def _optimizer(model, lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(model.parameters(), lr=lr, amsgrad=True)


def _phase_lr(config: TrainConfig, phase: int) -> float:
    return config.lr if phase == 0 else config.phase2_lr


def _cpu_state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


# Options a resumed run takes from the new command: how it runs, not what it learns.
RUNTIME_OPTIONS = {"out", "workers", "threads", "device", "dist_timeout", "precision", "time_budget"}
# Options a resumed run can take on, with a note: the plateau schedule's stopping rules.
ADJUSTABLE_OPTIONS = {"patience", "phase2_patience"}


def _resumed_config(config: TrainConfig, saved: Checkpoint, log=print) -> TrainConfig:
    """The saved run's config, with the options of the new command that may change.

    An option given anew (differing from TrainConfig's default) that would change what the
    run learns (the model, data, batch, rates, schedule...) is refused by name: silently
    ignoring it would leave the user believing it applied.
    """
    stored = saved.meta.get("train_config")
    if not stored or saved.train_state is None:
        raise ValueError("that checkpoint holds no training state to resume")
    stored = {RENAMED.get(k, k): v for k, v in stored.items()}  # runs saved before the renames
    resumed = TrainConfig(**stored)
    defaults = TrainConfig()
    changes, refused = {}, []
    for f in dataclasses.fields(TrainConfig):
        new, old = _plain(getattr(config, f.name)), _plain(getattr(resumed, f.name))
        if new == _plain(getattr(defaults, f.name)) or new == old or (f.name == "precision" and new == "auto"):
            continue
        adjustable = f.name in ADJUSTABLE_OPTIONS or (f.name == "epochs" and resumed.schedule == "plateau")
        if f.name in RUNTIME_OPTIONS or adjustable:
            changes[f.name] = new
            if adjustable:
                log(f"resume: {f.name} changed from {old} to {new}")
        else:
            refused.append(f"{f.name} (the run's: {old}, given: {new})")
    if refused:
        raise ValueError(
            "--resume continues a run as it was set up, but these options differ: " + "; ".join(refused)
            + ". Leave them out, or start a new run with another --out"
        )  # fmt: skip
    return dataclasses.replace(resumed, **changes)


def _plain(value):
    """Lists (as a checkpoint stores them) compare equal to the tuples a command gives."""
    return tuple(value) if isinstance(value, list) else value


def check_label_fit(model, data: DataBundle) -> None:
    """Refuse labels the model cannot emit, before training: CTC would learn nothing from
    them at zero loss (zero_infinity hides it), a multi-head model has no head for them."""
    scheme, slots = get_scheme(model.scheme), model.config.slots()
    unit = "CTC frames" if scheme.variable_width else "character heads"
    if data.folder is None:
        # Synthetic labels are random: a repeat costs a CTC frame now and then, which
        # zero_infinity absorbs; labels longer than the output steps would never be read.
        if data.max_len > slots:
            raise ValueError(
                f"labels of {data.max_len} characters need at least {data.max_len} {unit}, but the model has {slots} "
                f"at input width {model.config.width}: widen --input-size"
            )
        return
    folder = data.folder
    too_long = [
        f"{name} ({label!r} needs {scheme.slots_needed(label)})"
        for name, label in zip(folder.names or folder.labels, folder.labels)
        if scheme.slots_needed(label) > slots
    ]
    if too_long:
        hint = (
            f"widen --input-size, about {model.config.width // slots} pixels a frame"
            if scheme.variable_width
            else "a CRNN reads any length"
        )
        raise ValueError(
            f"{len(too_long)} labels need more {unit} than the model's {slots} at input width {model.config.width} "
            f"({hint}): " + ", ".join(too_long[:5])
        )


def check_writable(out: Path) -> None:
    """Fail now, with one line, if the run folder cannot be created or written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as err:
        raise ValueError(f"cannot write the run to {out}: {err.strerror or err}") from None


def check_fonts(config: TrainConfig) -> None:
    """Fonts that cannot be used fail before any data is read, not after the whole set."""
    chars = config.chars or (None if config.data else DEFAULT_CHARS)
    if chars is None and config.fonts:
        chars = "".join(
            sorted(set("".join(label for _, label in scan_folder(config.data, config.label_rule, config.fold_case).items)))
        )
    for font in config.fonts:
        check_font(font, chars)


def _apply_dry_run(config: TrainConfig) -> None:
    if config.dry_run:
        config.epoch_size = min(config.epoch_size, 2 * config.batch_size)
        config.val_size = min(config.val_size, config.batch_size)
        config.epochs = 1
        config.pregenerate = min(config.pregenerate, 2 * config.batch_size)


def _append_log(path: Path, record: EpochRecord) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(record.row())
        f.flush()


def _trim_log(path: Path, epochs: int) -> None:
    """Drop rows past the checkpoint: an epoch logged but not checkpointed is redone."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(r["epoch"]) <= epochs]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def read_log(path: str | Path) -> list[dict[str, float]]:
    with Path(path).open(newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
