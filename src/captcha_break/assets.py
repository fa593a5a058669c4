"""The bundled models, and what a model file says about itself: resolved and read here only.

A bundled model is a name (`general`, the default; `captcha4` and `cnn_fast`, for the
`captcha` library's 4-character captchas) with files in assets/: NAME.onnx for reading
captchas, NAME.pt for fine-tuning and export. Its card's figures travel as data in the files'
meta; the card's narrative (NAME.md) and training log stay in the repository, out of the
wheel. Anything that is not a bundled name is a path. An exported ONNX file carries its
description (model, charset, input, decoding scheme, preprocessing, card) as JSON under one
metadata key; this module writes that description and reads it back.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from .charset import Charset
from .preprocess import InputSpec
from .schemes import Scheme, get_scheme

WEB = Path(__file__).parent / "web"  # the pages of the service and the labeling tool
ASSETS = Path(__file__).parent / "assets"
ONNX_METADATA_KEY = "captcha_break"
# The model every command reads, labels and fine-tunes with when none is named: the broad one.
DEFAULT_MODEL = "general"
# Bundled names that changed: asking for one says what it is called now.
RENAMED = {"default": "captcha4"}
KINDS = {"onnx": ".onnx", "pt": ".pt"}
# What preprocess.preprocess does, for readers of the file who do not use this package.
PREPROCESSING = (
    "first frame; transparency composited onto white; RGB (or L for 1 channel); "
    "bilinear resize to width x height; CHW float32 = uint8 / 255"
)


def bundled_names() -> list[str]:
    return sorted(p.stem for p in ASSETS.glob("*.onnx"))


def resolve(source: str | os.PathLike, kind: str) -> Path:
    """A bundled model's file of `kind` ("onnx" to read, "pt" to fine-tune or export), or
    the path given. A path of either kind is taken as it is."""
    suffix = KINDS[kind]
    name = str(source)
    is_name = name and "/" not in name and os.sep not in name and name not in (".", "..")  # a path is never a bundled name
    path = Path(source)
    try:
        if is_name and (ASSETS / f"{name}{suffix}").is_file():
            return ASSETS / f"{name}{suffix}"
        if path.is_file():
            return path
    except OSError as err:  # a name too long for the file system, and the like
        raise FileNotFoundError(f"no model at {name[:80]}{'...' if len(name) > 80 else ''}: {err.strerror}") from None
    if name in RENAMED and not path.suffix:
        raise FileNotFoundError(
            f"no model {name!r}: the bundled model of that name is now called {RENAMED[name]!r} (the captcha "
            f"library's 4-character captchas); the default model, used when none is named, is {DEFAULT_MODEL!r}"
        )
    if not path.suffix:
        names = ", ".join(bundled_names()) or "none installed"
        raise FileNotFoundError(f"no model {name!r}: not a file, and not a bundled model ({names})")
    raise FileNotFoundError(f"no model at {path}")


@dataclasses.dataclass
class ModelInfo:
    """What a model file says about itself."""

    name: str
    charset: Charset
    input: InputSpec
    scheme: Scheme
    meta: dict = dataclasses.field(default_factory=dict)
    path: str = ""

    @property
    def label_lengths(self) -> tuple[int, int] | None:
        """(shortest, longest) label the model was trained on, where its file says."""
        if "label_lengths" in self.meta:
            low, high = self.meta["label_lengths"]
            return int(low), int(high)
        synth = self.meta.get("card", {}).get("synth") or {}  # bundled before the key existed
        return (synth["min_len"], synth["max_len"]) if "min_len" in synth else None

    @property
    def read_fits(self) -> tuple[str, ...]:
        """The fits an image is read in, the surest reading kept: the file's "read_fits" (chosen
        when the model was bundled, by measurement), else the fit it trained with."""
        return tuple(self.meta.get("read_fits") or (self.input.fit,))

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "path": self.path,
            "charset": self.charset.chars,
            "input": {"height": self.input.height, "width": self.input.width, "channels": self.input.channels},
            "scheme": self.scheme.name,
            "label_lengths": self.label_lengths,
            "meta": self.meta,
        }


def model_line(source: str | os.PathLike, info: ModelInfo) -> str:
    """'general (crnn_lite: 1-10 characters of a 62-character set)': the model a command
    uses, named as it was asked for (a bundled name, or a file's name)."""
    lengths = info.label_lengths
    span = "" if lengths is None else f"{lengths[0]}" if lengths[0] == lengths[1] else f"{lengths[0]}-{lengths[1]}"
    span = f"{span} characters" if span else "texts"
    return f"{Path(str(source)).name} ({info.name}: {span} of a {len(info.charset)}-character set)"


def describe(info: ModelInfo, quantization: str = "none") -> dict[str, Any]:
    """The description an exported file carries (written by export.py)."""
    return {
        "model_name": info.name,
        "charset": info.charset.chars,
        "input": dataclasses.asdict(info.input),
        "scheme": info.scheme.name,
        "preprocessing": PREPROCESSING,
        "quantization": quantization,
        "meta": info.meta,
    }


def info_from_description(data: dict[str, Any]) -> ModelInfo:
    """The inverse of describe (read by recognizer.py)."""
    return ModelInfo(
        data["model_name"], Charset(data["charset"]), InputSpec(**data["input"]), get_scheme(data["scheme"]), data.get("meta", {})
    )
