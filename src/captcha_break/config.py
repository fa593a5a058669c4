"""What a training run is told: one dataclass, its defaults and choices defined once.

torch-free, so that the command line can build `train`'s options from these fields (each
field's help, choices and command-line form live in its metadata) without importing
torch, which reading captchas never needs. A run folder keeps its config as config.json,
which `train --config` reads back.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .options import checked, option, parse_duration

SCHEDULES = ("plateau", "onecycle")
FITS = ("stretch", "pad", "crop")
PADDED_FITS = ("pad", "crop")  # keep the aspect ratio and pad the width
PRECISIONS = ("auto", "bf16", "fp32")
AUTO = -1  # --workers / --threads: chosen from the cores and the device (device.share_cores)
AUGMENT = ("auto", "on", "off")
WEIGHT_FORMATS = ("fp32", "fp16", "int8")
INT8_MODES = ("none", "dynamic", "static")
FOCUS_WEIGHT = 3.0  # the synthetic stream's default too (synth.SynthConfig)


# The sections of `train --help`, in order.
GROUPS = {
    "data": "data: what to learn from",
    "synthetic": "synthetic captchas (without --data)",
    "model": "model: the architecture, where it starts, what it reads",
    "schedule": "schedule: how long and how fast",
    "hardware": "hardware",
    "output": "output and resuming",
}
# Options the plain command (`train --data DIR`) chooses from the folder when left unset.
PLAIN_CHOICES = ("model", "init", "fit", "input_width", "batch_size", "schedule", "epochs", "soup")


@dataclass
class TrainConfig:
    model: str = option("crnn", "the architecture: a name that `captcha-break models` lists", group="model")
    out: str = option("runs/crnn", "run folder: best.pt, last.pt, log.csv, config.json", group="output")
    # Data: synthetic captchas unless `data` names a folder of labeled images.
    data: str | None = option(
        None,
        "folder of labeled images (labels.csv, or labels in file names); without it: synthetic captchas",
        metavar="DIR",
        group="data",
    )
    val_split: float = option(0.1, "share of --data held out for validation", group="data")
    test_split: float = option(0.2, "share of --data held out for the final report (test_report.json)", group="data")
    label_rule: str = option(
        "auto", "how file names give labels: auto, none, underscore, dash, dot or a regex with (?P<label>...)", group="data"
    )
    mix_synthetic: int = option(
        0,
        "with --data: add N fresh synthetic captchas (the labels' characters and lengths) to each epoch",
        metavar="N",
        group="data",
    )
    unlabeled: str | None = option(
        None, "with --data: a folder of unlabeled images of the same site; a second model trains on the labels plus "
        "the readings of them that the first one is sure of (self-training)", metavar="DIR", group="data"
    )  # fmt: skip
    # 0.9 rather than 0.8: docs/notebook.md, "Self-training".
    pseudo_threshold: float = option(0.9, "with --unlabeled: the confidence a reading needs to be trained on", group="data")
    pseudo_labels: str | None = option(
        None, "a labels file of image paths (file,label) added to the training images only (with --data: to its "
        "training split; without: beside the synthetic captchas)", metavar="CSV", group="data",
    )  # fmt: skip
    fold_case: bool = option(False, "read labels as upper case", group="data")
    chars: str | None = option(
        None,
        "the charset: the characters the model reads (default: with --data the labels' characters; else 0-9A-Z)",
        group="data",
    )
    length: str = option("4", "synthetic label length: N or MIN-MAX", cli=False, group="synthetic")
    image_width: int = option(128, "synthetic image width", cli=False, group="synthetic")
    image_height: int = option(64, "synthetic image height", cli=False, group="synthetic")
    style: str = option("v07", "synthetic style", cli=False, group="synthetic")
    fonts: tuple[str, ...] = option((), "synthetic captchas' font files; empty: the library's own", cli=False, group="synthetic")
    focus: str = option(
        "",
        "synthetic training captchas draw these characters --focus-weight times as often, e.g. 0O for look-alikes "
        "(validation stays uniform)",
        metavar="CHARS",
        group="synthetic",
    )
    focus_weight: float = option(
        FOCUS_WEIGHT, "how many times as often --focus draws its characters", metavar="N", group="synthetic"
    )
    pregenerate: int = option(
        0, "draw N synthetic captchas once (cached, resumable) and reuse them each epoch", metavar="N", group="synthetic"
    )
    input_width: int | None = option(None, "model input width (default: the model's)", cli=False, group="model")
    input_height: int | None = option(None, "model input height (default: the model's)", cli=False, group="model")
    fit: str = option(
        "stretch",
        "images of another size: stretch to the input; keep the aspect ratio and pad; or first crop to the text, then pad",
        choices=FITS,
        group="model",
    )
    channels: int | None = option(None, "1 (grayscale) or 3 (RGB); default: the model's", cli=False, group="model")
    init: str | None = option(
        None,
        "start from a checkpoint: a .pt file, a bundled model's name, or none (from scratch); with --data: the bundled model",
        group="model",
    )
    keep_start: bool = option(
        True, "keep the starting weights where the trained ones read no more of the validation set (off where the "
        "validation labels are the start's own readings: label-free adaptation judges otherwise)", cli=False, group="model",
    )  # fmt: skip
    augment: str = option(
        "auto",
        "augmentation; auto: on for --data folders, light for a --pregenerate set, off for fresh captchas",
        choices=AUGMENT,
        group="data",
    )
    # Recipe: the tutorial's values.
    epoch_size: int = option(128_000, "synthetic images per epoch", group="synthetic")
    val_size: int = option(12_800, "synthetic validation images", group="synthetic")
    batch_size: int = option(128, "global batch (shared among processes under torchrun)", group="schedule")
    accumulate: int = option(
        1, "split each batch into N micro-batches (the same update, less memory)", metavar="N", group="hardware"
    )
    replay: float = option(
        1.0, "train each step on its batch plus K-1 times as many captchas drawn earlier in the run, kept on the device "
        "(for a GPU that waits on drawing; see replay.py); 1: off", metavar="K", group="hardware"
    )  # fmt: skip
    replay_size: int = option(
        1_000_000, "with --replay: the most images kept to replay (uint8 on the device)", metavar="N", group="hardware"
    )
    epochs: int = option(100, "most epochs per phase (--data: chosen from the set's size)", group="schedule")
    lr: float = option(1e-3, "learning rate", group="schedule")
    feature_lr_scale: float = option(
        1.0,
        "with --init: the convolutions learn at this share of the rate (below 1 keeps more of the pretrained model)",
        group="schedule",
    )
    phase2_lr: float = option(1e-4, "plateau schedule: the rate after the best weights are reloaded", group="schedule")
    patience: int = option(3, "plateau schedule: epochs without a better validation loss before the rate drops", group="schedule")
    phase2_patience: int = option(2, "plateau schedule: the same, at the lower rate, before the run stops", group="schedule")
    ema: float = option(
        0.0,
        "keep an exponential moving average of the weights with this decay (e.g. 0.999) and save it as the model; 0: off",
        group="schedule",
    )
    schedule: str = option(
        "plateau",
        "plateau: the tutorial's recipe; onecycle: --epochs epochs of OneCycleLR, no early stop",
        choices=SCHEDULES,
        group="schedule",
    )
    time_budget: float = option(
        0.0, "at most this long (30m, 1h, 90s): fewer epochs are planned to fit, and the run stops when it is spent",
        metavar="DURATION", group="schedule", parse=checked(parse_duration)
    )  # fmt: skip
    soup: int = option(
        1, "with --init: train N fine-tunes with seeds SEED..SEED+N-1, each with an equal share of the time budget, and "
        "keep the mean of their weights (RUN/member_K/; see soup.py); --data with a --time-budget of 20m or more: 2",
        metavar="N", group="schedule"
    )  # fmt: skip
    # Running: may change on --resume.
    workers: int = option(
        AUTO,
        f"DataLoader worker processes (drawing captchas, reading folders); {AUTO}: chosen from the cores and the device",
        group="hardware",
    )
    threads: int = option(
        AUTO,
        f"torch threads for training; 0: torch's default; {AUTO}: the cores the drawing workers leave (CPU), 2 (GPU)",
        group="hardware",
    )
    seed: int = option(0, "seed of the synthetic streams, the split and the initial weights", group="data")
    device: str = option("auto", "auto (CUDA when present), cpu, cuda, cuda:N", group="hardware")
    precision: str = option(
        "auto",
        "auto: bf16 autocast on CUDA and on CPUs with native bf16 (AVX-512 BF16, AMX), else fp32",
        choices=PRECISIONS,
        group="hardware",
    )
    dist_timeout: float = option(
        600.0, "under torchrun: seconds to wait for the other processes before failing", group="hardware"
    )
    dry_run: bool = option(False, "two batches per epoch, one epoch per phase: the real code as a smoke test", group="output")

    def __post_init__(self):
        # Refused as the options are read: a run would otherwise fail only after its validation set is drawn.
        if self.replay < 1:
            raise ValueError(f"--replay must be at least 1 (1: no replay), not {self.replay:g}")
        if self.replay_size < 1:
            raise ValueError(f"--replay-size must be at least 1, not {self.replay_size}")
        for name in ("batch_size", "epochs", "accumulate", "epoch_size", "val_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, not {getattr(self, name)}")
        for name in ("lr", "phase2_lr", "feature_lr_scale"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):  # nan trains nothing and would exit 0
                raise ValueError(f"--{name.replace('_', '-')} must be a number above 0, not {value}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"--ema must be from 0 (off) to below 1, not {self.ema}")
        if self.soup < 1:
            raise ValueError(f"--soup {self.soup}: the number of members is 1 (no soup) or more")
        if self.soup > 1 and self.unlabeled:
            raise ValueError("--soup and --unlabeled together: pick one (self-training trains two models already)")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_saved(cls, stored: dict[str, Any]) -> TrainConfig:
        """The config a checkpoint stored (meta["train_config"]), runs of older versions too."""
        return cls(**{RENAMED.get(k, k): v for k, v in stored.items()})

    @classmethod
    def from_file(cls, path: str | Path) -> dict[str, Any]:
        """The fields a config.json sets (unknown ones refused by name)."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"cannot read config {path}: {err}") from None
        data = {RENAMED.get(k, k): v for k, v in data.items()}
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"{path}: unknown config fields {', '.join(unknown)}")
        return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}


# Fields renamed since runs were saved: the runs of an older version still resume.
RENAMED = {"finetune_lr": "phase2_lr", "finetune_patience": "phase2_patience"}
