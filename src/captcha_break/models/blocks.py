"""The convolutional feature extractor shared by both model families."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ConvStackConfig:
    """Blocks of `convs` x (3x3 conv, BatchNorm, ReLU), each followed by a max-pool.

    pools[i] is the (height, width) pooling after block i; (2, 1) halves only the height,
    which keeps the width as a long time axis for CTC. stem_stride > 1 makes the very first
    convolution strided: the cheapest way to cut the cost of the full-resolution layers.
    """

    in_channels: int = 3
    channels: tuple[int, ...] = (32, 64, 128, 256, 256)
    pools: tuple[tuple[int, int], ...] = ((2, 2),) * 5
    convs: int | tuple[int, ...] = 2  # per block, or the same for all
    stem_stride: int = 1

    def __post_init__(self) -> None:
        if len(self.channels) != len(self.pools):
            raise ValueError("need one pool per block of channels")
        if isinstance(self.convs, tuple) and len(self.convs) != len(self.channels):
            raise ValueError("need one conv count per block")

    def block_convs(self) -> tuple[int, ...]:
        return self.convs if isinstance(self.convs, tuple) else (self.convs,) * len(self.channels)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """(H, W) of the feature map for an input of (height, width)."""
        height, width = -(-height // self.stem_stride), -(-width // self.stem_stride)
        for ph, pw in self.pools:
            height, width = height // ph, width // pw
        if height < 1 or width < 1:
            raise ValueError("input too small for this many pooling steps")
        return height, width


# Fast on a CPU (see benchmarks/): grayscale, a strided first convolution and a single
# conv in the first block, where the tutorial's full-resolution layers cost the most.
# Shared by the CPU-fast CRNNs and the fast multi-head CNN.
FAST_CONVS = ConvStackConfig(
    in_channels=1, channels=(32, 64, 128, 160), pools=((2, 2), (2, 2), (2, 1), (2, 1)), convs=(1, 2, 2, 2), stem_stride=2
)


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    # No conv bias: BatchNorm's shift makes it redundant.
    return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class ConvStack(nn.Sequential):
    """(B, in_channels, H, W) -> (B, channels[-1], H', W'), see ConvStackConfig.output_size."""

    def __init__(self, config: ConvStackConfig):
        layers: list[nn.Module] = []
        cin = config.in_channels
        for block, (cout, pool, convs) in enumerate(zip(config.channels, config.pools, config.block_convs())):
            for conv in range(convs):
                stride = config.stem_stride if block == 0 and conv == 0 else 1
                layers += conv_bn_relu(cin, cout, stride)
                cin = cout
            layers.append(nn.MaxPool2d(pool, pool))
        super().__init__(*layers)


class ClassFold(nn.Module):
    """Logits over the classifier's classes -> logits over fewer output classes, each the
    log of the summed probabilities of the classes that fold into it (`fold[i]` is the
    output class of class i): a softmax of the result is exactly the folded softmax.

    A model fine-tuned for a site that ignores case keeps reading 'a' and 'A' as it
    learnt to, and answers 'A' for either: the pretrained knowledge of both glyphs is kept.
    """

    def __init__(self, fold: tuple[int, ...]):
        super().__init__()
        merge = torch.zeros(len(fold), max(fold) + 1)
        merge[torch.arange(len(fold)), torch.tensor(fold)] = 1.0
        self.register_buffer("merge", merge, persistent=False)

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        # fp32 even under bf16 autocast: the sums are of probabilities down to 1e-30.
        with torch.autocast(logits.device.type, enabled=False):
            logits = logits.float()
            top = logits.amax(dim=-1, keepdim=True)  # exp() of at most 0: no overflow
            summed = torch.exp(logits - top) @ self.merge
            return torch.log(summed.clamp_min(1e-30)) + top


def class_fold(fold: tuple[int, ...], num_classes: int) -> nn.Module:
    """What follows a model's output layer: nothing, or the fold of its classes into
    `num_classes` (the output layer then has len(fold) classes)."""
    if not fold:
        return nn.Identity()
    if max(fold) + 1 != num_classes or min(fold) != 0:
        raise ValueError(f"a fold maps classes onto 0..{num_classes - 1}, not onto {min(fold)}..{max(fold)}")
    return ClassFold(fold)
