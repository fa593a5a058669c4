"""One loss entry point for every model family: the model's decoding scheme's own loss."""

from __future__ import annotations

import torch

from .schemes import Scheme


def compute_loss(logits: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor, scheme: Scheme) -> torch.Tensor:
    """Mean loss of a batch. logits: (B, T, C); targets: (B, L) class indices padded with 0;
    lengths: (B,). Computed in fp32 even when the forward pass ran under bf16 autocast."""
    return scheme.loss(logits.float(), targets, lengths)
