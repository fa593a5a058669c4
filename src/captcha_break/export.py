"""Export a checkpoint to a self-contained ONNX model for the torch-free runtime.

The file carries its own description (model name, charset, input size, preprocessing,
decoding scheme, model card) in the ONNX metadata under the key "captcha_break", so
`Recognizer.load("model.onnx")` needs nothing else. The batch axis is dynamic, and so is
the width for CTC models, which read any width.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from .checkpoint import load_checkpoint
from .recognizer import ONNX_METADATA_KEY

OPSET = 17
# What preprocess.preprocess does, for readers of the file who do not use this package.
PREPROCESSING = (
    "first frame; transparency composited onto white; RGB (or L for 1 channel); "
    "bilinear resize to width x height; CHW float32 = uint8 / 255"
)


def export_onnx(
    checkpoint_path: str | Path, out: str | Path, int8: bool = False, fp16_weights: bool = False, meta: dict | None = None
) -> Path:
    """Write `out` (ONNX) from a training checkpoint.

    int8: dynamic quantization (int8 weights; what ONNX Runtime can quantize, the convolutions
    and matrix products). fp16_weights: the remaining large float weights stored as fp16 and
    cast back to fp32 when the model loads: half the file, the same arithmetic.
    """
    ckpt = load_checkpoint(checkpoint_path)
    model = ckpt.build("cpu")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    dynamic = {0: "batch", 3: "width"} if model.scheme == "ctc" else {0: "batch"}
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
        description = {
            "model_name": ckpt.model_name,
            "charset": ckpt.charset.chars,
            "input": {"height": ckpt.input.height, "width": ckpt.input.width, "channels": ckpt.input.channels},
            "scheme": model.scheme,
            "preprocessing": PREPROCESSING,
            "quantization": "+".join(q for q, on in (("int8-dynamic", int8), ("fp16-weights", fp16_weights)) if on) or "none",
            "meta": {**_card(ckpt.meta), **(meta or {})},
        }
        proto = onnx.load(str(source))
        if fp16_weights:
            _store_weights_fp16(proto.graph)
        entry = proto.metadata_props.add()
        entry.key, entry.value = ONNX_METADATA_KEY, json.dumps(description)
        onnx.save(proto, str(out))
    return out


def _quantize(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Dynamic: int8 weights, activations quantized on the fly; no calibration data needed.
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)


def _store_weights_fp16(graph: onnx.GraphProto, min_elements: int = 1024) -> None:
    """Float initializers of >= min_elements -> fp16 initializer + Cast(to float) node.

    ONNX Runtime folds the Casts when the session starts, so inference still runs in fp32.
    """
    casts = []
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or np.prod(init.dims) < min_elements:
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name + "_fp16")
        casts.append(onnx.helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT))
        init.CopyFrom(half)
    for node in reversed(casts):
        graph.node.insert(0, node)


def _card(meta: dict) -> dict:
    """The parts of a checkpoint's meta worth carrying into a deployed model."""
    keep = ("accuracy", "char_accuracy", "epoch", "card")
    return {k: meta[k] for k in keep if k in meta}
