"""The plain command: training options chosen from a folder of labeled captchas.

`captcha-break train --data DIR --out RUN` with nothing else looks at the folder (image
sizes and colours, the labels' characters, lengths and count) and picks what a user would
otherwise have to know: the base model to start from, the input size and how images fit
it, grayscale or colour, the charset, the batch size, the rate and the number of epochs.
Every option the user gives wins over the choice. Each choice comes with its reason,
which `train` prints before it starts.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .assets import DEFAULT_MODEL
from .config import PADDED_FITS, TrainConfig
from .finetune import frame_stride, pretrained
from .folderfacts import FolderFacts
from .folders import holdout_split
from .preprocess import CROP_BELOW
from .runfolder import merge_resumed

# Images of a set whose aspect ratios differ by more than this are padded, not stretched.
ASPECT_SPREAD = 1.15
# How many training images a fine-tuning run should see in all, without a time budget:
# enough passes over a small set for augmentation to pay, few over a large one. The measured
# curves behind this and the constants below: docs/notebook.md, "The plain command's constants".
TARGET_IMAGES = 240_000
MIN_EPOCHS, MAX_EPOCHS = 8, 60
# ... but at least this many optimizer steps, past MAX_EPOCHS: a few hundred labels make an
# epoch of a few steps, and 60 of them left the model short of training; past this many the
# runs differed only by their noise, and took longer.
MIN_STEPS = 2000
# A stretched set is widened until each character has this many CTC frames, stretching
# its aspect ratio at most MAX_STRETCH times: touching characters need frames to tell apart.
FRAMES_PER_CHAR = 6
MAX_STRETCH = 1.5
# A padded set (widths that vary) gets an input as wide as this share of its images, so
# that only the widest few are squeezed: the wide ones hold the long labels.
PAD_PERCENTILE = 95
# A set is cropped to its text (fit "crop") where the median image's text box is under
# preprocess.CROP_BELOW of its height.

# With a time budget of at least SOUP_MIN_BUDGET seconds, the plain command fine-tunes
# SOUP_MEMBERS models with consecutive seeds, each in an equal share of it, and keeps the
# mean of their weights (soup.py): as good as single runs where they read well already,
# better where one run is noisiest, for twice the time (docs/notebook.md, "Soups"). Under
# SOUP_MIN_BUDGET the members' shares would cut their epochs.
SOUP_MEMBERS = 2
SOUP_MIN_BUDGET = 20 * 60
# What `--init none` trains from nothing: the CPU-fast CTC model that reads any width.
SCRATCH_MODEL = "crnn_lite"


def scratch_model(given: dict[str, object]) -> str:
    """The model `--init none` trains: the user's --model, else SCRATCH_MODEL. One
    function, because the input size is planned for it before `plan` records the choice."""
    return str(given.get("model") or SCRATCH_MODEL)


@dataclass(frozen=True)
class Choice:
    option: str  # the TrainConfig field
    value: object
    why: str


def plan(
    facts: FolderFacts,
    base_height: int,
    base_stride: int,
    given: dict[str, object],
    base: str | None,
    splits: tuple[float, float],
) -> list[Choice]:
    """The options the user left unset (None in `given`), chosen from `facts`.

    base: the model fine-tuned from, or None to train from nothing (`--init none`).
    base_height: the input height of that model (or of the one trained from nothing);
    base_stride: how many pixels of width make one CTC frame in it (so the input can be
    wide enough for the labels).
    splits: the run's (val_split, test_split); the epochs are counted in the images left to
    train on, split as the run will split them.
    """
    choices: list[Choice] = []

    def choose(option: str, value: object, why: str) -> None:
        if given.get(option) is None:
            choices.append(Choice(option, value, why))

    about = {"general": "the broad pretrained model: it already reads many fonts and styles"}
    if base is None:
        choose("model", scratch_model(given), "from nothing (--init none): the CPU-fast CTC model that reads any width")
    else:
        choose("init", base, f"start from {about.get(base, base)}")
    choose("chars", facts.chars, f"the {len(facts.chars)} characters the labels use (case kept as labeled)")
    choose("fit", *_fit(facts))
    fit = str(given.get("fit") or _fit(facts)[0])
    choose("input_width", *_width(facts, fit, base_height, base_stride))
    channels = 3 if facts.colourful > 0.2 else 1
    choose(
        "channels", channels,
        f"{facts.colourful:.0%} of the sampled images are in colour: "
        + ("colour can tell text from clutter" if channels == 3 else "grayscale"),
    )  # fmt: skip
    batch = 32 if facts.count < 5000 else 64
    choose("batch_size", batch, f"{facts.count} labeled images")
    choose(
        "lr", 1e-3,
        "a fine-tuning rate: high enough to adapt in minutes, low enough not to forget" if base
        else "the rate the CPU models train well at from nothing",
    )  # fmt: skip
    choose("schedule", "onecycle", "warm up, then anneal to the best weights by the last epoch")
    choose("epochs", *_epochs(facts, splits, int(given.get("batch_size") or batch)))
    budget = float(given.get("time_budget") or 0)
    if base and budget >= SOUP_MIN_BUDGET and not given.get("unlabeled"):  # TrainConfig refuses both
        choose(
            "soup", SOUP_MEMBERS,
            f"a budget of {budget / 60:.0f} min: {SOUP_MEMBERS} fine-tunes with consecutive seeds in equal shares of "
            "it, their weights averaged into one model, which tends to read more than each",
        )  # fmt: skip
    return choices


def _fit(facts: FolderFacts) -> tuple[str, str]:
    """How images become the input (fit), and why."""
    text_height = statistics.median(facts.text_heights)
    spread = max(facts.aspects) / min(facts.aspects)
    fit = "crop" if text_height < CROP_BELOW else "pad" if spread > ASPECT_SPREAD else "stretch"
    reasons = {
        "crop": f"the text fills {text_height:.0%} of the images' height: crop to it, scale to the height, pad the width",
        "pad": f"aspect ratios vary {spread:.2f}x: scale to the height and pad the width",
        "stretch": f"every image has about the same aspect ratio ({statistics.median(facts.aspects):.2f})",
    }
    return fit, reasons[fit]


def _width(facts: FolderFacts, fit: str, base_height: int, base_stride: int) -> tuple[int, str]:
    """The input width, and why: wide enough to keep the images' aspect ratio, and to give a
    CTC model two frames per character and one between repeats; a stretched set wider
    still, for room between touching characters (padding a padded set would add no frames
    to its text). A padded set's wide images hold its long labels: they are kept, not squeezed."""
    crop = fit == "crop"
    aspects = facts.text_aspects if crop else facts.aspects  # of what is scaled to the input
    if fit in PADDED_FITS:
        wide = float(np.percentile(aspects, PAD_PERCENTILE))
        why = (
            f"aspect ratio up to {wide:.2f} for {PAD_PERCENTILE}% of the {'texts' if crop else 'images'}, at height {base_height}"
        )
    else:
        wide = statistics.median(aspects)
        why = f"median aspect ratio {wide:.2f} at height {base_height}"
    natural = wide * base_height
    needed = (2 * facts.max_len + 2) * base_stride
    roomy = min(FRAMES_PER_CHAR * facts.max_len * base_stride, MAX_STRETCH * natural) if fit == "stretch" else 0
    width = int(min(512, max(64, _round_up(max(natural, needed, roomy), 16))))
    if roomy > max(natural, needed):
        why += f", stretched {width / natural:.2f}x for up to {FRAMES_PER_CHAR} frames to each of {facts.max_len} characters"
    elif needed > natural:
        why += f", widened for labels of up to {facts.max_len} characters"
    return width, why


