"""One loss entry point for every model family, chosen by the model's decoding scheme."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .charset import BLANK


def compute_loss(logits: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor, scheme: str) -> torch.Tensor:
    """Mean loss of a batch.

    logits: (B, T, C); targets: (B, L) class indices padded with 0; lengths: (B,).
    """
    logits = logits.float()  # losses in fp32 even when the forward pass ran in bf16
    if scheme == "ctc":
        log_probs = logits.log_softmax(-1).transpose(0, 1)  # (T, B, C) as ctc_loss wants
        frames = torch.full((logits.shape[0],), logits.shape[1], dtype=torch.long)
        # zero_infinity: a label longer than the frames gives inf, which must not poison
        # the batch; such labels are rejected before training, this is the last guard.
        return F.ctc_loss(log_probs, targets, frames, lengths, blank=BLANK, zero_infinity=True)
    if scheme == "positions":
        slots = logits.shape[1]
        if targets.shape[1] > slots:
            raise ValueError(f"labels of {targets.shape[1]} characters but the model has {slots} heads")
        padded = F.pad(targets, (0, slots - targets.shape[1]), value=BLANK)  # (B, slots)
        return F.cross_entropy(logits.flatten(0, 1), padded.flatten())
    raise ValueError(f"unknown decoding scheme {scheme!r}")
