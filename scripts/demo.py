"""`make demo`: read fresh captchas with the bundled model and show accuracy and speed.

Each step is a real `captcha-break` command, printed before it runs, so the demo doubles
as a tour of the CLI. Without a bundled model (a bare checkout), it first trains a small
one for about two minutes and uses that instead.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

from captcha_break.assets import ASSETS
from captcha_break.cli import main
from captcha_break.recognizer import Recognizer

OUT = Path("demo_out")


def run(*args: str) -> None:
    print(f"\n$ captcha-break {shlex.join(args)}", flush=True)
    code = main(list(args))
    if code not in (0, None):
        sys.exit(code)


def model_to_use() -> str:
    if (ASSETS / "captcha4.onnx").is_file():
        return "captcha4"
    print("no bundled model in this checkout: training a small one for about two minutes")
    run("train", "--model", "crnn_fast", "--out", str(OUT / "run"), "--pregenerate", "6000", "--schedule", "onecycle",
        "--epochs", "3", "--batch-size", "64", "--val-size", "500", "--lr", "3e-3")  # fmt: skip
    run("export", "--model", str(OUT / "run" / "best.pt"), "--out", str(OUT / "model.onnx"))
    return str(OUT / "model.onnx")


def latency_ms(model: str, image: Path, repeats: int = 200) -> float:
    recognizer = Recognizer.load(model)
    recognizer.predict(image)  # warm up
    start = time.perf_counter()
    for _ in range(repeats):
        recognizer.predict(image)
    return (time.perf_counter() - start) / repeats * 1000


def main_demo() -> None:
    OUT.mkdir(exist_ok=True)
    model = model_to_use()
    run("evaluate", "--model", model, "--count", "1000", "--seed", "demo", "--plot", str(OUT / "predictions.png"))
    run("generate", "--count", "4", "--seed", "2026", "--out", str(OUT / "samples"))
    images = sorted((OUT / "samples").glob("*.png"))
    run("predict", "--model", model, *map(str, images))
    print(f"\none image, end to end (decode + preprocess + model): {latency_ms(model, images[0]):.2f} ms")
    print(f"a picture of the predictions: {OUT / 'predictions.png'}")


if __name__ == "__main__":
    main_demo()
