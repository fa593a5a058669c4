"""Torch datasets: an endless synthetic stream drawn by DataLoader workers, or arrays.

`SyntheticDataset` is map-style: item i of epoch e is captcha (seed, e * size + i), so
every epoch is fresh data, any worker can draw any item, and a resumed run sees the same
stream it would have seen without the interruption.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

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


def parts(dataset: Dataset) -> list[Dataset]:
    """The datasets a training set is made of: its parts if concatenated (labels, pseudo-labels,
    synthetic captchas mixed in), else itself."""
    return list(getattr(dataset, "datasets", [dataset]))


def draws(dataset: Dataset) -> bool:
    """Whether loading `dataset` draws captchas (a SyntheticDataset, alone or mixed into
    others), rather than reading arrays already in memory."""
    return any(isinstance(part, SyntheticDataset) for part in parts(dataset))


def loader_workers(dataset: Dataset, workers: int) -> int:
    """The worker processes a training loader of `dataset` gets: `workers` where it draws,
    none where it reads arrays in memory. There a worker only indexes the array and pickles
    the batch back, and is started again every epoch, which costs more than it saves
    (docs/notebook.md, "CPU levers")."""
    return workers if draws(dataset) else 0


class GlobalBatchSampler(Sampler[list[int]]):
    """This process's share of each global batch.

    Every process draws the same permutation (same seed), cuts it into global batches of
    `batch_size`, and takes part `part` of `parts` of each. So processes see disjoint data,
    take the same number of steps, and process r's share of step k is exactly
    micro-batch r of step k in a one-process run of the same global batch split into
    `parts` (`--accumulate`): the two runs compute the same gradients.
    """

    def __init__(self, size: int, batch_size: int, part: int = 0, parts: int = 1, shuffle: bool = True, seed: int = 0):
        if batch_size % parts:
            raise ValueError(f"the global batch ({batch_size}) must divide evenly among {parts} processes")
        if size < parts:
            raise ValueError(f"{size} samples cannot be shared among {parts} processes")
        self.size, self.batch_size, self.part, self.parts = size, batch_size, part, parts
        self.shuffle, self.seed = shuffle, seed

    def __len__(self) -> int:
        return max(1, self.size // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        if self.shuffle:
            order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed)).tolist()
        else:
            order = list(range(self.size))
        batch = min(self.batch_size, self.size)  # a set smaller than one batch: one batch of all
        for start in range(0, len(self) * batch, batch):
            share = np.array_split(order[start : start + batch], self.parts)[self.part]
            yield share.tolist()


@dataclass
class Batch:
    images: torch.Tensor  # float (B, C, H, W) in [0, 1]
    targets: torch.Tensor  # long (B, L), 0-padded class indices
    lengths: torch.Tensor  # long (B,)
    labels: list[str]

    def to(self, device: torch.device) -> Batch:
        images = self.images.to(device, non_blocking=True, memory_format=torch.channels_last)
        return Batch(images, self.targets.to(device), self.lengths.to(device), self.labels)

    def split(self, parts: int) -> list[Batch]:
        """Contiguous micro-batches, sized as np.array_split sizes them."""
        if parts == 1:
            return [self]
        chunks = zip(*(torch.tensor_split(t, parts) for t in (self.images, self.targets, self.lengths)))
        cuts = np.cumsum([0, *(len(c) for c in torch.tensor_split(self.lengths, parts))])
        return [Batch(i, t, n, self.labels[a:b]) for (i, t, n), a, b in zip(chunks, cuts[:-1], cuts[1:]) if len(n)]


class Collate:
    """(pixels, label) pairs -> Batch. A class, not a closure, so workers can pickle it."""

    def __init__(self, charset: Charset):
        self.charset = charset

    def __call__(self, items: list[tuple[np.ndarray, str]]) -> Batch:
        pixels = np.stack([p for p, _ in items])
        labels = [label for _, label in items]
        targets, lengths = self.charset.encode(labels)
        return Batch(torch.from_numpy(normalize(pixels)), torch.from_numpy(targets), torch.from_numpy(lengths), labels)
