"""Replay: train on each freshly drawn captcha more than once, when drawing sets the pace.

On a GPU, drawing captchas (about 470 a second per CPU core) is what limits a synthetic
run: the accelerator waits for the drawing processes most of each step. `--replay K` makes
each step train on its fresh batch plus K-1 times as many captchas drawn earlier in the
run, picked at random from a buffer kept on the training device. Each captcha is then seen
about K times in all, the early ones more often than the late ones, at no extra drawing.

The buffer holds the images as uint8, as drawn (8 KB each at 128x64 grayscale: a million
take 8 GB), grows as they come, and overwrites its oldest images once `capacity` is full. It
lives in memory only: a resumed run starts it empty.
"""

from __future__ import annotations

import torch

from .datasets import Batch


class ReplayBuffer:
    def __init__(self, factor: float, capacity: int, label_width: int, seed: int = 0):
        # factor >= 1 and capacity >= 1: TrainConfig refuses others as the options are read.
        self.factor, self.capacity, self.label_width = factor, capacity, label_width
        self.images: torch.Tensor | None = None  # uint8 (slots, C, H, W), grown up to capacity
        self.targets: torch.Tensor | None = None
        self.lengths: torch.Tensor | None = None
        self.labels: list[str] = []
        self.filled, self.next = 0, 0  # how many slots hold images; where the next one goes
        self.seed = seed
        self.generator: torch.Generator | None = None

    def mix(self, fresh: Batch) -> Batch:
        """`fresh` with (factor - 1) x as many earlier captchas appended, then `fresh` kept."""
        extra = min(round((self.factor - 1) * len(fresh.labels)), self.filled)
        if extra > 0:
            picked = torch.randint(self.filled, (extra,), device=self.images.device, generator=self._generator())
            fresh_targets = _pad(fresh.targets, self.label_width)
            mixed = Batch(
                torch.cat([fresh.images, self.images[picked].float().div_(255)]).contiguous(memory_format=torch.channels_last),
                torch.cat([fresh_targets, self.targets[picked]]),
                torch.cat([fresh.lengths, self.lengths[picked]]),
                fresh.labels + [self.labels[i] for i in picked.tolist()],
            )
        else:
            mixed = fresh
        self._store(fresh)
        return mixed

    def _store(self, batch: Batch) -> None:
        n = min(len(batch.labels), self.capacity)
        self._grow(batch, self.filled + n)
        slots = (torch.arange(n, device=self.images.device) + self.next) % self.capacity
        # Images arrive as float in [0, 1] made from uint8 (preprocess.normalize): rounding back is exact.
        self.images[slots] = (batch.images[:n] * 255).round_().to(torch.uint8)
        self.targets[slots] = _pad(batch.targets[:n], self.label_width)
        self.lengths[slots] = batch.lengths[:n]
        for slot, label in zip(slots.tolist(), batch.labels[:n]):
            if slot < len(self.labels):
                self.labels[slot] = label
            else:
                self.labels.append(label)
        self.next = (self.next + n) % self.capacity
        self.filled = min(self.filled + n, self.capacity)

    def _grow(self, batch: Batch, needed: int) -> None:
        """Room for `needed` images (at most capacity): doubled when short, so that a short run
        never holds the memory of a long one's buffer."""
        slots = 0 if self.images is None else len(self.images)
        if needed <= slots or slots == self.capacity:
            return
        size = min(self.capacity, max(needed, 2 * slots))
        device = batch.images.device
        images = torch.empty((size, *batch.images.shape[1:]), dtype=torch.uint8, device=device)
        targets = torch.zeros((size, self.label_width), dtype=batch.targets.dtype, device=device)
        lengths = torch.zeros(size, dtype=batch.lengths.dtype, device=device)
        if slots:  # the buffer has not wrapped yet (it wraps only at capacity): slots 0..filled-1 are in order
            images[:slots], targets[:slots], lengths[:slots] = self.images, self.targets, self.lengths
        self.images, self.targets, self.lengths = images, targets, lengths

    def _generator(self) -> torch.Generator:
        if self.generator is None:
            self.generator = torch.Generator(device=self.images.device).manual_seed(self.seed)
        return self.generator


def _pad(targets: torch.Tensor, width: int) -> torch.Tensor:
    """(B, L) class indices -> (B, width), padded with 0 (a batch's L is its longest label)."""
    if targets.shape[1] >= width:
        return targets[:, :width]
    return torch.nn.functional.pad(targets, (0, width - targets.shape[1]))
