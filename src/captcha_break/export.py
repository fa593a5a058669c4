"""Export a checkpoint to a self-contained ONNX model for the torch-free runtime.

The file carries its own description (model name, charset, input size, preprocessing,
decoding scheme, model card) in the ONNX metadata under the key "captcha_break", so
`Recognizer.load("model.onnx")` needs nothing else. The batch axis is dynamic, and so is
the width for CTC models, which read any width.
"""

from __future__ import annotations

import json
import logging
import random
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from .assets import ONNX_METADATA_KEY, ModelInfo, describe
from .checkpoint import load_checkpoint
from .config import INT8_MODES, WEIGHT_FORMATS, TrainConfig
from .labels import image_files
from .preprocess import ImageError, normalize, to_pixels
from .sources import synth_config
from .synth import SynthConfig, draw_arrays

OPSET = 17


def export_onnx(
    checkpoint_path: str | Path,
    out: str | Path,
    int8: str = "none",
    weights: str = "fp32",
    meta: dict | None = None,
    calibration: str | Path | None = None,
) -> Path:
    """Write `out` (ONNX) from a training checkpoint.

    int8: int8 arithmetic where ONNX Runtime can (the convolutions and matrix products).
    "dynamic" quantizes the activations on the fly; "static" fixes their ranges once from
    calibration images (`calibration`: a folder of images; default: the run's own --data
    folder or synthetic captchas), which on an AVX-512 VNNI CPU runs about twice as fast
    as fp32. weights: how the large float weights are stored: "fp32"; "fp16" (half the
    file); "int8" (a quarter, one scale per output channel). Stored weights are turned
    back into fp32 when the model loads, so the arithmetic stays fp32.
    """
    if weights not in WEIGHT_FORMATS:
        raise ValueError(f"weights must be one of {WEIGHT_FORMATS}, not {weights!r}")
    if int8 not in INT8_MODES:
        raise ValueError(f"int8 must be one of {INT8_MODES}, not {int8!r}")
    if calibration is not None and int8 != "static":
        raise ValueError("calibration images are for static int8 quantization (--int8 static) only")
    ckpt = load_checkpoint(checkpoint_path)
    model = ckpt.build("cpu")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    dynamic = {0: "batch", 3: "width"} if model.scheme.variable_width else {0: "batch"}
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "model.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter warns about GRU batch_first, harmlessly
            torch.onnx.export(
                model,
                torch.zeros(1, *ckpt.input.shape),
                str(plain),
                input_names=["images"],
                output_names=["logits"],
                dynamic_axes={"images": dynamic, "logits": {0: "batch", 1: "steps"}},
                opset_version=OPSET,
                dynamo=False,  # the TorchScript exporter: no onnxscript needed, dynamic width works
            )
        source = plain
        if int8 != "none":
            source = Path(tmp) / "int8.onnx"
            images = calibration_pixels(ckpt, calibration) if int8 == "static" else None
            _quantize(plain, source, images)
        info = ModelInfo(ckpt.model_name, ckpt.charset, ckpt.input, model.scheme, {**_card(ckpt.meta), **(meta or {})})
        parts = ((f"int8-{int8}", int8 != "none"), (f"{weights}-weights", weights != "fp32"))
        quantization = "+".join(q for q, on in parts if on)
        description = describe(info, quantization or "none")
        proto = onnx.load(str(source))
        if weights != "fp32":
            _store_weights(proto.graph, weights)
        entry = proto.metadata_props.add()
        entry.key, entry.value = ONNX_METADATA_KEY, json.dumps(description)
        onnx.save(proto, str(out))
    return out


