"""Export a checkpoint to a self-contained ONNX model for the torch-free runtime.

The file carries its own description (model name, charset, input size, preprocessing,
decoding scheme, model card) in the ONNX metadata under the key "captcha_break", so
`Recognizer.load("model.onnx")` needs nothing else. The batch axis is dynamic, and so is
the width for CTC models, which read any width.
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from .assets import ONNX_METADATA_KEY, ModelInfo, describe
from .checkpoint import load_checkpoint
from .config import WEIGHT_FORMATS
from .schemes import get_scheme

OPSET = 17


def export_onnx(
    checkpoint_path: str | Path, out: str | Path, int8: bool = False, weights: str = "fp32", meta: dict | None = None
) -> Path:
    """Write `out` (ONNX) from a training checkpoint.

    int8: dynamic quantization (int8 arithmetic where ONNX Runtime can: the convolutions and
    matrix products). weights: how the large float weights are stored: "fp32"; "fp16"
    (half the file); "int8" (a quarter, one scale per output channel). Stored weights are
    turned back into fp32 when the model loads, so the arithmetic stays fp32.
    """
    if weights not in WEIGHT_FORMATS:
        raise ValueError(f"weights must be one of {WEIGHT_FORMATS}, not {weights!r}")
    ckpt = load_checkpoint(checkpoint_path)
    model = ckpt.build("cpu")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    dynamic = {0: "batch", 3: "width"} if get_scheme(model.scheme).variable_width else {0: "batch"}
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
        if int8:
            source = Path(tmp) / "int8.onnx"
            _quantize(plain, source)
        info = ModelInfo(ckpt.model_name, ckpt.charset, ckpt.input, model.scheme, {**_card(ckpt.meta), **(meta or {})})
        quantization = "+".join(q for q, on in (("int8-dynamic", int8), (f"{weights}-weights", weights != "fp32")) if on)
        description = describe(info, quantization or "none")
        proto = onnx.load(str(source))
        if weights != "fp32":
            _store_weights(proto.graph, weights)
        entry = proto.metadata_props.add()
        entry.key, entry.value = ONNX_METADATA_KEY, json.dumps(description)
        onnx.save(proto, str(out))
    return out


def _quantize(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Dynamic: int8 weights, activations quantized on the fly; no calibration data needed.
    # ONNX Runtime logs a suggestion to pre-process the model first, which a user of
    # `export --int8` can do nothing about: silenced for this call only.
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
    finally:
        logging.disable(logging.NOTSET)


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
    keep = ("accuracy", "char_accuracy", "epoch", "card")
    return {k: meta[k] for k in keep if k in meta}
