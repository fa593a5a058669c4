"""A soup: several fine-tunes of one base model, their weights averaged (--soup N).

Fine-tunes that start from the same pretrained weights and differ only in their seed (the
order and augmentation of their images, and which images validate) end in one basin of the
loss at different points; the mean of their weights tends to read better than each of
them, and is one model of the same size (see average.py). With `--soup N`, `train` runs N
such members into RUN/member_1 ... RUN/member_N, each with seed SEED + k and an equal share
of what is left of the time budget, and writes their mean to RUN/best.pt, scored on the
test split (which every member held out alike). Members that start from random weights
would not line up unit for unit, so a soup needs --init.

The plain command chooses `--soup 2` itself with a time budget of 20 minutes or more (what
it was measured on: docs/notebook.md, "Soups").

The members validate on different images (the validation split follows the seed) and each
trains on images another validates on: no validation split is clean for the mean, so it
is not chosen against its members; the test split reports it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .config import TrainConfig
from .runfolder import write_config
from .train import TrainResult, train

DONE = "member_done"  # written in a member's folder once it finished: --resume skips it


def soup_train(config: TrainConfig, resume: bool = False, log=print) -> TrainResult:
    """Train `config.soup` members and average them into config.out/best.pt.

    A run stopped at any point continues with --resume: finished members are kept."""
    if not config.init:
        raise ValueError("--soup needs --init (or --data's base model): members from random weights cannot be averaged")
    from .distributed import launched

    main = launched()[0] == 0  # under torchrun, rank 0 writes what is not a member's
    out = Path(config.out)
    if main:
        out.mkdir(parents=True, exist_ok=True)
        write_config(out, config)  # what `train --resume --out RUN` reads back
    members: list[Path] = []
    for k in range(config.soup):
        member_out = out / f"member_{k + 1}"
        if (member_out / DONE).exists():
            log(f"soup member {k + 1} of {config.soup} done: {member_out}")
            members.append(member_out)
            continue
        budget = _share(config, members, config.soup - k)
        member = dataclasses.replace(config, out=str(member_out), soup=1, seed=config.seed + k, time_budget=budget)
        log(f"soup member {k + 1} of {config.soup}: seed {member.seed}" + (f", {budget / 60:.1f} min" if budget else ""))
        again = resume and (member_out / "last.pt").exists()
        if again:  # the member's checkpoint knows its plan (its epochs fitted to its budget): only how it runs is new
            member = TrainConfig(out=member.out, time_budget=budget, workers=config.workers, threads=config.threads,
                                 device=config.device, precision=config.precision)  # fmt: skip
        train(member, resume=again, log=log)
        if main:
            (member_out / DONE).touch()
        members.append(member_out)
    return _average(config, members, out, log) if main else TrainResult(best_path=out / "best.pt")


def _share(config: TrainConfig, done: list[Path], members_left: int) -> float:
    """A member's time budget: an equal share of what the finished members left (0: no
    budget). Their time is read from their logs, so a resumed soup counts it too."""
    from .runfolder import read_log

    if not config.time_budget:
        return 0.0
    spent = sum(read_log(d / "log.csv")[-1]["elapsed"] for d in done if (d / "log.csv").exists())
    left = config.time_budget - spent
    if left / members_left < 60:
        raise ValueError(f"--time-budget left {left:.0f}s for {members_left} soup members: give more time or fewer members")
    return left / members_left


def _average(config: TrainConfig, members: list[Path], out: Path, log) -> TrainResult:
    from .average import average_runs
    from .checkpoint import load_checkpoint
    from .folders import holdout_split, load_folder
    from .report import write_report

    best = out / "best.pt"
    best.unlink(missing_ok=True)  # a soup stopped while writing it is made again
    average_runs(members, out)
    log(f"soup: the mean of {len(members)} members' weights -> {best}")
    result = TrainResult(best_path=best)
    if config.data and config.test_split > 0:
        saved = load_checkpoint(best)
        loaded = load_folder(config.data, saved.input, config.label_rule, saved.charset, fold_case=config.fold_case)
        test = holdout_split(len(loaded.samples), config.val_split, config.test_split, config.seed)[2]
        if len(test):
            result.test_report = write_report(best, loaded.samples.subset(test), out, log, folder=config.data)
    return result
