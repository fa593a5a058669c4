"""Where torch work runs, and in what precision: chosen at run time, passed explicitly."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

from .config import AUTO, PRECISIONS

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
    """'auto' -> 'bf16' on CUDA with bf16 support or a CPU with native bf16 (where it is
    faster: docs/notebook.md, "CPU levers"), else 'fp32'."""
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


def usable_cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def share_cores(workers: int, threads: int, device: torch.device, draws: bool, processes: int = 1) -> tuple[int, int]:
    """(loader workers, torch threads) for a training process; values a user gave are kept.

    `draws`: the loader draws captchas as it goes, which costs about 2 ms an image on a core.
    On a CPU the cores are split between drawing and training, half each; on a GPU drawing
    is what limits, so all cores but one draw (measured: docs/notebook.md, "CPU levers").
    Data that is only read (a folder, a set drawn up front) needs little loading: 2 workers
    to decode or draw it up front (the training loader then reads the arrays without
    workers: datasets.loader_workers), and every core trains.
    `processes`: training processes on this machine (torchrun), sharing its cores.
    """
    cores = max(1, usable_cores() // max(1, processes))
    on_gpu = device.type == "cuda"
    if workers == AUTO:
        if not draws:
            workers = 2
        else:
            workers = max(1, cores - 1) if on_gpu else max(1, cores // 2)
    if threads == AUTO:
        if on_gpu:
            threads = 2  # the host side of the step: launching kernels, the loss, the optimizer's bookkeeping
        else:
            threads = max(1, cores - workers) if draws else 0  # 0: torch's default, every core
    return workers, threads
