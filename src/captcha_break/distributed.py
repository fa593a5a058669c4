"""Data-parallel training across processes: who this process is, and how the ranks agree.

Started by `torchrun`, a process finds RANK, WORLD_SIZE and LOCAL_RANK (and the rendezvous
address) in its environment; started any other way it is a world of one, and every helper
here is a no-op, so the trainer has a single code path. The backend is NCCL on GPUs and
gloo on CPUs. Every collective has a timeout: a rank that dies makes the others fail with
a clear error instead of waiting forever.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from .device import pick_device


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def main(self) -> bool:
        """Rank 0 alone writes checkpoints, logs, plots and progress bars."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


SINGLE = World()  # one process: what every run is without torchrun


def launched() -> tuple[int, int]:
    """(rank, world size) as torchrun set them for this process; (0, 1) without torchrun."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def processes_here() -> int:
    """Training processes on this machine (torchrun's LOCAL_WORLD_SIZE): they share its cores."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))


def join(device_name: str = "auto", timeout_s: float = 600) -> tuple[World, torch.device]:
    """The world this process belongs to (joining its process group) and its device."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    device = pick_device(device_name)
    if size == 1:
        return World(), device
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)  # one GPU per process on each node
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        # env:// rendezvous: torchrun (or the caller) sets MASTER_ADDR and MASTER_PORT.
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    return World(rank, size, local_rank, backend), device


def leave(world: World) -> None:
    if world.distributed and dist.is_initialized():
        # A DDP wrapper sits in reference cycles and holds the group: freed only at
        # interpreter exit, its gloo threads are torn down half-finalized (SIGABRT,
        # "terminate called without an active exception"). Free it while all is alive.
        gc.collect()
        dist.destroy_process_group()


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


@contextmanager
def main_first(world: World) -> Iterator[None]:
    """Rank 0 runs the block first (filling caches), then the others (reading them)."""
    if not world.main:
        barrier(world)
    yield
    if world.main:
        barrier(world)


def gather(world: World, obj: object) -> list[object]:
    """Every rank's `obj`, in rank order, on every rank."""
    if not world.distributed:
        return [obj]
    out: list[object] = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


def sum_over_ranks(world: World, *values: float) -> list[float]:
    if not world.distributed:
        return list(values)
    device = "cuda" if world.backend == "nccl" else "cpu"
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def wrap(model: torch.nn.Module, world: World, device: torch.device) -> torch.nn.Module:
    """The module the training step calls: DDP when distributed, else the model itself."""
    if not world.distributed:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def sync_buffers(model: torch.nn.Module, world: World) -> None:
    """Every rank's buffers (BatchNorm statistics) as rank 0 has them."""
    if world.distributed:
        for buffer in model.buffers():
            dist.broadcast(buffer, 0)
