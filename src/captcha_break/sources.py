"""Where data comes from, for every command: synthetic captchas or a labeled folder.

- training_data: a TrainConfig -> the train, validation and test data (synthetic captchas
  drawn on the fly each epoch or once and cached; or a folder split deterministically,
  synthetic captchas mixed in if asked);
- labeled_samples: what `evaluate` reads (a folder, or fresh captchas);
- preview_samples: what `plot samples|augment` shows.
torch is imported only for training data, so evaluating never needs it.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .charset import Charset
from .config import TrainConfig
from .folders import Samples, describe, holdout_split, load_folder, load_listed
from .preprocess import InputSpec, to_pixels
from .synth import SynthConfig, draw, draw_arrays, draw_arrays_cached, draw_views

if TYPE_CHECKING:
    from torch.utils.data import Dataset


@dataclass
class DataBundle:
    train: Dataset
    val: Samples
    charset: Charset
    lengths: tuple[int, int]  # the shortest and longest label: what the model learns to read
    test: Samples | None = None
    folder: Samples | None = None  # every labeled image of a folder (None: synthetic data)

    @property
    def max_len(self) -> int:
        return self.lengths[1]


def training_data(config: TrainConfig, spec: InputSpec, charset: Charset | None, log) -> DataBundle:
    return _folder_data(config, spec, charset, log) if config.data else _synthetic_data(config, spec, charset, log)


def _synthetic_data(config: TrainConfig, spec: InputSpec, charset: Charset, log) -> DataBundle:
    from torch.utils.data import ConcatDataset

    from .datasets import ArrayDataset, SyntheticDataset

    synth = synth_config(config, charset.chars, config.length)
    focused = dataclasses.replace(synth, focus=config.focus, focus_weight=config.focus_weight)  # the training stream only
    if config.pregenerate > 0:
        train_set = ArrayDataset(
            Samples(*draw_arrays_cached(focused, spec, f"{config.seed}-train", config.pregenerate, config.workers, progress=True))
        )
    else:
        train_set = SyntheticDataset(focused, spec, f"{config.seed}-train", config.epoch_size)
    if config.pseudo_labels:  # real labeled images beside the drawn ones (a pre-training's corpus)
        train_set = ConcatDataset([train_set, _listed(config, spec, charset, (synth.min_len, synth.max_len), log)])
    pixels, labels = draw_arrays(synth, spec, f"{config.seed}-val", config.val_size, workers=config.workers)
    return DataBundle(train_set, Samples(pixels, labels), charset, (synth.min_len, synth.max_len))


def draws_as_it_trains(config: TrainConfig) -> bool:
    """Whether the run's loader draws captchas each epoch (the costly kind of loading), rather
    than reading a folder or a set drawn once up front."""
    return (config.data is None and config.pregenerate == 0) or config.mix_synthetic > 0


def synth_config(config: TrainConfig, chars: str, length: str) -> SynthConfig:
    """The synthetic captchas a run's config asks for, in `chars` and `length`."""
    return SynthConfig.from_options(chars, length, (config.image_width, config.image_height), config.style, config.fonts)


def _folder_data(config: TrainConfig, spec: InputSpec, charset: Charset | None, log) -> DataBundle:
    from torch.utils.data import ConcatDataset

    from .datasets import ArrayDataset

    loaded = load_folder(config.data, spec, config.label_rule, charset, fold_case=config.fold_case, workers=config.workers)
    samples = loaded.samples
    if len(samples) < 2:
        raise ValueError(f"{config.data}: fewer than 2 usable labeled images")
    charset = charset or Charset.from_labels(samples.labels)
    train_idx, val_idx, test_idx = holdout_split(len(samples), config.val_split, config.test_split, config.seed)
    if len(val_idx) == 0 or len(train_idx) == 0:
        raise ValueError(
            f"{config.data}: {len(samples)} images leave {len(train_idx)} for training and {len(val_idx)} for validation "
            f"(--val-split {config.val_split}, --test-split {config.test_split}): label more images or change the splits"
        )
    log(describe(loaded, charset, {"train": len(train_idx), "validation": len(val_idx), "test": len(test_idx)}))
    test = samples.subset(test_idx) if len(test_idx) else None
    train_set = ArrayDataset(samples.subset(train_idx))
    lengths = [len(samples.labels[i]) for i in (*train_idx, *val_idx)]  # the test split stays unseen
    if config.pseudo_labels:  # training only: validation and test stay the labeled images
        train_set = ConcatDataset([train_set, _listed(config, spec, charset, (min(lengths), max(lengths)), log)])
    if config.mix_synthetic > 0:
        train_set = ConcatDataset([train_set, _mixed_in(config, spec, samples.labels)])
        log(f"mixing {config.mix_synthetic} fresh synthetic captchas into each epoch's {len(train_idx)} images")
    return DataBundle(train_set, samples.subset(val_idx), charset, (min(lengths), max(lengths)), test, samples)


