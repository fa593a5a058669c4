"""Convolutional CTC: the CRNN's convolutions and CTC output with 1-D convolutions along
the width in place of its GRUs.

A GRU runs its time steps one after another, forward and backward, and on a CPU its
backward pass costs about a third of a crnn_fast training step (benchmarks/variants.py:
crnn_fast against cnn_fast, the same convolutions). A few 1-D convolutions over the time
axis give each step its neighbours' context in parallel, and still read any length and any
width, which the multi-head CNN cannot.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import nn

from .blocks import FAST_CONVS, ConvStack, ConvStackConfig
from .registry import register


@dataclass(frozen=True)
class ConvCTCConfig:
    num_classes: int = 37  # characters + the CTC blank (class 0)
    height: int = 64
    width: int = 128  # the training width; any width works at inference
    convs: ConvStackConfig = field(default_factory=lambda: FAST_CONVS)
    head_channels: int = 256
    head_layers: int = 2
    kernel: int = 3  # time steps each 1-D convolution sees
    dropout: float = 0.0

    def slots(self) -> int:
        """Output steps (CTC frames) at the training width."""
        return self.convs.output_size(self.height, self.width)[1]


class ConvCTC(nn.Module):
    """(B, C, H, W) -> logits (B, T, num_classes), T = W' of the feature map."""

    scheme = "ctc"

    def __init__(self, config: ConvCTCConfig):
        super().__init__()
        self.config = config
        self.features = ConvStack(config.convs)
        fh, _ = config.convs.output_size(config.height, config.width)
        layers: list[nn.Module] = []
        cin = config.convs.channels[-1] * fh
        for _ in range(config.head_layers):
            layers += [
                nn.Conv1d(cin, config.head_channels, config.kernel, padding=config.kernel // 2, bias=False),
                nn.BatchNorm1d(config.head_channels),
                nn.ReLU(inplace=True),
            ]
            cin = config.head_channels
        self.context = nn.Sequential(*layers)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Conv1d(cin, config.num_classes, 1)  # a Linear applied at every step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x).flatten(1, 2)  # (B, C'*H', T): each column is one time step
        f = self.context(f)  # (B, head_channels, T)
        return self.classifier(self.dropout(f)).transpose(1, 2)  # (B, T, classes)


@register("ctc_fast", ConvCTC, ConvCTCConfig, "crnn_fast's convolutions + 1-D convolutions over time (no GRU), CTC")
def _ctc_fast(num_classes: int, max_len: int) -> ConvCTCConfig:
    return ConvCTCConfig(num_classes=num_classes)


# The CTC counterpart of cnn_lite: one conv in block 2, the costliest layer of a CPU step.
@register("ctc_lite", ConvCTC, ConvCTCConfig, "ctc_fast with one conv in block 2: faster to train on a CPU")
def _ctc_lite(num_classes: int, max_len: int) -> ConvCTCConfig:
    return ConvCTCConfig(num_classes=num_classes, convs=dataclasses.replace(FAST_CONVS, convs=(1, 1, 2, 2)))
