"""The models: a registry of names (registry.py), and one module per model family, each
registering its own models. Importing this package imports every module in it."""

from __future__ import annotations

import importlib
import pkgutil

from .blocks import FAST_CONVS, ConvStackConfig
from .registry import (
    MODELS,
    ModelConfig,
    build_model,
    config_from_dict,
    config_to_dict,
    default_config,
    model_names,
    register,
    scheme_of,
    with_channels,
)

# Every model module registers its models when imported: a new module needs no line here.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

from .cnn import CNNConfig, MultiHeadCNN  # noqa: E402
from .crnn import CRNN, TUTORIAL_POOLS, CRNNConfig  # noqa: E402

__all__ = [
    "CNNConfig",
    "CRNN",
    "CRNNConfig",
    "ConvStackConfig",
    "FAST_CONVS",
    "MODELS",
    "ModelConfig",
    "MultiHeadCNN",
    "TUTORIAL_POOLS",
    "build_model",
    "config_from_dict",
    "config_to_dict",
    "default_config",
    "model_names",
    "register",
    "scheme_of",
    "with_channels",
]