def _listed(config: TrainConfig, spec: InputSpec, charset: Charset, lengths: tuple[int, int], log):
    """--pseudo-labels' images, those whose label the labeled images' charset and lengths allow."""
    from .datasets import ArrayDataset

    listed = load_listed(config.pseudo_labels, spec, config.workers)
    fits = [i for i, label in enumerate(listed.labels)
            if set(label) <= set(charset.chars) and lengths[0] <= len(label) <= lengths[1]]  # fmt: skip
    left_out = f" ({len(listed) - len(fits)} of another charset or length left out)" if len(fits) < len(listed) else ""
    log(f"adding {len(fits)} images of {config.pseudo_labels} to the labeled training images{left_out}")
    return ArrayDataset(listed.subset(fits))


def _mixed_in(config: TrainConfig, spec: InputSpec, labels: list[str]):
    from .datasets import SyntheticDataset

    lengths = [len(label) for label in labels]
    chars = Charset.from_labels(labels).chars
    synth = synth_config(config, chars, f"{min(lengths)}-{max(lengths)}")
    return SyntheticDataset(synth, spec, f"{config.seed}-mix", config.mix_synthetic)


def set_epoch(dataset, epoch: int) -> None:
    """Fresh synthetic captchas every epoch, alone or mixed into a folder's images."""
    from .datasets import parts

    for part in parts(dataset):
        if hasattr(part, "set_epoch"):  # a SyntheticDataset
            part.set_epoch(epoch)


def labeled_samples(
    spec: InputSpec,
    synth: SynthConfig,
    folder: str | None = None,
    count: int = 0,
    seed: str = "eval",
    label_rule: str = "auto",
    charset: Charset | None = None,
    fold_case: bool = False,
    workers: int = 0,
    also: tuple[InputSpec, ...] = (),
) -> Samples:
    """A folder's labeled images (skipped files reported on stderr), or `count` fresh
    captchas of stream `seed`, at the model's input size (fresh ones in the fits `also` too:
    `fresh_samples`)."""
    if folder:
        loaded = load_folder(folder, spec, label_rule, charset, fold_case=fold_case, workers=workers)
        for name, reason in loaded.skipped:
            print(f"skipped {name}: {reason}", file=sys.stderr)
        return loaded.samples
    samples = fresh_samples(spec, count, seed, synth, workers, also)
    if fold_case:
        samples.labels = [label.upper() for label in samples.labels]
    return samples


def fresh_samples(
    spec: InputSpec, count: int, seed: int | str, synth: SynthConfig, workers: int = 2, also: tuple[InputSpec, ...] = ()
) -> Samples:
    """`count` captchas of stream `seed`, at the model's input size; with `also` (the other fits
    a reader reads in: Recognizer.views[1:]), in those too (Samples.others)."""
    others = None
    if also:
        views, labels = draw_views(synth, (spec, *also), seed, count, workers=workers)
        pixels = np.stack([v[0] for v in views]) if views else np.zeros((0, *spec.shape), np.uint8)
        others = [v[1:] for v in views]
    else:
        pixels, labels = draw_arrays(synth, spec, seed, count, workers=workers)
    return Samples(pixels, labels, [f"{label}_{i:06d}" for i, label in enumerate(labels)], others)


def preview_samples(spec: InputSpec, synth: SynthConfig, folder: str | None, count: int, seed: str) -> Samples:
    """The first `count` images of a folder, or `count` drawn ones, to look at. Drawn
    styles whose images vary in size are padded to the spec's size."""
    if folder:
        return load_folder(folder, spec, use_cache=False, limit=count).samples.subset(range(count))
    drawn = [draw(synth, seed, i) for i in range(count)]
    padded = InputSpec(spec.height, spec.width, spec.channels, fit="pad")
    return Samples(np.stack([to_pixels(im, padded) for im, _ in drawn]), [label for _, label in drawn])