def _epochs(facts: FolderFacts, splits: tuple[float, float], batch: int) -> tuple[int, str]:
    """The epochs, and why: about TARGET_IMAGES seen in all, at least MIN_STEPS steps."""
    train_images = max(1, len(holdout_split(facts.count, *splits)[0]))
    epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, round(TARGET_IMAGES / train_images)))
    why = f"about {TARGET_IMAGES:,} images seen in all ({train_images:,} training images each epoch)"
    enough = math.ceil(MIN_STEPS / max(1, train_images // batch))
    if enough > epochs:
        epochs, why = enough, f"at least {MIN_STEPS:,} steps of {batch} images ({train_images:,} training images each epoch)"
    return epochs, f"{why}; a --time-budget may lower it"


def _round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)


def resolve(fields: dict, resume: bool = False, log=print) -> TrainConfig:
    """The plain command: the TrainConfig of `train`'s options (`fields`: TrainConfig's
    fields, None where the user left them unset). With --data, what is unset is chosen from
    the folder (plan), each choice logged with its reason; `--init none` trains from
    nothing; a resumed soup is taken as it was planned."""
    scratch = fields["init"] == "none"  # train from scratch, as asked: no base model
    if scratch:
        fields["init"] = None
    elif fields["model"] and not resume:
        scratch = _model_without_base(fields, log)
    if fields["data"] and not resume:
        fields.update(plain_options(fields, scratch, log))
    if fields["model"] is None and fields["init"] and not resume:
        fields["model"] = pretrained(fields["init"]).model_name  # what trains, in config.json and --print-config
    config = TrainConfig(**{k: v for k, v in fields.items() if v is not None})  # unset: TrainConfig's defaults
    if resume and fields["out"] and (stored := stored_soup(config, given_names(fields))):
        config = stored
    return config


def given_names(fields: dict) -> frozenset[str]:
    """The options the command gave (set in `fields`): what a resumed run may change."""
    return frozenset(name for name, value in fields.items() if value is not None)


def run(config: TrainConfig, resume: bool = False, rules: dict | None = None, given: frozenset[str] | None = None):
    """Train as `config` asks: label-free adaptation (--unlabeled without --data),
    self-training (--unlabeled with --data), a soup (--soup N) or one run. rules: the
    site's {"chars", "length", "lr"} as the user gave them, for adaptation; given: the
    options the command gave (given_names), which a resumed run takes."""
    if config.unlabeled and not config.data:
        from .adapt import adapt

        return adapt(config, resume=resume, rules=rules)
    if config.unlabeled:
        from .selftrain import self_train

        return self_train(config, resume=resume)
    if config.soup > 1:
        from .soup import soup_train

        return soup_train(config, resume=resume)
    from .train import train

    return train(config, resume=resume, given=given)


def stored_soup(given: TrainConfig, names: frozenset[str] | None = None) -> TrainConfig | None:
    """The soup run in `given.out` as it was planned, with how it runs taken from the
    command that resumes it (`given`: --workers, --threads, a moved folder...), for
    --resume: None where that folder holds no soup."""
    out = Path(given.out)
    path = out / "config.json"
    if (out / "last.pt").exists() or not path.exists():
        return None
    stored = TrainConfig.from_saved(json.loads(path.read_text()))
    if stored.soup == 1:
        return None
    # The folder it is in now: a run folder that was moved resumes where it is.
    return dataclasses.replace(merge_resumed(stored, given, given=names), out=str(out))


def _model_without_base(fields: dict, log) -> bool:
    """--model with a base model of another architecture: an error where --init named
    that base, else (the plain command's own choice of base) the model trains from nothing.
    True when it does; fine-tuning would otherwise replace the asked-for model unseen."""
    base = fields["init"] or (DEFAULT_MODEL if fields["data"] else None)
    if base is None:
        return False
    architecture = pretrained(base).model_name
    if architecture == fields["model"]:
        return False
    if fields["init"]:
        raise ValueError(
            f"--model {fields['model']} and --init {base} disagree: {base} is a {architecture}. Leave out --model "
            f"to fine-tune {base}, or pass --init none to train {fields['model']} from nothing"
        )
    log(f"chose init = none: --model {fields['model']} is not the base model's architecture ({base} is a {architecture})")
    return True


def plain_options(fields: dict, scratch: bool = False, log=print) -> dict:
    """The plain command: the options of `fields` (TrainConfig's, None where unset) that the
    user left unset, chosen from the folder `fields["data"]`, each choice logged with its
    reason; `scratch` (--init none): for a model trained from nothing instead of fine-tuned."""
    from .models import default_config

    known = TrainConfig(**{k: v for k, v in fields.items() if v is not None})  # defaults filled in
    facts = FolderFacts.read(known.data, known.label_rule, known.fold_case)
    if scratch:
        base = None
        config = default_config(scratch_model(fields), 2, facts.max_len)
        height, stride = config.height, frame_stride(config)
    else:
        base = fields["init"] or DEFAULT_MODEL
        checkpoint = pretrained(base)
        height, stride = checkpoint.input.height, frame_stride(checkpoint.config)
    chosen = {}
    for choice in plan(facts, height, stride, fields, base, (known.val_split, known.test_split)):
        log(f"chose {choice.option} = {choice.value}: {choice.why}")
        chosen[choice.option] = choice.value
    return chosen
