"""A run folder: its log, its state, and what a resumed run may change.

RUN/log.csv gets one row per epoch (EpochRecord), RUN/config.json the run's config
(write_config); RUN/last.pt holds the run's state with the weights (train/state.py); a
resumed run takes its config from there, with only the options that change how it runs
taken from the new command (resumed_config).
"""

from __future__ import annotations

import csv
import dataclasses
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import Checkpoint
from .config import TrainConfig
from .locking import exclusive


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


LOG_FIELDS = [f.name for f in dataclasses.fields(EpochRecord)]  # log.csv's columns, in order


# Options a resumed run takes from the new command: how it runs, not what it learns.
RUNTIME_OPTIONS = {"out", "workers", "threads", "device", "dist_timeout", "precision", "time_budget"}


# Options a resumed run can take on, with a note: the plateau schedule's stopping rules.
ADJUSTABLE_OPTIONS = {"patience", "phase2_patience"}


def resumed_config(config: TrainConfig, saved: Checkpoint, log=print, given: Collection[str] | None = None) -> TrainConfig:
    """The saved run's config, with the options of the new command that may change.

    An option given anew that would change what the run learns (the model, data, batch,
    rates, schedule...) is refused by name: silently ignoring it would leave the user
    believing it applied. given: the names of the options the command gave (the command
    line knows them); None (a config built in Python): those that differ from TrainConfig's
    defaults.
    """
    stored = saved.meta.get("train_config")
    if not stored or saved.train_state is None:
        raise ValueError("that checkpoint holds no training state to resume")
    return merge_resumed(TrainConfig.from_saved(stored), config, log, given)


def merge_resumed(resumed: TrainConfig, config: TrainConfig, log=print, given: Collection[str] | None = None) -> TrainConfig:
    """`resumed` (a run's stored config) with what `config` (the new command) may change;
    `given` as for resumed_config."""
    defaults = TrainConfig()
    changes, refused = {}, []
    for f in dataclasses.fields(TrainConfig):
        new, old = _plain(getattr(config, f.name)), _plain(getattr(resumed, f.name))
        unset = f.name not in given if given is not None else new == _plain(getattr(defaults, f.name))
        if unset or new == old or (f.name == "precision" and new == "auto"):
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


def check_writable(out: Path) -> None:
    """Fail now, with one line, if the run folder cannot be created or written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as err:
        raise ValueError(f"cannot write the run to {out}: {err.strerror or err}") from None


def hold_run(out: Path):
    """Keep a second `train` out of this run folder while this one runs: two runs writing
    one folder would overwrite each other's checkpoints."""
    return exclusive(out / ".lock", "another training run")


def write_config(out: Path, config: TrainConfig) -> None:
    """The run's config as a file a user can read and reuse (train --config); what
    `train --resume` of a soup reads back."""
    (out / "config.json").write_text(config.to_json() + "\n")


def append_log(path: Path, record: EpochRecord) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(record.row())
        f.flush()


def trim_log(path: Path, epochs: int) -> None:
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


def run_logs(source: str | Path) -> dict[str, list[dict[str, float]]]:
    """The epoch logs `plot curves SOURCE` draws, by name: a log.csv, or a run folder's. A
    soup's folder holds its members' epochs one after another (average.py); each member's
    own log, named member_1, member_2..., lets them be drawn over each other instead."""
    source = Path(source)
    if source.is_file():
        return {"": read_log(source)}
    members = [p for p in source.glob("member_*/log.csv") if p.parent.name.removeprefix("member_").isdigit()]
    if members:
        members.sort(key=lambda p: int(p.parent.name.removeprefix("member_")))
        return {path.parent.name: read_log(path) for path in members}
    if not (source / "log.csv").is_file():
        raise FileNotFoundError(f"no log.csv in {source}: give a run folder or its log.csv")
    return {"": read_log(source / "log.csv")}


def one_clock(before: list[dict[str, float]], rows: list[dict[str, float]]) -> list[dict[str, float]]:
    """A run's epochs after those of another, on one clock: a model fine-tuned from an
    earlier one, or averaged from several runs, cost the time of all of them."""
    offset = before[-1]["elapsed"] if before else 0.0
    return before + [{**row, "epoch": row["epoch"] + len(before), "elapsed": row["elapsed"] + offset} for row in rows]


def write_log(rows: list[dict[str, float]], path: str | Path) -> None:
    with Path(path).open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: f"{v:g}" for k, v in row.items()} for row in rows)