def _quantize(src: Path, dst: Path, calibration: np.ndarray | None) -> None:
    """Dynamic quantization without `calibration` (uint8 images), static with it."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Batches(CalibrationDataReader):
        def __init__(self, images: np.ndarray):
            self.batches = iter(normalize(images[i : i + 64]) for i in range(0, len(images), 64))

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {"images": batch}

    # ONNX Runtime logs suggestions (pre-process the model first, ...) that a user of
    # `export --int8` can do nothing about: silenced for this call only.
    # reduce_range: 7-bit weights. x86 CPUs without VNNI (AVX2, AVX-512 before VNNI: many
    # laptops) multiply int8 pairs with an instruction that saturates on full-range weights:
    # there the bundled models read garbage (benchmarks/results/int8_portability.md).
    logging.disable(logging.WARNING)
    try:
        if calibration is None:
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, reduce_range=True)
            return
        prepared = dst.with_name("prepared.onnx")
        quant_pre_process(str(src), str(prepared))  # shapes inferred and ops fused: what static quantization expects
        # One scale per output channel: the channels of a small model differ too much to share one.
        quantize_static(
            str(prepared), str(dst), Batches(calibration), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=True,
        )  # fmt: skip
    finally:
        logging.disable(logging.NOTSET)


def calibration_pixels(ckpt, folder: str | Path | None = None, count: int = 512, seed: int = 0) -> np.ndarray:
    """Images whose activations set static quantization's ranges, as uint8 model input:
    `count` of the folder's images (any images; labels are not needed), else of the run's
    own --data folder, else synthetic captchas of the task it was trained on."""
    train_config = ckpt.meta.get("train_config") or {}
    folder = folder or train_config.get("data")
    if not folder:
        return draw_arrays(_task(ckpt, train_config), ckpt.input, seed=f"calibration-{seed}", count=count)[0]
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"no folder of calibration images at {folder}: give one with --calibration DIR")
    files = image_files(folder)
    random.Random(seed).shuffle(files)  # a sample of the whole folder, not the first names
    pixels = []
    for path in files:
        if len(pixels) == count:
            break
        try:
            pixels.append(to_pixels(path, ckpt.input))
        except ImageError:
            continue  # unreadable: the others calibrate
    if not pixels:
        raise ValueError(f"no readable image in {folder} to calibrate with")
    return np.stack(pixels)


def _task(ckpt, train_config: dict) -> SynthConfig:
    """The synthetic captchas a checkpoint was trained on (default: the library's own)."""
    config = TrainConfig.from_saved(train_config)
    # Font files of another machine are left out: the library's font calibrates as well.
    config.fonts = tuple(f for f in config.fonts if Path(f).is_file())
    return synth_config(config, ckpt.charset.chars, config.length)


def _store_weights(graph: onnx.GraphProto, fmt: str, min_elements: int = 1024) -> None:
    """Float initializers of >= min_elements -> a smaller initializer + nodes restoring fp32.

    fp16: Cast(to float). int8: Cast(to float) * scale, symmetric, one scale per output
    channel (convolutions) or per row (matrices). The restoring nodes take constants only,
    so ONNX Runtime folds them when the session starts: inference runs in fp32 as before.
    """
    nodes, extra = [], []
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or np.prod(init.dims) < min_elements:
            continue
        w = numpy_helper.to_array(init)
        if fmt == "fp16":
            stored = numpy_helper.from_array(w.astype(np.float16), init.name + "_fp16")
            nodes.append(onnx.helper.make_node("Cast", [stored.name], [init.name], to=onnx.TensorProto.FLOAT))
        else:
            axes = tuple(range(1, w.ndim)) if w.ndim == 4 else (w.ndim - 1,)
            scale = np.maximum(np.abs(w).max(axis=axes, keepdims=True), 1e-12) / 127
            stored = numpy_helper.from_array(np.round(w / scale).astype(np.int8), init.name + "_int8")
            extra.append(numpy_helper.from_array(scale.astype(np.float32), init.name + "_scale"))
            nodes.append(onnx.helper.make_node("Cast", [stored.name], [init.name + "_f"], to=onnx.TensorProto.FLOAT))
            nodes.append(onnx.helper.make_node("Mul", [init.name + "_f", init.name + "_scale"], [init.name]))
        init.CopyFrom(stored)
    graph.initializer.extend(extra)
    for node in reversed(nodes):
        graph.node.insert(0, node)


def _card(meta: dict) -> dict:
    """The parts of a checkpoint's meta worth carrying into a deployed model."""
    keep = ("accuracy", "char_accuracy", "epoch", "card", "label_lengths", "read_fits")
    return {k: meta[k] for k in keep if k in meta}
