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


def plot_predictions(
    pixels: np.ndarray,
    truths: list[str],
    preds: list[str],
    path: str | Path,
    cols: int = 4,
    confidences: list[float] | None = None,
) -> Path:
    """Readings over the images: right ones in green, wrong ones in red with the label beside
    them ("read X, label Y"); the model's confidence if given. The figure says so on top."""
    fig, axes = _grid(len(truths), cols)
    confidences = confidences or [None] * len(truths)
    for ax, image, truth, pred, conf in zip(axes.flat, pixels, truths, preds, confidences):
        _show(ax, image)
        ok = truth == pred
        title = f"{pred} ✓" if ok else f"read {pred or '∅'}, label {truth}"
        if conf is not None:
            title += f" · {conf:.0%}"
        ax.set_title(title, fontsize=9, family="monospace", color="green" if ok else "red")
    fig.suptitle("the model's reading (✓ right; wrong: read … label …) · its confidence", fontsize=10)
    return _save(fig, path)


def plot_curves(logs: dict[str, list[dict[str, float]]], path: str | Path) -> Path:
    """Loss (log scale), accuracy and learning rate per epoch; a marker at each epoch, phases
    shaded. Several logs by name (a soup's members) share the axes, one colour per run."""
    fig, (loss_ax, acc_ax, lr_ax) = plt.subplots(1, 3, figsize=(15, 4))
    for i, (name, log) in enumerate(logs.items()):
        _plot_run(loss_ax, acc_ax, lr_ax, name, log, f"C{i}" if len(logs) > 1 else None)
    loss_ax.set_yscale("log")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
    # From nothing the axis starts at 0; a fine-tune's figures all lie near the top: zoom there.
    lowest = min(row[key] for log in logs.values() for row in log for key in ("accuracy", "char_accuracy"))
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy", title="accuracy", ylim=(max(0.0, lowest - 0.02), 1.005))
    lr_ax.set(xlabel="epoch", ylabel="learning rate", title="learning rate")
    for ax in (loss_ax, acc_ax, lr_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def _plot_run(loss_ax, acc_ax, lr_ax, name: str, log: list[dict[str, float]], colour: str | None) -> None:
    """One run's lines. Alone (colour None): a colour per line. One of several: the run's
    colour on all its lines, a line style per measure, its name in the legend."""
    epochs = [row["epoch"] for row in log]
    tag = f"{name}: " if name else ""
    lines = [
        (loss_ax, "train_loss", "train", "-", None),
        (loss_ax, "val_loss", "validation", "--", None),
        (acc_ax, "accuracy", "whole captcha", "-", None),
        (acc_ax, "char_accuracy", "per character", ":", None),
        (lr_ax, "lr", "learning rate (epoch end)", "-", "tab:purple"),
    ]
    for ax, key, label, style, own_colour in lines:
        ax.plot(epochs, [row[key] for row in log], style if colour else "-", color=colour or own_colour,
                marker="o", ms=3, label=tag + label)  # fmt: skip
    finetune = [e for e, row in zip(epochs, log) if row["phase"] >= 1]
    for ax in (loss_ax, acc_ax, lr_ax) if finetune else ():
        ax.axvspan(min(finetune) - 0.5, max(finetune) + 0.5, color="0.92", label=tag + "best weights reloaded, lr reduced")


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
    """The layers as a diagram, top to bottom, each box with its output shape and
    parameters (what the tutorial's Keras plot_model drew)."""
    height = 0.42 * len(rows) + 1.2
    fig, ax = plt.subplots(figsize=(6.5, height))
    ax.set(xlim=(0, 1), ylim=(len(rows) + 0.5, -0.8))
    ax.axis("off")
    colours = {"Conv2d": "#cfe2f3", "BatchNorm2d": "#eeeeee", "ReLU": "#f4f4f4", "MaxPool2d": "#fce5cd", "GRU": "#d9ead3",
               "Linear": "#f4cccc", "Dropout": "#f4f4f4"}  # fmt: skip
    ax.text(0.5, -0.6, title or "model", ha="center", va="center", fontsize=11, weight="bold")
    for i, row in enumerate(rows):
        box = plt.Rectangle((0.05, i - 0.35), 0.9, 0.7, facecolor=colours.get(row.kind, "#ffffff"), edgecolor="0.4")
        ax.add_patch(box)
        ax.text(0.08, i, f"{row.kind}  ({row.name})", va="center", fontsize=8, family="monospace")
        label = f"{'x'.join(map(str, row.output_shape[1:]))}" + (f"   {row.params:,} p" if row.params else "")
        ax.text(0.92, i, label, va="center", ha="right", fontsize=8, family="monospace")
        if i:
            ax.annotate("", (0.5, i - 0.35), (0.5, i - 0.65), arrowprops=dict(arrowstyle="->", color="0.4", lw=0.8))
    total = sum(r.params for r in rows)
    ax.text(0.5, len(rows) + 0.2, f"{total:,} parameters", ha="center", fontsize=9)
    return _save(fig, path)
