"""Where torch work runs, and in what precision: chosen at run time, passed explicitly."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

from .config import PRECISIONS

# torch is imported inside the functions: importing this module costs nothing for the
# parts of the program that read captchas (ONNX Runtime) and never need torch.


def pick_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; any other name ('cpu', 'cuda:1') as given."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but CUDA is not available here")
    return device


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 BF16 or AMX), on Linux.

    Without it, bf16 autocast on a CPU is emulated and slower than fp32.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def pick_precision(name: str, device: torch.device) -> str:
    """'auto' -> 'bf16' on CUDA with bf16 support or a CPU with native bf16, else 'fp32'.

    Measured on 2 Zen 4 cores: the CRNNs train 1.9-2.2x faster under bf16 autocast.
    """
    import torch

    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {name!r}")
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu_has_bf16() else "fp32"


def autocast(precision: str, device: torch.device):
    """The forward pass's context: bf16 autocast, or nothing for fp32.

    Losses are computed outside it, in fp32 (losses.py casts the logits).
    """
    import torch

    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
