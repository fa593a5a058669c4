"""Model variants on this CPU: training speed, inference speed, and accuracy per image seen.

    python benchmarks/variants.py                          # speeds only (a few minutes)
    python benchmarks/variants.py --train-images 300000    # + a short run of each (long)
    python benchmarks/variants.py --only cnn_lite          # one variant: variants_cnn_lite.*
                                                           # (crnn_fast fp32 timed too, for the ratio)

For each registered CPU-fast architecture, at 128x64 and the default task:
- training images/s of a full step (forward, CTC or cross-entropy loss, backward, Adam),
  fp32 and bf16 autocast, 1 and 2 threads, on batches of 64 held in memory (the data side
  is measured apart: captchas drawn per second per process);
- inference images/s of the exported ONNX model (batches of 256, 2 threads);
- with --train-images N: whole-captcha accuracy on 10,000 fresh captchas after training
  on N fresh captchas with the same recipe (onecycle, lr 2e-3, batch 64, 1 drawing process,
  1 training thread) in bf16, and crnn_fast also in fp32: the baseline the speed ratios are
  taken against. Accuracy per image seen then compares across variants and precisions.
All variants run in one process, one after another, so the figures are ratios measured
under the same conditions. Writes variants.json / .md / .png (variants_NAME.* with --only).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import add_update_option, results_dir, write_results

from captcha_break.device import autocast, cpu_has_bf16
from captcha_break.evaluate import evaluate
from captcha_break.export import export_onnx
from captcha_break.losses import compute_loss
from captcha_break.models import build_model, default_config
from captcha_break.recognizer import Recognizer
from captcha_break.sources import fresh_samples
from captcha_break.synth import SynthConfig

# Measured and not kept: CTC models with 1-D convolutions over time instead of the BiGRUs
# (commit e39a426, results/variants_ctc_fast_ctc_lite.md): in bf16, 1.6x crnn_fast fp32's
# training images/s (ctc_lite 2.3x), against 1.9x for crnn_fast itself (crnn_lite 2.6x). A
# CRNN's cost on a CPU is its convolutions at the full CTC width (pools of (2, 1)), not its
# GRUs: the CNNs are faster for pooling the width too.
VARIANTS = ["crnn_fast", "crnn_lite", "cnn_fast", "cnn_lite"]
EVAL_COUNT = 10000  # fresh captchas per accuracy figure: 2,000 left +-0.5 point of sampling noise


def train_speed(name: str, precision: str, threads: int, steps: int = 10, rounds: int = 5, batch: int = 64) -> float:
    torch.set_num_threads(threads)
    config = default_config(name, 37, 4)
    model = build_model(name, config).to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.Adam(model.parameters(), 1e-3, amsgrad=True)
    x = torch.rand(batch, config.convs.in_channels, 64, 128).contiguous(memory_format=torch.channels_last)
    targets, lengths = torch.randint(1, 37, (batch, 4)), torch.full((batch,), 4)
    cpu = torch.device("cpu")

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast(precision, cpu):
            logits = model(x)
        compute_loss(logits, targets, lengths, model.scheme).backward()
        optimizer.step()

    for _ in range(3):
        step()
    # The median of several short rounds: a single 12-step timing moved by a third between runs
    # on these shared cores.
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * batch / (time.perf_counter() - start))
    return statistics.median(rates)


def inference_speed(name: str, tmp: Path) -> tuple[float, float]:
    """(images/s in batches of 256 on 2 threads, ONNX MB) of an untrained export."""
    from captcha_break.charset import Charset
    from captcha_break.checkpoint import Checkpoint, save_checkpoint
    from captcha_break.preprocess import InputSpec

    config = default_config(name, 37, 4)
    model = build_model(name, config)
    spec = InputSpec(64, 128, config.convs.in_channels)
    save_checkpoint(Checkpoint(name, config, Charset(), spec, model.state_dict(), meta={}), tmp / f"{name}.pt")
    onnx = export_onnx(tmp / f"{name}.pt", tmp / f"{name}.onnx", weights="int8")
    recognizer = Recognizer.load(onnx, threads=2)
    pixels = np.random.default_rng(0).integers(0, 256, (1024, *spec.shape), dtype=np.uint8)
    recognizer.predict_pixels(pixels[:256])
    start = time.perf_counter()
    recognizer.predict_pixels(pixels)
    return len(pixels) / (time.perf_counter() - start), onnx.stat().st_size / 1e6


def accuracy_after(name: str, images: int, tmp: Path, precision: str = "bf16") -> dict:
    """Whole-captcha accuracy after training `name` on `images` fresh captchas."""
    epochs = 4
    out = tmp / f"run-{name}-{precision}"
    cmd = [sys.executable, "-m", "captcha_break", "train", "--model", name, "--out", str(out), "--style", "mixed",
           "--epoch-size", str(images // epochs), "--epochs", str(epochs), "--schedule", "onecycle", "--lr", "2e-3",
           "--batch-size", "64", "--val-size", "2000", "--workers", "1", "--threads", "1", "--seed", "5",
           "--precision", precision]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    minutes = (time.perf_counter() - start) / 60
    recognizer = Recognizer.load(out / "best.pt", device="cpu")
    samples = fresh_samples(recognizer.spec, EVAL_COUNT, "bench-variants", SynthConfig(), 2)
    scores = evaluate(recognizer, samples, progress=False)
    return {"images": images, "minutes": minutes, "accuracy": scores.scores.accuracy, "precision": precision,
            "count": EVAL_COUNT}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=VARIANTS)
    parser.add_argument("--train-images", type=int, default=0, help="also train each variant on this many fresh captchas")
    add_update_option(parser)
    args = parser.parse_args()
    precisions = ["fp32", "bf16"] if cpu_has_bf16() else ["fp32"]
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or VARIANTS:
            entry = {f"train_{p}_{t}t": train_speed(name, p, t) for p in precisions for t in (1, 2)}
            entry["infer_onnx_2t"], entry["onnx_mb"] = inference_speed(name, Path(tmp))
            if args.train_images:
                entry["trained"] = accuracy_after(name, args.train_images, Path(tmp), precisions[-1])
                if name == "crnn_fast" and precisions[-1] != "fp32":  # today's baseline, trained alike
                    entry["trained_fp32"] = accuracy_after(name, args.train_images, Path(tmp), "fp32")
            figures[name] = entry
            print(name, entry, flush=True)
        # The ratios' baseline is timed in this run too, whichever variants were asked for.
        base = figures["crnn_fast"]["train_fp32_2t"] if "crnn_fast" in figures else train_speed("crnn_fast", "fp32", 2)
    table = []
    for name, f in figures.items():
        speeds = ", ".join(f"{k.removeprefix('train_')} {v:.0f}" for k, v in f.items() if k.startswith("train_"))
        ratio = f" ({f[f'train_{precisions[-1]}_2t'] / base:.1f}x crnn_fast fp32 2 threads)"
        table.append((f"{name}: training images/s", speeds + ratio))
        table.append(
            (f"{name}: inference images/s (ONNX, 2 threads) / file", f"{f['infer_onnx_2t']:.0f} / {f['onnx_mb']:.2f} MB")
        )
        for key in ("trained_fp32", "trained"):
            if key in f:
                t = f[key]
                table.append((f"{name}: accuracy after {t['images']:,} fresh images, {t['precision']}",
                              f"{t['accuracy']:.2%} of {t['count']:,} ({t['minutes']:.1f} min, drawing included)"))  # fmt: skip
    # --only writes beside the full table, not over it: variants_cnn_lite.md etc.
    name = "_".join(["variants", *(args.only or [])])
    plot(figures, results_dir() / f"{name}.png")
    write_results(name, {"figures": figures, "crnn_fast_fp32_2t": base}, table, "Model variants at 128x64 (2 CPU cores)")


def plot(figures: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, f in figures.items():
        train = max(v for k, v in f.items() if k.startswith("train_"))
        ax.scatter(train, f["infer_onnx_2t"], s=60)
        label = name + (f"\n{f['trained']['accuracy']:.1%} after {f['trained']['images']:,}" if "trained" in f else "")
        ax.annotate(label, (train, f["infer_onnx_2t"]), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set(xlabel="training images/s (best precision, 2 threads)", ylabel="inference images/s (ONNX, 2 threads)",
           title="model variants, 128x64, 2 CPU cores")  # fmt: skip
    ax.grid(alpha=0.3)
    with contextlib.suppress(OSError):
        fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    main()
