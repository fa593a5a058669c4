"""Reading labeled sets with our models and with ddddocr, as the benchmarks compare them."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from captcha_break.charset import Charset
from captcha_break.decoding import greedy_decode
from captcha_break.evaluate import read_samples
from captcha_break.metrics import score
from captcha_break.recognizer import Recognizer
from captcha_break.schemes import CTC_SCHEME
from captcha_break.sources import labeled_samples
from captcha_break.synth import SynthConfig

Way = tuple[str, bool, str | None, tuple[int, int] | None]  # name, fold_case, only_chars, only_length


def read_with(model: str, folder: Path, ways: list[Way]) -> dict[str, dict]:
    """{name: figures} for each way of reading the set; its images are decoded once for
    them all."""
    spec = Recognizer.load(model).spec
    # Labels outside the model's charset stay in: a model that cannot read them is wrong there.
    samples = labeled_samples(spec, SynthConfig(), str(folder), workers=2)
    figures = {}
    for name, fold_case, only_chars, only_length in ways:
        recognizer = Recognizer.load(model, threads=2, fold_case=fold_case, only_chars=only_chars, only_length=only_length)
        decoded, seconds = read_samples(recognizer, samples, folder=folder)  # wide images at their width
        preds = [p.text for p in decoded]
        s = score([label.upper() for label in samples.labels] if fold_case else samples.labels, preds)
        figures[name] = {"accuracy": s.accuracy, "char_accuracy": s.char_accuracy, "count": s.count,
                         "ms_per_image": 1000 * seconds / s.count}  # fmt: skip
    return figures


def ddddocr_within(ocr, image: bytes, chars: str, lengths: tuple[int, int] | None) -> str:
    """ddddocr's reading held to `chars` (either case) and `lengths` by our own decoder."""
    result = ocr.classification(image, probability=True)
    charset, allowed = result["charset"], set(chars.upper())
    columns = [0] + [i for i, c in enumerate(charset) if c and c.upper() in allowed]  # 0: ddddocr's blank
    probs = np.asarray(result["probabilities"], dtype=np.float32).reshape(-1, len(charset))[:, columns]
    kept = Charset("".join(charset[i] for i in columns[1:]))
    return greedy_decode(probs[None], kept, CTC_SCHEME, lengths)[0].text.upper()


def read_ddddocr(items, chars: str, lengths: tuple[int, int], fold: bool, beta: bool) -> dict:
    try:
        import ddddocr
    except ImportError:
        return {"skipped": "ddddocr not installed (pip install '.[bench]')"}
    ocr = ddddocr.DdddOcr(show_ad=False, beta=beta)
    start = time.perf_counter()
    # ddddocr reads lower case: compared case-insensitively on every site (its own best mode).
    preds = [ddddocr_within(ocr, path.read_bytes(), chars, lengths) for path, _ in items]
    seconds = time.perf_counter() - start
    s = score([label.upper() for _, label in items], preds)
    return {"accuracy": s.accuracy, "char_accuracy": s.char_accuracy, "count": s.count, "ms_per_image": 1000 * seconds / s.count}
