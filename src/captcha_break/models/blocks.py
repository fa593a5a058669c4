"""The convolutional feature extractor shared by both model families."""

from __future__ import annotations

from dataclasses import dataclass

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
