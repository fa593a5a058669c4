"""Start training from a pretrained checkpoint: the bundled model or any run's best.pt.

The new model takes the pretrained model's architecture and input size (a new width or
colour mode may be asked for; the first convolution is converted between grayscale and RGB). If the new
labels fit in the pretrained charset, the charset (and the whole network) is kept; if not,
the output layer is rebuilt for the new charset, with the rows of the characters both
charsets share copied over, so what the model knew of them is kept.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import torch
from torch import nn

from .assets import resolve
from .charset import Charset
from .checkpoint import Checkpoint, load_checkpoint
from .models import ModelConfig, scheme_of, with_channels


def pretrained(source: str | os.PathLike) -> Checkpoint:
    """The checkpoint a run starts from, read once however many steps of a run (the plain
    command's choices, the set-up, each soup member) ask for it; read again if the file
    changed. Shared: callers copy before they change it."""
    path = resolve(source, "pt")
    stat = path.stat()
    return _read_once(path.resolve(), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _read_once(path: Path, _mtime_ns: int, _size: int) -> Checkpoint:
    return load_checkpoint(path)


def frame_stride(config: ModelConfig) -> int:
    """How many pixels of input width make one output frame of a model built from `config`."""
    _, frames = config.convs.output_size(config.height, config.width)
    return max(1, config.width // frames)


def choose_charset(source: Charset, labels_charset: Charset, given: Charset | None) -> Charset:
    """The pretrained charset when the labels fit in it, else the given or inferred one."""
    if given is not None:
        return given
    return source if set(labels_charset.chars) <= set(source.chars) else labels_charset


def finetune_config(source: Checkpoint, charset: Charset, width: int | None, channels: int | None = None) -> ModelConfig:
    """The pretrained model's config for `charset`, at another width or colour mode if asked."""
    config = dataclasses.replace(source.config, num_classes=charset.num_classes)
    if channels:
        config = with_channels(config, channels)  # load_pretrained converts the first convolution
    if width and width != config.width:
        if not scheme_of(source.model_name).variable_width:
            raise ValueError(f"{source.model_name} reads one input size ({config.width} wide): it cannot be widened")
        config = dataclasses.replace(config, width=width)  # convolutions and GRUs read any width
    return config


def load_pretrained(model: nn.Module, source: Checkpoint, charset: Charset) -> list[str]:
    """Copy every weight whose shape fits; with a new charset, remap the output layer's
    rows by character. Returns the names of the tensors that start (partly) fresh."""
    output = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)][-1] + "."
    target = model.state_dict()
    fresh = []
    for name, value in target.items():
        old = source.state_dict.get(name)
        if name.startswith(output) and source.charset != charset:
            if old is not None and old.shape[0] == source.charset.num_classes and value.shape[0] == charset.num_classes:
                rows = _row_map(source.charset, charset)
                value = value.clone()
                value[rows[:, 1]] = old[rows[:, 0]].to(value.dtype)  # shared characters keep their rows
                target[name] = value
            fresh.append(name)
        elif old is not None and old.shape == value.shape:
            target[name] = old.to(value.dtype)
        elif old is not None and _other_colour_mode(old, value):
            target[name] = _convert_first_conv(old, value.shape[1]).to(value.dtype)
        else:
            fresh.append(name)
    model.load_state_dict(target)
    return fresh


# ITU-R 601-2 luma, the weights Pillow's convert("L") uses: an RGB filter of w * LUMA reads
# an RGB image exactly as the grayscale filter w read its grayscale version.
LUMA = (0.299, 0.587, 0.114)


def _other_colour_mode(old: torch.Tensor, new: torch.Tensor) -> bool:
    """A convolution kernel that differs only in reading 1 vs 3 input channels."""
    return (
        old.dim() == 4
        and old.shape[0] == new.shape[0]
        and old.shape[2:] == new.shape[2:]
        and {old.shape[1], new.shape[1]} == {1, 3}
    )


def _convert_first_conv(old: torch.Tensor, channels: int) -> torch.Tensor:
    if channels == 3:
        return old * torch.tensor(LUMA, dtype=old.dtype).view(1, 3, 1, 1)
    return old.sum(dim=1, keepdim=True)  # grayscale reads as R = G = B


def _row_map(old: Charset, new: Charset) -> torch.Tensor:
    """(K, 2) pairs (old class, new class) for the blank and every shared character."""
    pairs = [(0, 0)] + [(old.chars.index(c) + 1, i + 1) for i, c in enumerate(new.chars) if c in old.chars]
    return torch.tensor(pairs, dtype=torch.long)
