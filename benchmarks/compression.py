"""What each ONNX export option costs in accuracy and buys in size and speed.

    python benchmarks/compression.py --model runs/crnn_fast/best.pt [--count 5000]

Exports the checkpoint five ways (fp32; fp16 or int8 weight storage with fp32 arithmetic;
int8 dynamic quantization, alone and with int8 storage) and measures each on the same fresh captchas:
file size, whole-captcha accuracy,
batched throughput.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import add_update_option, write_results

from captcha_break.evaluate import evaluate
from captcha_break.export import export_onnx
from captcha_break.recognizer import Recognizer
from captcha_break.sources import fresh_samples
from captcha_break.synth import SynthConfig

VARIANTS = {"fp32": {}, "fp16 weights": {"weights": "fp16"}, "int8 weights": {"weights": "int8"},
            "int8 dynamic quantization": {"int8": True},
            "int8 dynamic + int8 weights": {"int8": True, "weights": "int8"}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a training checkpoint (.pt)")
    parser.add_argument("--count", type=int, default=5000)
    add_update_option(parser)
    args = parser.parse_args()
    figures, samples = {}, None
    with tempfile.TemporaryDirectory() as tmp:
        for name, options in VARIANTS.items():
            path = export_onnx(args.model, Path(tmp) / f"{len(figures)}.onnx", **options)
            recognizer = Recognizer.load(path)
            if samples is None:
                samples = fresh_samples(recognizer.spec, args.count, "bench-compression", SynthConfig(), workers=2)
            start = time.perf_counter()
            result = evaluate(recognizer, samples, progress=False)
            figures[name] = {
                "mb": path.stat().st_size / 1e6,
                "accuracy": result.scores.accuracy,
                "char_accuracy": result.scores.char_accuracy,
                "images_per_second": len(samples) / (time.perf_counter() - start),
            }
    table = [
        (
            name,
            f"{f['mb']:.2f} MB, accuracy {f['accuracy']:.2%} (chars {f['char_accuracy']:.2%}), "
            f"{f['images_per_second']:.0f} img/s",
        )
        for name, f in figures.items()
    ]
    write_results("compression", {"model": args.model, "count": args.count, "variants": figures}, table,
                  f"ONNX export options, {args.count} fresh captchas")  # fmt: skip


if __name__ == "__main__":
    main()
