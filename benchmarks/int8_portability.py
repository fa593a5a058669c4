"""Whether a bundled int8 model reads as its card says on this CPU: full-range int8 weights
beside the 7-bit ones export.py now writes (reduce_range).

    python benchmarks/int8_portability.py [--model captcha4 --model cnn_fast] [--count 1000] [--update]

x86 CPUs without VNNI (AVX2, and AVX-512 before VNNI) multiply uint8 activations by int8
weights with an instruction (VPMADDUBSW) whose 16-bit sums saturate when weights use the full
int8 range; ONNX Runtime's quantization guide names the fix, 7-bit weights. Each model is
exported from its bundled checkpoint three ways (fp32, int8 full range, int8 reduce_range),
read on `--count` fresh captchas of its task, and timed in batches of 256 on one thread.
Run it on a CPU with VNNI and on one without: the CPU's flags are written beside the figures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from unittest import mock

from common import add_update_option, write_results

from captcha_break import export
from captcha_break.assets import ASSETS
from captcha_break.evaluate import evaluate
from captcha_break.preprocess import normalize
from captcha_break.recognizer import Recognizer
from captcha_break.sources import fresh_samples
from captcha_break.synth import SynthConfig


def cpu_flags() -> str:
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return "unknown"
    have = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f in flags.split()]
    return " ".join(have) or "none of avx2/avx512/vnni"


def export_full_range(source: Path, out: Path) -> Path:
    """The export as it was before reduce_range: int8 weights over their full range."""
    from onnxruntime import quantization

    real = quantization.quantize_static

    def full_range(*args, **kwargs):
        return real(*args, **{**kwargs, "reduce_range": False})

    with mock.patch.object(quantization, "quantize_static", full_range):
        return export.export_onnx(source, out, int8="static", weights="int8")


def measure(path: Path, count: int) -> dict:
    recognizer = Recognizer.load(str(path), threads=1)
    samples = fresh_samples(recognizer.spec, count, "int8-portability", SynthConfig(), workers=1)
    scores = evaluate(recognizer, samples, progress=False).scores
    batch = normalize(samples.pixels[:256])
    recognizer.backend(batch)  # warm up
    start = time.perf_counter()
    for _ in range(3):
        recognizer.backend(batch)
    return {"accuracy": scores.accuracy, "images_per_second_1_thread": 3 * len(batch) / (time.perf_counter() - start)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="bundled int8 models (default: captcha4 and cnn_fast)")
    parser.add_argument("--count", type=int, default=1000)
    add_update_option(parser)
    args = parser.parse_args()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.model or ["captcha4", "cnn_fast"]:
            source = ASSETS / f"{name}.pt"
            files = {
                "fp32": export.export_onnx(source, Path(tmp) / f"{name}-fp32.onnx"),
                "int8, full-range weights": export_full_range(source, Path(tmp) / f"{name}-full.onnx"),
                "int8, 7-bit weights (shipped)": export.export_onnx(
                    source, Path(tmp) / f"{name}-7bit.onnx", int8="static", weights="int8"
                ),
            }
            results[name] = {way: measure(path, args.count) for way, path in files.items()}
    table = [
        (f"{name}, {way}", f"{r['accuracy']:.2%} of {args.count}, {r['images_per_second_1_thread']:.0f} images/s (1 thread)")
        for name, ways in results.items()
        for way, r in ways.items()
    ]
    table.append(("CPU flags", cpu_flags()))
    write_results("int8_portability", {"models": results, "cpu_flags": cpu_flags()}, table, "int8 models on this CPU")


if __name__ == "__main__":
    main()
