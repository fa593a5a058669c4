"""The plain command: training options chosen from a folder of labeled captchas.

`captcha-break train --data DIR --out RUN` with nothing else looks at the folder (image
sizes and colours, the labels' characters, lengths and count) and picks what a user would
otherwise have to know: the base model to start from, the input size and how images fit
it, grayscale or colour, the charset, the batch size, the rate and the number of epochs.
Every option the user gives wins over the choice. Each choice comes with its reason,
which `train` prints before it starts.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .config import PADDED_FITS
from .folders import holdout_split
from .labels import scan_folder
from .preprocess import CROP_BELOW, crop_to_text, flatten_onto_white, text_box

# Images of a set whose aspect ratios differ by more than this are padded, not stretched.
ASPECT_SPREAD = 1.15
# How many training images a fine-tuning run should see in all, without a time budget:
# enough passes over a small set for augmentation to pay, few over a large one. digits_wave_4
# (3,500 training images) read 99.70% of its test split after 60 epochs against 99.40% after
# the 34 that 120,000 gave (twice, 11 and 15 minutes of the 30 the plain command allows).
TARGET_IMAGES = 240_000
MIN_EPOCHS, MAX_EPOCHS = 8, 60
# ... but at least this many optimizer steps, past MAX_EPOCHS: a few hundred labels make an
# epoch of a few steps, and 60 of them left the model short of training. digits_wave_4's
# label curve (2 CPU cores, one run each, the same 1,000 test images, steps as run): 100
# labels read 91.3% after 120 steps, 95.6% after 1,200, 95.8% after 2,000 (3 runs), 92.8% after
# 2,700, 94.7% after 3,000; 300 labels 95.7% after 480, 97.1% after 2,000, 98.1% and 97.7%
# after 2,672-2,700, 97.9% after 4,000; 1,000 labels 98.9% after 1,680, 98.7% after 2,000
# (3.7 min), 99.2% and 98.8% after 2,688-2,700 (4.5 min), 98.8% after 4,004 (7.6 min).
# Past 2,000 steps the runs differ by their noise, a few test images, and take longer.
MIN_STEPS = 2000
# A stretched set is widened until each character has this many CTC frames, stretching
# its aspect ratio at most MAX_STRETCH times: digits_wave_4's 4 touching digits read 99.37%
# at 24 frames (192 px) against 98.83% at its aspect ratio's 18 (144 px; 3 runs each).
FRAMES_PER_CHAR = 6
MAX_STRETCH = 1.5
# A padded set (widths that vary) gets an input as wide as this share of its images, so
# that only the widest few are squeezed: the wide ones hold the long labels. On a made-up
# site of 4-8 characters (benchmarks/unseen_fonts.py, lines_upper4to8), the median image's
# width (224 px) read 88.50% of the test split and 8-character labels 73.64%; 448 px
# (97% of the images unsqueezed) read 94.17% and 91.47%, at 1.9x the time an image.
PAD_PERCENTILE = 95
# A set is cropped to its text (fit "crop") where the median image's text box is under
# preprocess.CROP_BELOW (70%) of its height: variable_upper's is 56% (300-640 x 80 images),
# digits_wave_4's and henan_digits_4's 100% (91% and 100% for the lowest 5%).

# With a time budget of at least SOUP_MIN_BUDGET seconds, the plain command fine-tunes
# SOUP_MEMBERS models with consecutive seeds, each in an equal share of it, and keeps the
# mean of their weights (soup.py). The plain command with 30 minutes on 2 CPU cores, the
# 20% test split, each soup's figure (its members' in brackets) against single runs:
# digits_wave_4 99.50% (99.30, 99.10) and 99.30% (99.40, 99.00) against 99.30-99.50% in
# five single runs; henan_digits_4 98.57% and 98.52% (98.52, 98.52 both times) against
# 98.62% (its label ceiling: 98.68%); variable_upper 48.17% (46.00, 44.83) and 47.00%
# (43.67, 43.00) against 45.33, 42.50 and 44.50%; benchmarks/unseen_fonts.py's
# library_lower5_jpeg 91.00% (90.67, 91.67) against 90.67 and 90.83%. Within two test
# images of the single runs where they read well already, +2 to +3 points where one run
# is noisiest, for twice the time. Each member still ran all (or nearly all) the epochs a
# single run plans on these sets; under 20 minutes the shares would cut them, which was
# not measured.
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


@dataclass(frozen=True)
class FolderFacts:
    """What the choices are made from."""

    count: int
    aspects: list[float]  # width / height of each image (a sample of them)
    text_heights: list[float]  # the height of the text's box / the image's, of the same images
    text_aspects: list[float]  # width / height of the images cropped to their text (fit "crop")
    colourful: float  # share of sampled images with coloured text or background
    chars: str
    max_len: int

    @classmethod
    def read(cls, folder: str | Path, rule: str = "auto", fold_case: bool = False, sample: int = 400) -> FolderFacts:
        files = scan_folder(folder, rule, fold_case)
        if not files.items:
            raise ValueError(f"{folder}: no labeled images")
        labels = [label for _, label in files.items]
        step = max(1, len(files.items) // sample)
        aspects, colours, text_heights, text_aspects = [], [], [], []
        for path, _ in files.items[::step]:
            try:
                with Image.open(path) as image:
                    width, height = image.size
                    colours.append(_is_colourful(image))
                    rgb = flatten_onto_white(image)
            except (OSError, ValueError):
                continue  # load_folder reports unreadable files; here they just don't count
            box = text_box(rgb)
            cropped = crop_to_text(rgb, box)
            aspects.append(width / height)
            text_heights.append((box[3] - box[1]) / height)
            text_aspects.append(cropped.width / cropped.height)
        if not aspects:
            raise ValueError(f"{folder}: none of the sampled images could be read")
        return cls(
            count=len(labels),
            aspects=aspects,
            text_heights=text_heights,
            text_aspects=text_aspects,
            colourful=float(np.mean(colours)),
            chars="".join(sorted(set("".join(labels)))),
            max_len=max(map(len, labels)),
        )


def _is_colourful(image: Image.Image) -> bool:
    """Whether colour carries anything: some pixels of clearly coloured ink or background.

    Chroma (max - min of R, G, B) at the 99th percentile, not the mean: thin coloured
    strokes on white are a few percent of an image (a mean calls them gray), and unlike
    HSV saturation, chroma stays small for the noise of near-black pixels.
    """
    rgba = image.convert("RGBA")
    rgba.thumbnail((96, 96))
    rgb = np.asarray(Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")).astype(np.int16)
    return float(np.percentile(rgb.max(axis=-1) - rgb.min(axis=-1), 99)) > 40


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
    text_height = statistics.median(facts.text_heights)
    spread = max(facts.aspects) / min(facts.aspects)
    fit = "crop" if text_height < CROP_BELOW else "pad" if spread > ASPECT_SPREAD else "stretch"
    reasons = {
        "crop": f"the text fills {text_height:.0%} of the images' height: crop to it, scale to the height, pad the width",
        "pad": f"aspect ratios vary {spread:.2f}x: scale to the height and pad the width",
        "stretch": f"every image has about the same aspect ratio ({statistics.median(facts.aspects):.2f})",
    }
    choose("fit", fit, reasons[fit])
    fit = str(given.get("fit") or fit)
    crop = fit == "crop"
    aspects = facts.text_aspects if crop else facts.aspects  # of what is scaled to the input
    aspect = statistics.median(aspects)
    # Wide enough to keep the images' aspect ratio, and to give a CTC model two frames per
    # character and one between repeats; a stretched set wider still, for room between
    # touching characters (padding a padded set would add no frames to its text).
    # A padded set's wide images hold its long labels: they are kept, not squeezed.
    if fit in PADDED_FITS:
        wide = float(np.percentile(aspects, PAD_PERCENTILE))
        what = "texts" if crop else "images"
        why = f"aspect ratio up to {wide:.2f} for {PAD_PERCENTILE}% of the {what}, at height {base_height}"
    else:
        wide = aspect
        why = f"median aspect ratio {aspect:.2f} at height {base_height}"
    natural = wide * base_height
    needed = (2 * facts.max_len + 2) * base_stride
    roomy = min(FRAMES_PER_CHAR * facts.max_len * base_stride, MAX_STRETCH * natural) if fit == "stretch" else 0
    width = int(min(512, max(64, _round_up(max(natural, needed, roomy), 16))))
    if roomy > max(natural, needed):
        why += f", stretched {width / natural:.2f}x for up to {FRAMES_PER_CHAR} frames to each of {facts.max_len} characters"
    elif needed > natural:
        why += f", widened for labels of up to {facts.max_len} characters"
    choose("input_width", width, why)
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
    train_images = max(1, len(holdout_split(facts.count, *splits)[0]))
    epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, round(TARGET_IMAGES / train_images)))
    why = f"about {TARGET_IMAGES:,} images seen in all ({train_images:,} training images each epoch)"
    batch = int(given.get("batch_size") or batch)
    enough = math.ceil(MIN_STEPS / max(1, train_images // batch))
    if enough > epochs:
        epochs, why = enough, f"at least {MIN_STEPS:,} steps of {batch} images ({train_images:,} training images each epoch)"
    choose("epochs", epochs, f"{why}; a --time-budget may lower it")
    budget = float(given.get("time_budget") or 0)
    if base and budget >= SOUP_MIN_BUDGET and not given.get("unlabeled"):  # soup.check_soup refuses both
        choose(
            "soup", SOUP_MEMBERS,
            f"a budget of {budget / 60:.0f} min: {SOUP_MEMBERS} fine-tunes with consecutive seeds in equal shares of "
            "it, their weights averaged into one model, which tends to read more than each",
        )  # fmt: skip
    return choices


def _round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)


def parse_duration(text: str) -> float:
    """'30m' -> 1800.0; '1h', '90s', '1.5h'; a bare number is minutes."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        if text and text[-1] in units:
            seconds = float(text[:-1]) * units[text[-1]]
        else:
            seconds = float(text) * 60
    except ValueError:
        raise ValueError(f"a duration is like 30m, 1h or 90s, not {text!r}") from None
    if not seconds > 0:
        raise ValueError(f"a duration must be positive, not {text!r}")
    return seconds


