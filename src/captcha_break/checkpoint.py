"""Self-describing checkpoints: weights + model name and config + charset + input spec.

A checkpoint is a plain dict of tensors and Python primitives, so it loads with
`torch.load(weights_only=True)`: no pickled classes, nothing executed on load. Writes go
to a temporary file that is fsynced and then renamed over the target, so a run killed
mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import dataclasses
import errno
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .atomic import atomic_write
from .charset import Charset
from .models import build_model, config_from_dict, config_to_dict
from .preprocess import InputSpec

FORMAT = "captcha_break/1"


@dataclass
class Checkpoint:
    model_name: str
    config: Any  # the model's config dataclass
    charset: Charset
    input: InputSpec
    state_dict: dict[str, torch.Tensor]
    # Where training stands (optimizer state, epoch, ...); None in a finished model.
    train_state: dict | None = None
    meta: dict = field(default_factory=dict)  # free-form: training command, accuracy, ...

    @property
    def ema(self) -> dict | None:
        """A run's moving average of the weights (train --ema), as its last.pt keeps it:
        {"state": the averaged state_dict, "count": the steps averaged}; None without one."""
        return (self.train_state or {}).get("ema")

    def build(self, device: torch.device | str = "cpu") -> nn.Module:
        """The model with these weights, in eval mode, on `device`."""
        model = build_model(self.model_name, self.config)
        model.load_state_dict(self.state_dict)
        return model.to(device).eval()

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "model_name": self.model_name,
            "config": config_to_dict(self.config),
            "charset": self.charset.chars,
            "input": dataclasses.asdict(self.input),
            "state_dict": self.state_dict,
            "train_state": self.train_state,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Checkpoint:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a captcha_break checkpoint (format {data.get('format')!r})")
        return cls(
            model_name=data["model_name"],
            config=config_from_dict(data["model_name"], data["config"]),
            charset=Charset(data["charset"]),
            input=InputSpec(**data["input"]),
            state_dict=data["state_dict"],
            train_state=data.get("train_state"),
            meta=data.get("meta") or {},
        )


def save_checkpoint(checkpoint: Checkpoint, path: str | Path) -> None:
    """Write atomically: the file at `path` is always either the old or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, binary=True) as f:
        try:
            torch.save(checkpoint.to_dict(), f)
        except RuntimeError as err:  # torch's writer says a full disk as "unexpected pos ..."
            raise OSError(errno.EIO, f"could not write the checkpoint (a full disk?): {err}", str(path)) from err


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by save_checkpoint; raise ValueError if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file
        raise ValueError(f"cannot read checkpoint {path}: {err}") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a captcha_break checkpoint")
    return Checkpoint.from_dict(data)
