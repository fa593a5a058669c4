"""Torch datasets: an endless synthetic stream drawn by DataLoader workers, or arrays.

`SyntheticDataset` is map-style: item i of epoch e is captcha (seed, e * size + i), so
every epoch is fresh data, any worker can draw any item, and a resumed run sees the same
stream it would have seen without the interruption.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from .charset import Charset
from .folders import Samples
from .preprocess import InputSpec, normalize, to_pixels
from .synth import SynthConfig, draw


class SyntheticDataset(Dataset):
    def __init__(self, config: SynthConfig, spec: InputSpec, seed: int | str, size: int):
        self.config, self.spec, self.seed, self.size = config, spec, seed, size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        # Workers are re-created each epoch (persistent_workers=False), so they see this.
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> tuple[np.ndarray, str]:
        image, label = draw(self.config, self.seed, self.epoch * self.size + i)
        return to_pixels(image, self.spec), label


class ArrayDataset(Dataset):
    def __init__(self, samples: Samples):
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[np.ndarray, str]:
        return np.asarray(self.samples.pixels[i]), self.samples.labels[i]


@dataclass
class Batch:
    images: torch.Tensor  # float (B, C, H, W) in [0, 1]
    targets: torch.Tensor  # long (B, L), 0-padded class indices
    lengths: torch.Tensor  # long (B,)
    labels: list[str]

    def to(self, device: torch.device) -> Batch:
        images = self.images.to(device, non_blocking=True, memory_format=torch.channels_last)
        return Batch(images, self.targets.to(device), self.lengths.to(device), self.labels)


class Collate:
    """(pixels, label) pairs -> Batch. A class, not a closure, so workers can pickle it."""

    def __init__(self, charset: Charset):
        self.charset = charset

    def __call__(self, items: list[tuple[np.ndarray, str]]) -> Batch:
        pixels = np.stack([p for p, _ in items])
        labels = [label for _, label in items]
        targets, lengths = self.charset.encode(labels)
        return Batch(torch.from_numpy(normalize(pixels)), torch.from_numpy(targets), torch.from_numpy(lengths), labels)