def epochs_within(budget_s: float, seconds_per_image: float, train_images: int, epochs: int) -> int:
    """The most epochs (at most `epochs`) that fit in `budget_s`, at least one."""
    per_epoch = max(1e-9, seconds_per_image * train_images)
    return max(1, min(epochs, int(budget_s // per_epoch)))


# How far a time budget's plan may stray from what the epochs measured before it moves:
# a share of the epochs that fit, and at least a quarter of an epoch before it grows.
PLAN_TOLERANCE = 0.1
GROW_MARGIN = 0.25


def replanned_epochs(done: int, planned: int, ceiling: int, left_s: float, epoch_s: float) -> int:
    """A time-budgeted run's plan again, from what its epochs really take: `done` epochs run
    of the `planned`, at most `ceiling` in all, `left_s` seconds left at `epoch_s` an epoch.

    The probe that made the plan times a few steps; the epochs that follow may run slower
    (workers drawing beside the training threads) or faster. A run cut by its budget before
    its schedule has annealed keeps weights trained at a high rate: on a made-up site the
    second stage of `--unlabeled` planned 19 epochs from a probe of 127 images/s, ran at
    about 95, and was stopped after 16 at 8% of the peak rate. Re-planned after every epoch,
    the schedule is squeezed or stretched to end with the budget; a plan that grows late
    raises a falling rate a little, which costs less than time left unused.

    The plan stays while it is within PLAN_TOLERANCE of the epochs that fit: epochs' lengths
    wobble by 10-20% (10-14 s on a 2-core CPU), and a plan that followed every wobble moved
    23 times in a 52-epoch run, and swung a 9-epoch GPU run to 8 and back, its rate down to
    5% of the peak two epochs before the end. An overrun is tolerated only on the epochs
    before the last two, so that a plan that overruns is cut while its schedule can still be
    squeezed: kept into the last epoch, the budget stops it early (a GPU run that kept a plan
    one epoch too long stopped at 13% of its peak rate; a test's 10-s run, a tenth of an
    epoch over, was stopped before its last epoch). In a simulation of 2,000 runs with
    epochs wobbling by 10%, that tolerance ended 95% of them annealed, against 90% with a
    tolerance of a tenth of all the epochs that fit, for 0.04 epoch more left unused."""
    fit = max(0.0, left_s) / max(epoch_s, 1e-9)
    remaining, tolerance = planned - done, PLAN_TOLERANCE * fit
    overrun = PLAN_TOLERANCE * max(0.0, fit - 2)
    if remaining > fit + overrun or fit - remaining > 1 + max(GROW_MARGIN, tolerance):
        return max(done, min(ceiling, done + int(fit)))
    return min(planned, ceiling)


def pace(step_s: float, fetch_s: float, workers: int) -> float:
    """Seconds per training image when each image costs `step_s` of the training step and
    `fetch_s` to load (draw, decode) in one process: loader workers load while the model
    trains, so the slower side sets the pace; without workers the two add up (on a GPU,
    drawing is the slower side: device.share_cores)."""
    if workers <= 0:
        return step_s + fetch_s
    return max(step_s, fetch_s / workers)


def plain_options(fields: dict, scratch: bool = False, log=print) -> dict:
    """The plain command: the options of `fields` (TrainConfig's, None where unset) that the
    user left unset, chosen from the folder `fields["data"]`, each choice logged with its
    reason; `scratch` (--init none): for a model trained from nothing instead of fine-tuned."""
    from .assets import DEFAULT_MODEL
    from .config import TrainConfig
    from .finetune import base_model_facts, frame_stride
    from .models import default_config

    known = TrainConfig(**{k: v for k, v in fields.items() if v is not None})  # defaults filled in
    facts = FolderFacts.read(known.data, known.label_rule, known.fold_case)
    if scratch:
        base = None
        config = default_config(scratch_model(fields), 2, facts.max_len)
        height, stride = config.height, frame_stride(config)
    else:
        base = fields["init"] or DEFAULT_MODEL
        height, stride = base_model_facts(base)
    chosen = {}
    for choice in plan(facts, height, stride, fields, base, (known.val_split, known.test_split)):
        log(f"chose {choice.option} = {choice.value}: {choice.why}")
        chosen[choice.option] = choice.value
    return chosen
