"""Validation, and what it decides: which weights a run hands back.

A run that starts from pretrained weights (--init) validates them first, and keeps them as
`best.pt` if they read more of the validation set than the trained weights do: training
never hands back a model it cannot show to be better than the one it started from.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..charset import Charset
from ..checkpoint import Checkpoint, save_checkpoint
from ..datasets import ArrayDataset, Collate
from ..decoding import greedy_decode
from ..device import autocast
from ..distributed import SINGLE, World, gather
from ..folders import Samples
from ..losses import compute_loss
from ..metrics import Scores, score
from ..schemes import Scheme
from .state import cpu_state

# Validation images a fine-tune needs before its reading of them can be trusted to tell it
# from its start: with fewer, a warning says so (one image is then 2 points or more).
JUDGE_IMAGES = 50


@torch.no_grad()
def validate(
    model,
    samples: Samples,
    charset: Charset,
    scheme: Scheme,
    device,
    batch_size: int,
    world: World = SINGLE,
    precision: str = "fp32",
) -> tuple[float, Scores, list[str]]:
    """Mean loss, scores and readings of `model` on `samples`; each rank reads a share, all get the result."""
    model.eval()
    mine = np.arange(world.rank, len(samples), world.size)
    loader = DataLoader(ArrayDataset(samples.subset(mine)), batch_size=batch_size, collate_fn=Collate(charset))
    total, preds = 0.0, []
    for batch in loader:
        batch = batch.to(device)
        with autocast(precision, device):
            logits = model(batch.images)
        total += compute_loss(logits, batch.targets, batch.lengths, scheme).item() * len(batch.labels)
        probs = logits.float().softmax(-1).cpu().numpy()
        preds += [d.text for d in greedy_decode(probs, charset, scheme)]
    shares = gather(world, (mine.tolist(), preds, total))
    merged = [""] * len(samples)
    for index, texts, _ in shares:
        for i, text in zip(index, texts):
            merged[i] = text
    return sum(s[2] for s in shares) / max(len(samples), 1), score(samples.labels, merged), merged


def measure_start(model, scores: Scores, keep_start: bool, log) -> dict:
    """What the weights a run starts from read of the validation set (`scores`), with the
    weights themselves, to be kept if training cannot beat them."""
    log(f"before training, the starting weights read {scores.accuracy:.2%} of the validation set")
    if scores.count < JUDGE_IMAGES and keep_start:
        log(
            f"warning: {scores.count} validation images are too few to show that training made the model better: "
            f"the trained weights are kept only if they read more of them than the starting ones (label at least "
            f"{JUDGE_IMAGES - scores.count} more images for a fair judge)"
        )
    return {"state": cpu_state(model), "accuracy": scores.accuracy, "char_accuracy": scores.char_accuracy}


def keep_start_if_better(best: Checkpoint, start: dict | None, path: Path, log) -> Checkpoint:
    """A fine-tuned model that reads less of the validation set than the pretrained one it
    came from (too few labels, too high a rate) is worth less than that one: keep that one
    in `path` (best.pt). Returns what it holds now."""
    trained = best.meta.get("accuracy", 0.0)
    if start is None or not keeps_start(
        (start["accuracy"], start["char_accuracy"]), (trained, best.meta.get("char_accuracy", 0.0))
    ):
        return best
    meta = {**best.meta, "epoch": 0, "accuracy": start["accuracy"], "char_accuracy": start["char_accuracy"]}
    meta.pop("val_loss", None)
    best = dataclasses.replace(best, state_dict=start["state"], meta=meta)
    save_checkpoint(best, path)
    log(
        f"kept the starting weights: they read {start['accuracy']:.2%} of the validation set, "
        f"the trained ones {trained:.2%}, no better (still in {path.parent / 'last.pt'}: `captcha-break average` takes it)"
    )
    return best


def keeps_start(start: tuple[float, float], trained: tuple[float, float]) -> bool:
    """Whether a fine-tune hands back the weights it started from: unless the trained ones
    read more of the validation set (whole captchas, then characters), a tie included, since
    a model that cannot be shown better is not handed back. The training images cannot break
    the tie: the fine-tune has fitted them, and reads all of them while it may read fewer fresh
    captchas than the start (the newcomer review of 2026-12-07)."""
    return trained <= start
