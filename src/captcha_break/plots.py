"""Pictures: sample grids, training curves, predictions vs truth, and the model's layers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: works with no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _grid(n: int, cols: int) -> tuple[plt.Figure, np.ndarray]:
    cols = max(1, min(cols, n))
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 1.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes


def _show(ax, pixels: np.ndarray) -> None:
    """uint8 (C, H, W) -> the axes."""
    if pixels.shape[0] == 1:
        ax.imshow(pixels[0], cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(pixels.transpose(1, 2, 0))


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_samples(pixels: np.ndarray, labels: list[str], path: str | Path, cols: int = 4) -> Path:
    """A grid of images (N, C, H, W) titled with their labels."""
    fig, axes = _grid(len(labels), cols)
    for ax, image, label in zip(axes.flat, pixels, labels):
        _show(ax, image)
        ax.set_title(label, fontsize=11, family="monospace")
    return _save(fig, path)


def plot_predictions(pixels: np.ndarray, truths: list[str], preds: list[str], path: str | Path, cols: int = 4) -> Path:
    """Predictions over truth; wrong ones in red with the truth beside them."""
    fig, axes = _grid(len(truths), cols)
    for ax, image, truth, pred in zip(axes.flat, pixels, truths, preds):
        _show(ax, image)
        ok = truth == pred
        title = f"{pred}" if ok else f"{pred or '∅'} ✗ ({truth})"
        ax.set_title(title, fontsize=10, family="monospace", color="green" if ok else "red")
    return _save(fig, path)


def plot_curves(log: list[dict[str, float]], path: str | Path) -> Path:
    """Loss (log scale) and accuracy per epoch from a training log; phases shaded."""
    epochs = [row["epoch"] for row in log]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    loss_ax.plot(epochs, [row["train_loss"] for row in log], label="train")
    loss_ax.plot(epochs, [row["val_loss"] for row in log], label="validation")
    loss_ax.set_yscale("log")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
    acc_ax.plot(epochs, [row["accuracy"] for row in log], label="whole captcha")
    acc_ax.plot(epochs, [row["char_accuracy"] for row in log], label="per character")
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy", title="accuracy", ylim=(0, 1.01))
    for ax in (loss_ax, acc_ax):
        finetune = [e for e, row in zip(epochs, log) if row["phase"] >= 1]
        if finetune:
            ax.axvspan(min(finetune) - 0.5, max(finetune) + 0.5, color="0.92", label="lr reduced")
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


@dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int


def model_table(model, input_shape: tuple[int, ...]) -> list[LayerRow]:
    """Each leaf layer's output shape (for one input of `input_shape`) and parameter count."""
    import torch

    rows: list[LayerRow] = []
    hooks = []
    for name, module in model.named_modules():
        if list(module.children()):
            continue

        def hook(mod, _inputs, output, name=name):
            out = output[0] if isinstance(output, tuple) else output
            params = sum(p.numel() for p in mod.parameters(recurse=False))
            rows.append(LayerRow(name, type(mod).__name__, tuple(out.shape), params))

        hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return rows


def format_table(rows: list[LayerRow]) -> str:
    lines = [f"{'layer':<22}{'type':<14}{'output shape':<22}{'params':>10}"]
    for row in rows:
        lines.append(f"{row.name:<22}{row.kind:<14}{str(row.output_shape):<22}{row.params:>10,}")
    lines.append(f"{'total':<58}{sum(r.params for r in rows):>10,}")
    return "\n".join(lines)


def plot_model(rows: list[LayerRow], path: str | Path, title: str = "") -> Path:
    """The layer table as a picture (the tutorial used Keras plot_model)."""
    text = format_table(rows)
    fig = plt.figure(figsize=(8, 0.22 * (len(rows) + 4)))
    fig.text(0.01, 0.99, (title + "\n\n" if title else "") + text, family="monospace", fontsize=8, va="top")
    return _save(fig, path)
