"""The ways to run a model file: a float32 batch (B, C, H, W) -> logits (B, T, classes).

ONNX Runtime runs exported `.onnx` files (no torch needed: what predicting and serving use);
torch runs training checkpoints (`.pt`), imported only then. Each also reads what the file
says about the model (`ModelInfo`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .assets import ONNX_METADATA_KEY, ModelInfo, info_from_description


class Backend(Protocol):
    def __call__(self, images: np.ndarray) -> np.ndarray: ...


PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "dml": "DmlExecutionProvider",
}


def onnx_providers(names: Sequence[str]) -> list[str]:
    """Short or full provider names -> ONNX Runtime's, checked against this install."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    chosen = [PROVIDERS.get(name.lower(), name) for name in names]
    missing = [name for name in chosen if name not in available]
    if missing:
        raise ValueError(
            f"ONNX Runtime here has no {', '.join(missing)}; it has {', '.join(available)} "
            "(GPU providers come with the onnxruntime-gpu package, OpenVINO with onnxruntime-openvino)"
        )
    return [*dict.fromkeys([*chosen, "CPUExecutionProvider"])]


def onnx_backend(path: Path, threads: int | None, providers: Sequence[str] = ("cpu",)) -> tuple[Backend, ModelInfo]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    chosen = onnx_providers(providers)
    try:
        session = ort.InferenceSession(str(path), options, providers=chosen)
    except Exception as err:  # onnxruntime raises its own exception types
        raise ValueError(f"cannot load ONNX model {path}: {err}") from err
    raw = session.get_modelmeta().custom_metadata_map.get(ONNX_METADATA_KEY)
    if raw is None:
        raise ValueError(f"{path} is an ONNX model but not one exported by captcha_break (no metadata)")
    info = info_from_description(json.loads(raw))
    input_name = session.get_inputs()[0].name

    def run(images: np.ndarray) -> np.ndarray:
        return session.run(None, {input_name: images})[0]

    return run, info


def torch_backend(path: Path, threads: int | None, device_name: str) -> tuple[Backend, ModelInfo]:
    import torch  # only for checkpoints: exported models run without it

    from .checkpoint import load_checkpoint
    from .device import pick_device

    if threads:
        torch.set_num_threads(threads)
    checkpoint = load_checkpoint(path)
    device = pick_device(device_name)
    model = checkpoint.build(device)

    @torch.inference_mode()
    def run(images: np.ndarray) -> np.ndarray:
        return model(torch.from_numpy(images).to(device)).float().cpu().numpy()

    info = ModelInfo(checkpoint.model_name, checkpoint.charset, checkpoint.input, model.scheme, checkpoint.meta)
    return run, info
