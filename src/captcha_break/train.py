"""Training: the tutorial's recipe as a resumable loop.

Phase 0 trains with Adam (amsgrad) at `lr` until the validation loss stops improving for
`patience` epochs; phase 1 reloads the best weights and goes on at `finetune_lr` (the
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
import csv
import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader
from tqdm import tqdm

from .augment import AugmentConfig, augment
from .charset import DEFAULT_CHARS, Charset
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .datasets import ArrayDataset, Collate, GlobalBatchSampler, SyntheticDataset
from .decoding import greedy_decode
from .distributed import SINGLE, World, gather, join, leave, main_first, sum_over_ranks, wrap
from .finetune import choose_charset, finetune_config, load_pretrained, pretrained
from .folders import Samples, describe, load_folder, split_indices
from .losses import compute_loss
from .metrics import Scores, score
from .models import build_model, default_config, with_channels
from .preprocess import InputSpec
from .report import write_report
from .synth import SynthConfig, draw_arrays, draw_arrays_cached, parse_length

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
SCHEDULES = ("plateau", "onecycle")


@dataclass
class TrainConfig:
    model: str = "crnn"
    out: str = "runs/crnn"
    # Data: synthetic captchas unless `data` names a folder of labeled images.
    data: str | None = None
    val_split: float = 0.1  # of a folder, held out for validation
    test_split: float = 0.1  # of a folder, held out for the final report
    label_rule: str = "auto"
    # > 0 with `data`: this many fresh synthetic captchas (the labels' characters and
    # lengths) join the folder's training images each epoch.
    mix_synthetic: int = 0
    fold_case: bool = False  # read labels as upper case
    chars: str | None = None  # synthetic default: 0-9A-Z; a folder's: inferred from labels
    length: str = "4"  # synthetic label length, N or MIN-MAX
    image_width: int = 128  # synthetic image size
    image_height: int = 64
    style: str = "v07"
    fonts: tuple[str, ...] = ()  # synthetic captchas' font files; empty: the library's own
    # > 0: draw this many synthetic captchas once (cached on disk) and reuse them every
    # epoch instead of drawing fresh ones; cheaper when drawing is the bottleneck.
    pregenerate: int = 0
    input_width: int | None = None  # model input; default: the model's registered size
    input_height: int | None = None
    fit: str = "stretch"  # how other image sizes become the input size (preprocess.InputSpec)
    channels: int | None = None  # 1 (grayscale) or 3 (RGB); default: the model's
    # Start from a pretrained checkpoint ("default": the bundled model) instead of scratch.
    init: str | None = None
    # Augmentation (augment.py): "auto" = on for folders of real images, off for synthetic
    # captchas (fresh data every epoch needs none).
    augment: str = "auto"
    # Recipe: the tutorial's values.
    epoch_size: int = 128_000
    val_size: int = 12_800
    batch_size: int = 128  # the global batch: shared among processes under torchrun
    # Split each process's share of a batch into this many micro-batches (same gradient,
    # less memory). One process with accumulate=N computes what N processes do.
    accumulate: int = 1
    epochs: int = 100  # at most, per phase
    lr: float = 1e-3
    finetune_lr: float = 1e-4
    patience: int = 3
    finetune_patience: int = 2
    # "plateau": the tutorial's recipe above. "onecycle": one phase of `epochs` epochs,
    # the rate rising to `lr` and annealing to ~0 (OneCycleLR), no early stop.
    schedule: str = "plateau"
    # Running.
    workers: int = 2
    seed: int = 0
    device: str = "auto"
    dist_timeout: float = 600.0  # seconds a rank waits for the others before failing
    dry_run: bool = False  # a couple of batches per epoch: the real code as a smoke test


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


def train(config: TrainConfig, resume: bool = False, log=print) -> TrainResult:
    """Run (or resume) the recipe described by `config`; see the module docstring."""
    world, device = join(config.device, config.dist_timeout)
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
    for stale in out.glob(".*.tmp") if world.main else ():  # left by a kill during a checkpoint write
        stale.unlink()
    saved = load_checkpoint(last) if resume else None
    if saved is not None:
        config = _resumed_config(config, saved)
    _apply_dry_run(config)
    torch.manual_seed(config.seed)  # the same initial weights on every rank
    with main_first(world):  # rank 0 fills the data caches, the others read them
        model_config, spec, data = _prepare(config, saved, log)
    # channels_last: measured 30% faster convolutions on a 2-core CPU (benchmarks/).
    model = build_model(config.model, model_config).to(device, memory_format=torch.channels_last)
    _log_world(world, config, log)
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
    base = Checkpoint(config.model, model_config, data.charset, spec, {}, meta={"train_config": dataclasses.asdict(config)})
    loop = _Loop(config, model, optimizer, data, base, device, out, log, world)
    if saved and (out / "best.pt").exists():
        loop.best_state = load_checkpoint(out / "best.pt").state_dict
    elapsed_before = state.elapsed  # a resumed run's clock goes on from where it stopped
    loop.clock = lambda: elapsed_before + time.perf_counter() - started
    loop.scheduler = _scheduler(config, optimizer, len(data.train), saved)
    return loop.run(state)


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
        on = config.augment == "on" or (config.augment == "auto" and config.data is not None)
        self.augment = AugmentConfig() if on else None

    def run(self, state: RunState) -> TrainResult:
        patience = (self.config.patience, self.config.finetune_patience)
        if self.config.schedule == "onecycle":
            patience = (math.inf, math.inf)
        while state.phase < 2:
            if state.phase_epochs >= self.config.epochs or state.bad_epochs >= patience[state.phase]:
                self._next_phase(state)
                continue
            self._epoch(state)
        if self.world.main and self.result.best_path.exists():
            best = load_checkpoint(self.result.best_path)
            self.log(
                f"best: epoch {best.meta.get('epoch')}, accuracy {best.meta.get('accuracy', 0):.4f} -> {self.result.best_path}"
            )
            if self.data.test is not None:
                self.result.test_report = write_report(self.result.best_path, self.data.test, self.out, self.log)
        return self.result

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
        val_loss, scores = validate(
            self.model, self.data.val, self.data.charset, self.scheme, self.device, self.config.batch_size, self.world
        )
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
        self._save_last(state)
        self.log(
            f"epoch {record.epoch} phase {record.phase} lr {lr:g}: loss {train_loss:.4f} val_loss {val_loss:.4f} "
            f"acc {scores.accuracy:.4f} char_acc {scores.char_accuracy:.4f} ({seconds:.0f}s, {record.images_per_second:.0f} img/s)"
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
                loss = compute_loss(self.net(images), part.targets, part.lengths, self.scheme)
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
    model, samples: Samples, charset: Charset, scheme: str, device, batch_size: int, world: World = SINGLE
) -> tuple[float, Scores]:
    """Mean loss and scores of `model` on `samples`; each rank reads a share, all get the result."""
    model.eval()
    mine = np.arange(world.rank, len(samples), world.size)
    loader = DataLoader(ArrayDataset(samples.subset(mine)), batch_size=batch_size, collate_fn=Collate(charset))
    total, preds = 0.0, []
    for batch in loader:
        batch = batch.to(device)
        logits = model(batch.images)
        total += compute_loss(logits, batch.targets, batch.lengths, scheme).item() * len(batch.labels)
        probs = logits.float().softmax(-1).cpu().numpy()
        preds += [d.text for d in greedy_decode(probs, charset, scheme)]
    shares = gather(world, (mine.tolist(), preds, total))
    merged = [""] * len(samples)
    for index, texts, _ in shares:
        for i, text in zip(index, texts):
            merged[i] = text
    return sum(s[2] for s in shares) / max(len(samples), 1), score(samples.labels, merged)


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
    model_config = finetune_config(source, data.charset, data.max_len, config.input_width, config.channels)
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
            Samples(*draw_arrays_cached(synth, spec, f"{config.seed}-train", config.pregenerate, config.workers))
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
    log(describe(loaded, charset, {"train": len(train_idx), "validation": len(val_idx), "test": len(test_idx)}))
    test = samples.subset(test_idx) if len(test_idx) else None
    train_set = ArrayDataset(samples.subset(train_idx))
    if config.mix_synthetic > 0:
        train_set = ConcatDataset([train_set, _mixed_in(config, spec, samples.labels)])
        log(f"mixing {config.mix_synthetic} fresh synthetic captchas into each epoch's {len(train_idx)} images")
    return DataBundle(train_set, samples.subset(val_idx), charset, max(map(len, samples.labels)), test)


def _mixed_in(config: TrainConfig, spec: InputSpec, labels: list[str]) -> SyntheticDataset:
    lengths = [len(label) for label in labels]
    chars = "".join(sorted(set("".join(labels))))
    synth = _synth_config(config, chars, min(lengths), max(lengths))
    return SyntheticDataset(synth, spec, f"{config.seed}-mix", config.mix_synthetic)


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
    return config.lr if phase == 0 else config.finetune_lr


def _cpu_state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _resumed_config(config: TrainConfig, saved: Checkpoint) -> TrainConfig:
    """The saved run's config; only how it runs (workers, device) may change on resume."""
    stored = saved.meta.get("train_config")
    if not stored or saved.train_state is None:
        raise ValueError("that checkpoint holds no training state to resume")
    return dataclasses.replace(
        TrainConfig(**stored), workers=config.workers, device=config.device, out=config.out, dist_timeout=config.dist_timeout
    )


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


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
