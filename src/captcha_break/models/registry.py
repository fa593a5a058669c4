"""The model registry: names -> (module class, config factory, about).

Each model module registers its models with `@register` (see cnn.py, crnn.py); the
package imports every module in models/, so adding a model touches one file. The CLI and
checkpoints name models; `build_model(name, config)` builds one, and `config_to_dict` /
`config_from_dict` make configs travel inside checkpoints. Every model maps (B, C, H, W)
float pixels in [0, 1] to logits (B, T, num_classes) and says how to decode them with its
`scheme` (a schemes.Scheme: CTC or per-position heads).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from torch import nn

from ..schemes import Scheme
from .blocks import ConvStackConfig


class ModelConfig(Protocol):
    """What every model's config has: the classes, the input size, the convolutions."""

    num_classes: int
    height: int
    width: int
    convs: ConvStackConfig

    def slots(self) -> int:
        """How many output steps the model has (CTC frames, or character heads)."""


@dataclass(frozen=True)
class ModelEntry:
    cls: type[nn.Module]
    config_cls: type
    make_config: Callable[[int, int], Any]  # (num_classes, max_len) -> config
    about: str


MODELS: dict[str, ModelEntry] = {}


def register(name: str, cls: type[nn.Module], config_cls: type, about: str):
    """Decorator: register `fn(num_classes, max_len) -> config` under `name`."""

    def wrap(make_config: Callable[[int, int], Any]):
        MODELS[name] = ModelEntry(cls, config_cls, make_config, about)
        return make_config

    return wrap


def scheme_of(name: str) -> Scheme:
    """The decoding scheme of the model registered as `name`."""
    return _entry(name).cls.scheme


def model_names() -> list[str]:
    return sorted(MODELS)


def _entry(name: str) -> ModelEntry:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(model_names())}")
    return MODELS[name]


def default_config(name: str, num_classes: int, max_len: int, **overrides: Any) -> ModelConfig:
    """The registered config of `name`, with top-level fields replaced by `overrides`."""
    config = _entry(name).make_config(num_classes, max_len)
    return dataclasses.replace(config, **overrides) if overrides else config


def with_channels(config: ModelConfig, channels: int) -> ModelConfig:
    """`config` reading `channels` input channels (1: grayscale, 3: RGB)."""
    if channels not in (1, 3):
        raise ValueError(f"input channels must be 1 (grayscale) or 3 (RGB), not {channels}")
    return dataclasses.replace(config, convs=dataclasses.replace(config.convs, in_channels=channels))


def build_model(name: str, config: ModelConfig) -> nn.Module:
    return _entry(name).cls(config)


def config_to_dict(config: ModelConfig) -> dict:
    return dataclasses.asdict(config)


def config_from_dict(name: str, data: dict) -> ModelConfig:
    """Inverse of config_to_dict for the config class registered under `name`."""
    return _from_dict(_entry(name).config_cls, data)


def _from_dict(cls: type, data: dict) -> Any:
    template = cls()  # every config has full defaults; they tell nested types apart
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{cls.__name__} has no fields {sorted(unknown)}")
    values = {}
    for key, value in data.items():
        default = getattr(template, key)
        if dataclasses.is_dataclass(default):
            value = _from_dict(type(default), value)
        elif isinstance(default, tuple):
            value = _as_tuple(value)
        values[key] = value
    return cls(**values)


def _as_tuple(value: Any) -> Any:
    return tuple(_as_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value
