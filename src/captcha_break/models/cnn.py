"""Multi-head classifier: one softmax head per character position (the tutorial's CNN)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import nn

from ..schemes import POSITIONS_SCHEME
from .blocks import FAST_CONVS, ConvStack, ConvStackConfig
from .registry import register


@dataclass(frozen=True)
class CNNConfig:
    num_classes: int = 37  # characters + the "no character" class 0
    positions: int = 4  # heads: the longest label the model can read
    height: int = 64
    width: int = 128
    convs: ConvStackConfig = field(default_factory=ConvStackConfig)
    dropout: float = 0.0

    def slots(self) -> int:
        """Output steps: one head a character."""
        return self.positions


class MultiHeadCNN(nn.Module):
    """(B, C, H, W) -> logits (B, positions, num_classes)."""

    scheme = POSITIONS_SCHEME

    def __init__(self, config: CNNConfig):
        super().__init__()
        self.config = config
        self.features = ConvStack(config.convs)
        fh, fw = config.convs.output_size(config.height, config.width)
        flat = config.convs.channels[-1] * fh * fw
        self.dropout = nn.Dropout(config.dropout)
        # All heads in one Linear: the same maths as `positions` Dense layers, one matmul.
        self.heads = nn.Linear(flat, config.positions * config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x).flatten(1)  # (B, C'*H'*W')
        logits = self.heads(self.dropout(features))  # (B, positions*classes)
        return logits.view(x.shape[0], self.config.positions, self.config.num_classes)


@register("cnn", MultiHeadCNN, CNNConfig, "the tutorial's VGG-like CNN, one softmax head per character")
def _cnn(num_classes: int, max_len: int) -> CNNConfig:
    return CNNConfig(num_classes=num_classes, positions=max_len)


@register("cnn_fast", MultiHeadCNN, CNNConfig, "CPU-fast multi-head CNN: the crnn_fast convolutions + one head per character")
def _cnn_fast(num_classes: int, max_len: int) -> CNNConfig:
    convs = dataclasses.replace(FAST_CONVS, pools=((2, 2),) * 4)
    return CNNConfig(num_classes=num_classes, positions=max_len, convs=convs, dropout=0.1)


# cnn_fast without the second conv of block 2 (64 channels at 16x32 positions), the costliest
# layer of a training step on a CPU; block 3's second conv stays, since dropping it too cost
# more accuracy than it saved time (benchmarks/results/variants.md).
@register("cnn_lite", MultiHeadCNN, CNNConfig, "cnn_fast with one conv in block 2: faster to train on a CPU")
def _cnn_lite(num_classes: int, max_len: int) -> CNNConfig:
    config = _cnn_fast(num_classes, max_len)
    return dataclasses.replace(config, convs=dataclasses.replace(config.convs, convs=(1, 1, 2, 2)))
