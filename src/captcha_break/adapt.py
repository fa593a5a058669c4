"""Label-free adaptation: a site's unlabeled images teach the base model to read that site.

`captcha-break train --unlabeled DIR --out RUN` with no `--data`: the base model (`general`,
or `--init`) reads DIR's images, held to the site's alphabet and lengths where given
(`--chars`, `--length`), in the fit it reads them most surely in (`site_fit`); the readings
it is at least `--pseudo-threshold` sure of, and reads alike in perturbed copies (below),
become the labels of a fine-tune (the plain command's choices at the base model's own input,
on a run-local folder of links, so DIR is never written to); the adapted model reads DIR
again, and so on for ROUNDS rounds.

No label says whether that helped, so a share of DIR (CHECK_SHARE, by a hash of the file
name) is never trained on, and each model is judged there by what needs no label: the share
of images it reads at >= the threshold *and* reads alike in AUGMENTED_VIEWS slightly perturbed
copies (_steady_augment: augment.py's perturbations, milder than training's, which turned
even a model that reads nearly all of its own captchas to other readings in most of them). A model can grow
steadier by learning its own mistakes (a held-out site's first trial: steadier, and fewer of
its readings right), so it must also read the judging images that the base model read surely and
steadily as the base did, all but MAX_DISAGREE of them: adapting may add readings, not
overturn sure ones. RUN/best.pt is the adapted model only where the steady share rose by
MARGIN or more under that rule; else the base model is handed back, and the run says so.
RUN/adapt_report.json holds every round's counts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np

from .config import TrainConfig
from .labels import image_files
from .options import parse_length
from .train import TrainResult

ROUNDS = 2
CHECK_SHARE = 0.15
AUGMENTED_VIEWS = 2
MARGIN = 0.02  # of the check images: a rise smaller than this is noise, not a better model
MAX_DISAGREE = 0.01  # of the base model's sure and steady readings, overturned
ADAPT_LR = 3e-4  # below the plain command's 1e-3: its labels are its own readings, some wrong
MIN_READINGS = 20  # sure readings a round needs to train on
FIT_SAMPLE = 300  # images the base model reads in each of its fits to choose the site's


def _steady_augment():
    from .augment import AugmentConfig

    return AugmentConfig(
        rotate_degrees=2.0, shear=0.1, scale=(0.95, 1.02), translate=0.02, perspective=0.02, blur_p=0.0,
        noise_std=0.02, contrast=0.1, brightness=0.05, erase_p=0.0,
    )  # fmt: skip


def adapt(config: TrainConfig, resume: bool = False, log=print, rules: dict | None = None) -> TrainResult:
    """Adapt the base model to `config.unlabeled` without labels (see the module's docstring).
    rules: the site's {"chars", "length"} and the rate ("lr") as the user gave them (None
    where not given)."""
    from .assets import DEFAULT_MODEL, resolve
    from .finetune import pretrained
    from .plain import plain_options
    from .train import train

    started = time.monotonic()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    pool, check = split_images(Path(config.unlabeled))
    log(f"{len(pool) + len(check)} unlabeled images: {len(pool)} to adapt on, {len(check)} kept apart to judge by")
    if len(pool) < MIN_READINGS or not check:
        raise ValueError(f"--unlabeled {config.unlabeled}: {len(pool) + len(check)} images are too few to adapt on: collect more")
    base = resolve(config.init or DEFAULT_MODEL, "pt")
    rules = dict(rules or {"chars": config.chars, "length": None})
    rules["fit"] = site_fit(base, pool, rules, log)
    base_readings = steady_readings(base, check, config.pseudo_threshold, rules)
    base_score = len(base_readings) / len(check)
    log(f"the base model reads {base_score:.1%} of the judging images surely and steadily")
    current, rounds = base, []
    for k in range(1, ROUNDS + 1):
        left = config.time_budget - (time.monotonic() - started) if config.time_budget else 0.0
        if config.time_budget and left < 60:
            log(f"round {k}: the time budget is spent")
            break
        round_dir = out / f"round_{k}"
        # The labels pass the judge's own test: sure, and read alike when slightly perturbed.
        readings = list(steady_readings(current, pool, config.pseudo_threshold, rules, seed=k).items())
        log(f"round {k}: {len(readings)} of {len(pool)} images read at >= {config.pseudo_threshold:.0%} and steadily")
        if len(readings) < MIN_READINGS:
            log(f"round {k}: too few sure readings to train on")
            break
        folder = link_folder(round_dir / "data", readings)
        fields = {f.name: None for f in dataclasses.fields(TrainConfig)}
        fields.update(data=str(folder), out=str(round_dir), init=str(current), chars=config.chars, seed=config.seed + k,
                      workers=config.workers, threads=config.threads, device=config.device, precision=config.precision,
                      test_split=0.0, soup=1, time_budget=left / (ROUNDS - k + 1) if config.time_budget else None,
                      fold_case=config.fold_case or None, dry_run=config.dry_run or None, keep_start=False,
                      lr=rules.get("lr") or ADAPT_LR)  # fmt: skip
        # keep_start off: the validation labels are the start's own readings, which it reads
        # whole by construction; the judging images decide instead, below.
        # The base model's own input, in the fit it reads the site in: its readings are the
        # labels, and only as it reads them (a wider or colour input chosen for the folder
        # would make it another reader).
        spec = pretrained(current).input
        fields.update(input_width=spec.width, input_height=spec.height, channels=spec.channels, fit=rules["fit"])
        fields.update(plain_options(fields, log=log))
        result = train(TrainConfig(**{k: v for k, v in fields.items() if v is not None}), resume=resume, log=log)
        readings_now = steady_readings(result.best_path, check, config.pseudo_threshold, rules, all_readings=True)
        score = sum(steady for _, steady in readings_now.values()) / len(check)
        overturned = sum(readings_now.get(p, ("", False))[0] != text for p, text in base_readings.items())
        disagree = overturned / max(1, len(base_readings))
        log(f"round {k}: the adapted model reads {score:.1%} of the judging images surely and steadily, and "
            f"reads {overturned} of the base model's {len(base_readings)} sure readings otherwise")  # fmt: skip
        rounds.append({"round": k, "sure_readings": len(readings), "score": score, "overturned": disagree})
        current = result.best_path
    kept = [r for r in rounds if r["score"] >= base_score + MARGIN and r["overturned"] <= MAX_DISAGREE]
    better = max(kept, key=lambda r: r["score"], default=None)
    best = out / "best.pt"
    shutil.copyfile(out / f"round_{better['round']}" / "best.pt" if better else base, best)
    verdict = (
        f"adapted: {better['score']:.1%} of the judging images read surely and steadily, against {base_score:.1%} "
        "by the base model, its sure readings kept. That is judged without labels: before relying on it, label a "
        f"few dozen images and compare (`captcha-break evaluate --data LABELED --model {best}`, and with the base model)"
        if better
        else "kept the base model: no round read the judging images surely and steadily by "
        f"{MARGIN:.0%} more than its {base_score:.1%} while keeping its sure readings "
        f"(label some images: `captcha-break label {config.unlabeled}`)"
    )
    log(verdict)
    report = {"base": str(base), "base_score": base_score, "rounds": rounds, "adapted": better is not None,
              "pool": len(pool), "check": len(check)}  # fmt: skip
    (out / "adapt_report.json").write_text(json.dumps(report, indent=2) + "\n")
    return TrainResult(best_path=best)


def split_images(folder: Path) -> tuple[list[Path], list[Path]]:
    """(images to adapt on, images kept apart to judge by), split by a hash of each name so
    that a rerun or a grown folder splits its images the same way."""
    if not folder.is_dir():
        raise FileNotFoundError(f"--unlabeled: no folder at {folder}")
    pool, check = [], []
    for path in image_files(folder):
        share = int.from_bytes(hashlib.sha256(path.name.encode("utf-8", "surrogateescape")).digest()[:4], "big") / 2**32
        (check if share < CHECK_SHARE else pool).append(path)
    return pool, check


def site_fit(model: Path, images: list[Path], rules: dict, log=print) -> str:
    """The fit the model reads the site in: of the fits its file reads in (read_fits), the one
    it reads a sample of the site's images most surely in, on average. One fit for the site,
    not the reader's choice per image: the fine-tune trains on one input. (On four real sites
    where the fits' accuracies differ, the surer fit was the more accurate one on all four:
    docs/notebook.md, "Reading in both fits".)"""
    from .recognizer import MODEL_FIT

    base = _recognizer(model, {**rules, "fit": MODEL_FIT})
    fits = base.info.read_fits
    if len(fits) == 1:
        return fits[0]
    sample = images[:: max(1, len(images) // FIT_SAMPLE)]
    sureness = {}
    for fit in fits:
        readings = [r for _, r in base.in_fit(fit).read_files(sample) if hasattr(r, "confidence")]
        sureness[fit] = float(np.mean([r.confidence for r in readings])) if readings else 0.0
    chosen = max(sureness, key=sureness.get)
    shares = ", ".join(f"{fit} {value:.1%}" for fit, value in sureness.items())
    log(f"reading the site's images {chosen}: the base model's mean sureness over {len(sample)} of them, {shares}")
    return chosen


def _recognizer(model: Path, rules: dict):
    from .recognizer import MODEL_FIT, TRAINED, Recognizer

    lengths = parse_length(rules["length"]) if rules.get("length") else TRAINED
    return Recognizer.load(model, only_chars=rules.get("chars"), only_length=lengths, fit=rules.get("fit", MODEL_FIT))


def steady_readings(model: Path, images: list[Path], threshold: float, rules: dict, all_readings: bool = False, seed: int = 0):
    """{image: reading} for the `images` that `model` reads at >= `threshold` and reads alike
    in AUGMENTED_VIEWS perturbed copies, a judgement that needs no label; with
    `all_readings`, {image: (reading, whether sure and steady)} for every readable image."""
    import torch

    from .augment import augment
    from .preprocess import ImageError, normalize

    recognizer = _recognizer(model, rules)
    generator = torch.Generator().manual_seed(seed)
    mild = _steady_augment()
    found = {}
    for path in images:
        try:
            pixels = recognizer.pixels(path)
        except ImageError:
            continue
        [plain] = recognizer.predict_arrays([pixels])
        steady = bool(plain.text) and plain.confidence >= threshold
        if steady:
            batch = torch.from_numpy(normalize(np.repeat(pixels[None], AUGMENTED_VIEWS, axis=0)))
            views = (augment(batch, mild, generator).numpy() * 255).round().astype(np.uint8)
            steady = all(v.text == plain.text for v in recognizer.predict_pixels(views))
        if all_readings:
            found[path] = (plain.text, steady)
        elif steady:
            found[path] = plain.text
    return found


def link_folder(folder: Path, readings: list[tuple[Path, str]]) -> Path:
    """A folder of links to the images with a labels.csv of the readings: what `train --data`
    reads, made without writing into the user's folder."""
    import csv

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    rows = []
    for i, (path, text) in enumerate(readings):
        link = folder / f"{i:06d}{path.suffix.lower()}"
        link.symlink_to(path.resolve())
        rows.append((link.name, text))
    with (folder / "labels.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("file", "label"), *rows])
    return folder
