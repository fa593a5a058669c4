"""CRNN: convolutions, the width axis read as time by bidirectional GRUs, CTC output."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import nn

from ..schemes import CTC_SCHEME
from .blocks import FAST_CONVS, ConvStack, ConvStackConfig
from .registry import register

# The tutorial's CRNN: full 2x2 pools for three blocks, then (2, 1) so 128 pixels of
# width become 16 time steps.
TUTORIAL_POOLS = ((2, 2), (2, 2), (2, 2), (2, 1), (2, 1))


@dataclass(frozen=True)
class CRNNConfig:
    num_classes: int = 37  # characters + the CTC blank (class 0)
    height: int = 64
    width: int = 128  # the training width; any width works at inference
    convs: ConvStackConfig = field(default_factory=lambda: ConvStackConfig(pools=TUTORIAL_POOLS))
    rnn_hidden: int = 128
    rnn_layers: int = 2
    dropout: float = 0.0

    def slots(self) -> int:
        """Output steps (CTC frames) at the training width."""
        return self.convs.output_size(self.height, self.width)[1]


class CRNN(nn.Module):
    """(B, C, H, W) -> logits (B, T, num_classes), T = W' of the feature map."""

    scheme = CTC_SCHEME

    def __init__(self, config: CRNNConfig):
        super().__init__()
        self.config = config
        self.features = ConvStack(config.convs)
        fh, _ = config.convs.output_size(config.height, config.width)
        self.rnn = nn.GRU(
            config.convs.channels[-1] * fh,
            config.rnn_hidden,
            num_layers=config.rnn_layers,
            batch_first=True,
            bidirectional=True,
            dropout=config.dropout if config.rnn_layers > 1 else 0.0,
        )
        self.classifier = nn.Linear(2 * config.rnn_hidden, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)  # (B, C', H', T)
        f = f.flatten(1, 2).transpose(1, 2)  # (B, T, C'*H'): each column is one time step
        seq, _ = self.rnn(f)  # (B, T, 2*hidden)
        return self.classifier(seq)  # (B, T, classes)


@register("crnn", CRNN, CRNNConfig, "the tutorial's CRNN: VGG convolutions + 2 x BiGRU(128), CTC")
def _crnn(num_classes: int, max_len: int) -> CRNNConfig:
    return CRNNConfig(num_classes=num_classes)


@register("crnn_fast", CRNN, CRNNConfig, "CPU-fast CRNN: grayscale, strided stem, 4 conv blocks + 2 x BiGRU(128), CTC")
def _crnn_fast(num_classes: int, max_len: int) -> CRNNConfig:
    return CRNNConfig(num_classes=num_classes, convs=FAST_CONVS)


# Narrower convolutions: the convolutions are most of the cost on a CPU, and 4 characters
# of one font need nothing like the tutorial's 256 channels (speed against crnn_fast:
# benchmarks/results/variants.md, inference.md).
LITE_CONVS = dataclasses.replace(FAST_CONVS, channels=(24, 48, 96, 128))


@register("crnn_lite", CRNN, CRNNConfig, "narrow CPU-fast CRNN: crnn_fast with 24-48-96-128 channels, CTC")
def _crnn_lite(num_classes: int, max_len: int) -> CRNNConfig:
    return CRNNConfig(num_classes=num_classes, convs=LITE_CONVS)
