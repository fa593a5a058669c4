"""Setting a run up: the model's config, its input spec and the data, consistent with
each other, and the checks that refuse a run before it wastes any time."""

from __future__ import annotations

import dataclasses

from ..charset import DEFAULT_CHARS, Charset
from ..checkpoint import Checkpoint
from ..config import TrainConfig
from ..finetune import choose_charset, finetune_config, pretrained
from ..fonts import SYSTEM, check_font
from ..labels import scan_folder
from ..models import ModelConfig, default_config, with_channels
from ..preprocess import InputSpec
from ..sources import DataBundle, training_data


def prepare(config: TrainConfig, saved: Checkpoint | None, log) -> tuple[ModelConfig, InputSpec, DataBundle]:
    """Model config, its input spec and the data, consistent with each other."""
    if saved is not None:
        return saved.config, saved.input, training_data(config, saved.input, saved.charset, log)
    if config.init:
        return _prepare_finetune(config, log)
    # The input size does not depend on the charset, so it is known before the data.
    spec = dataclasses.replace(_input_spec(_model_config(config, 2, 1)), fit=config.fit)
    given = Charset(config.chars) if config.chars else None
    data = training_data(config, spec, given if config.data else given or Charset(DEFAULT_CHARS), log)
    return _model_config(config, data.charset.num_classes, data.max_len), spec, data


def _prepare_finetune(config: TrainConfig, log) -> tuple[ModelConfig, InputSpec, DataBundle]:
    source = pretrained(config.init)
    config.model = source.model_name
    spec = dataclasses.replace(
        source.input,
        width=config.input_width or source.input.width,
        channels=config.channels or source.input.channels,
        fit=config.fit,
    )
    given = Charset(config.chars) if config.chars else None
    data = training_data(config, spec, given or (None if config.data else source.charset), log)
    data.charset = choose_charset(source.charset, data.charset, given)
    model_config = finetune_config(source, data.charset, config.input_width, config.channels)
    log(f"fine-tuning {config.init} ({source.model_name}); charset {data.charset.chars!r}")
    return model_config, spec, data


def _model_config(config: TrainConfig, num_classes: int, max_len: int) -> ModelConfig:
    model_config = default_config(config.model, num_classes, max_len, **_input_overrides(config))
    return with_channels(model_config, config.channels) if config.channels else model_config


def _input_overrides(config: TrainConfig) -> dict[str, int]:
    return {k: v for k, v in (("height", config.input_height), ("width", config.input_width)) if v}


def _input_spec(model_config: ModelConfig) -> InputSpec:
    return InputSpec(model_config.height, model_config.width, model_config.convs.in_channels)


def check_label_fit(model, data: DataBundle) -> None:
    """Refuse labels the model cannot emit, before training: CTC would learn nothing from
    them at zero loss (zero_infinity hides it), a multi-head model has no head for them."""
    scheme, slots = model.scheme, model.config.slots()
    unit = scheme.unit
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
        hint = scheme.fit_hint(model.config.width, slots)
        raise ValueError(
            f"{len(too_long)} labels need more {unit} than the model's {slots} at input width {model.config.width} "
            f"({hint}): " + ", ".join(too_long[:5])
        )


def check_fonts(config: TrainConfig) -> None:
    """Fonts that cannot be used fail before any data is read, not after the whole set."""
    chars = config.chars or (None if config.data else DEFAULT_CHARS)
    if chars is None and config.fonts:
        labels = [label for _, label in scan_folder(config.data, config.label_rule, config.fold_case).items]
        chars = Charset.from_labels(labels).chars
    for font in config.fonts:
        if font != SYSTEM:  # not a file: the machine's fonts, those that can draw the charset (fonts.py)
            check_font(font, chars)


def apply_dry_run(config: TrainConfig) -> None:
    if config.dry_run:
        config.epoch_size = min(config.epoch_size, 2 * config.batch_size)
        config.val_size = min(config.val_size, config.batch_size)
        config.epochs = 1
        config.pregenerate = min(config.pregenerate, 2 * config.batch_size)
