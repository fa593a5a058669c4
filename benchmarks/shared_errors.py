"""Do the bundled models of the tutorial's task misread the same captchas?

    python benchmarks/shared_errors.py [--count 10000] [--update]

Reads the same fresh captchas of each library version (the cards' seeds, card-v07 and
card-v03) with `default` (a CRNN) and `cnn_fast` (a multi-head CNN): two architectures,
trained apart. Where their errors differ, combining them would read more; where both misread
the same captchas alike, those captchas hold any such model back. Reported per version:
each model's accuracy; the captchas both misread, and how many of those they read the same
way; the reading of the more confident model (a two-model ensemble); the captchas either
model reads right (an oracle no ensemble can beat); and how many of `default`'s misread
characters are 0 and O taken for each other.
"""

from __future__ import annotations

import argparse

from common import add_update_option, pair_errors, write_results

from captcha_break.metrics import edit_ops, score
from captcha_break.recognizer import Recognizer
from captcha_break.sources import fresh_samples
from captcha_break.synth import SynthConfig

MODELS = ("captcha4", "cnn_fast")
VERSIONS = {"captcha 0.7": ("v07", "card-v07"), "captcha 0.3": ("v03", "card-v03")}


def compare(truths: list[str], first: list, second: list) -> dict:
    """Figures of two models' Predictions on the same captchas."""
    n = len(truths)
    both_wrong = [(a.text, b.text) for a, b, t in zip(first, second, truths) if a.text != t and b.text != t]
    picked = [a.text if a.confidence >= b.confidence else b.text for a, b in zip(first, second)]
    wrong_0o, _ = pair_errors(truths, [p.text for p in first])
    return {
        "accuracy": [score(truths, [p.text for p in preds]).accuracy for preds in (first, second)],
        "both_wrong": len(both_wrong),
        "both_wrong_alike": sum(a == b for a, b in both_wrong),
        "ensemble_accuracy": score(truths, picked).accuracy,
        "oracle_accuracy": sum(a.text == t or b.text == t for a, b, t in zip(first, second, truths)) / n,
        "first_char_errors": sum(edit_ops(t, p.text)[0] for t, p in zip(truths, first)),
        "first_0o_errors": wrong_0o,
        "count": n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10000)
    add_update_option(parser)
    args = parser.parse_args()
    first, second = (Recognizer.load(name, threads=2) for name in MODELS)
    if first.spec != second.spec:
        raise SystemExit(f"{MODELS} read different inputs ({first.spec} vs {second.spec}): compare them apart")
    results, table = {}, []
    for version, (style, seed) in VERSIONS.items():
        samples = fresh_samples(first.spec, args.count, seed, SynthConfig(style=style), workers=2)
        readings = [model.predict_pixels(samples.pixels) for model in (first, second)]
        r = results[version] = compare(samples.labels, *readings)
        table += [
            (f"{version}: {MODELS[0]} / {MODELS[1]}", " / ".join(f"{a:.2%}" for a in r["accuracy"]) + f" of {r['count']}"),
            (f"{version}: misread by both (read alike)", f"{r['both_wrong']} ({r['both_wrong_alike']})"),
            (f"{version}: the more confident model's reading", f"{r['ensemble_accuracy']:.2%}"),
            (f"{version}: either model right (an oracle)", f"{r['oracle_accuracy']:.2%}"),
            (f"{version}: {MODELS[0]}'s misread characters that are 0/O", f"{r['first_0o_errors']} of {r['first_char_errors']}"),
        ]
    write_results("shared_errors", {"models": MODELS, "versions": results}, table,
                  f"Where {MODELS[0]} and {MODELS[1]} misread the same captchas")  # fmt: skip


if __name__ == "__main__":
    main()
