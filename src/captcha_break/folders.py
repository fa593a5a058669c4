"""Folders of labeled images -> arrays, with an on-disk cache so reuse is fast.

Decoding thousands of PNGs costs far more than reading one .npy file, so a folder's pixels
are cached (see cache.py), keyed by the files' names, sizes and times and by the input
spec: a changed folder is re-read, and the user's folder is never written to.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .cache import cache_key, load_arrays, save_arrays
from .charset import Charset, LabelError
from .decode import open_image
from .labels import read_labels_file, scan_folder
from .pool import fork_map
from .preprocess import ImageError, InputSpec, to_pixels


@dataclass
class Samples:
    """Images already resized to a model's input, with their labels."""

    pixels: np.ndarray  # uint8 (N, C, H, W)
    labels: list[str]
    names: list[str] = field(default_factory=list)
    # Each image in a reader's other fits (Recognizer.inputs after the first), where it reads several.
    others: list[list[np.ndarray]] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray | list[int]) -> Samples:
        index = np.asarray(index, dtype=np.int64)
        names = [self.names[i] for i in index] if self.names else []
        others = [self.others[i] for i in index] if self.others is not None else None
        return Samples(self.pixels[index], [self.labels[i] for i in index], names, others)


@dataclass
class FolderData:
    samples: Samples
    skipped: list[tuple[str, str]]  # (file name, reason)
    sizes: list[tuple[int, int]] = field(default_factory=list)  # original (width, height) of each sample
    notes: list[str] = field(default_factory=list)  # duplicate rows, odd labels: see labels.scan_folder
    source: str = ""  # where the labels came from (labels.scan_folder)


def describe(data: FolderData, charset: Charset, splits: dict[str, int]) -> str:
    """The summary printed before training: counts, charset, lengths, sizes, skipped files."""
    lengths = Counter(len(label) for label in data.samples.labels)
    sizes = Counter(data.sizes).most_common(5)
    lines = [
        f"{len(data.samples)} labeled images (labels from {data.source}): "
        + ", ".join(f"{n} {name}" for name, n in splits.items()),
        f"charset ({len(charset)}): {charset.chars}",
        "label lengths: " + ", ".join(f"{k}: {v}" for k, v in sorted(lengths.items())),
        "image sizes: " + ", ".join(f"{w}x{h}: {n}" for (w, h), n in sizes) + (" ..." if len(set(data.sizes)) > 5 else ""),
        _skipped(data.skipped),
        *(f"note: {note}" for note in data.notes),
    ]
    return "\n".join(lines)


def _skipped(skipped: list[tuple[str, str]], shown: int = 20) -> str:
    """'skipped: N (counts by reason)' and the first `shown` files: a half-labeled folder of
    thousands of images must not print a line for each."""
    if not skipped:
        return "skipped: 0"
    reasons = Counter(reason for _, reason in skipped).most_common()
    head = f"skipped: {len(skipped)} (" + ", ".join(f"{n} {reason}" for reason, n in reasons) + ")"
    listed = "".join(f"\n  {name}: {reason}" for name, reason in skipped[:shown])
    more = f"\n  ... and {len(skipped) - shown} more" if len(skipped) > shown else ""
    return head + listed + more


def load_folder(
    folder: str | Path,
    spec: InputSpec,
    rule: str = "auto",
    charset: Charset | None = None,
    fold_case: bool = False,
    workers: int = 0,
    use_cache: bool = True,
    limit: int | None = None,
) -> FolderData:
    """Read every labeled image of `folder`; unreadable ones and labels outside `charset`
    are skipped with a reason, never silently."""
    files = scan_folder(folder, rule, fold_case)
    skipped = list(files.skipped)
    items = []
    for path, label in files.items:
        try:
            if charset is not None:
                charset.check(label)
            items.append((path, label))
        except LabelError as err:
            skipped.append((path.name, str(err)))
    items = items[:limit]  # the first `limit` usable files, in name order (a preview)
    samples, unreadable, sizes = _load_items(items, spec, workers, use_cache)
    return FolderData(samples, skipped + unreadable, sizes, files.notes, files.source)


def load_listed(path: str | Path, spec: InputSpec, workers: int = 0) -> Samples:
    """The images a labels file lists by path (`file,label` rows; a path relative to the
    file's folder or absolute), at `spec`; an image that cannot be read is left out."""
    path = Path(path)
    items = [(path.parent / name, label) for name, label in read_labels_file(path).items()]
    return _load_items(items, spec, workers)[0]


def _load_items(items: list[tuple[Path, str]], spec: InputSpec, workers: int, use_cache: bool = True):
    """(Samples, unreadable (name, reason), sizes) of `items`, decoded once and cached."""
    key = _cache_key(items, spec)
    cached = _read_cache(key) if use_cache else None
    if cached is None:
        cached = _decode_all(items, spec, workers)
        if use_cache:
            _write_cache(key, cached)
    return cached


def _load_one(job: tuple[Path, InputSpec]) -> tuple[np.ndarray, tuple[int, int]] | str:
    path, spec = job
    try:
        image = open_image(path)
        return to_pixels(image, spec), image.size
    except ImageError as err:
        return str(err)


def _decode_all(items: list[tuple[Path, str]], spec: InputSpec, workers: int) -> tuple[Samples, list, list]:
    results = fork_map(_load_one, [(path, spec) for path, _ in items], workers, min_jobs=256)
    good = [(r, item) for r, item in zip(results, items) if not isinstance(r, str)]
    bad = [(path.name, r) for r, (path, _) in zip(results, items) if isinstance(r, str)]
    pixels = np.stack([r[0] for r, _ in good]) if good else np.zeros((0, *spec.shape), np.uint8)
    samples = Samples(pixels, [label for _, (_, label) in good], [path.name for _, (path, _) in good])
    return samples, bad, [r[1] for r, _ in good]


def _cache_key(items: list[tuple[Path, str]], spec: InputSpec) -> str:
    stats = [(str(path.resolve()), label, path.stat().st_size, path.stat().st_mtime_ns) for path, label in items]
    return cache_key(spec, stats)


def _read_cache(key: str) -> tuple[Samples, list, list] | None:
    found = load_arrays("folders", key)
    if found is None or "sizes" not in found[1]:
        return None
    pixels, meta = found
    sizes = [tuple(s) for s in meta["sizes"]]
    return Samples(pixels, meta["labels"], meta["names"]), [tuple(s) for s in meta["skipped"]], sizes


def _write_cache(key: str, cached: tuple[Samples, list, list]) -> None:
    samples, skipped, sizes = cached
    meta = {"labels": samples.labels, "names": samples.names, "skipped": skipped, "sizes": sizes}
    save_arrays("folders", key, samples.pixels, meta)


def holdout_split(n: int, val_split: float, test_split: float, seed: int = 0) -> list[np.ndarray]:
    """[train, val, test] indices of n labeled images. The test split is a fixed rule (the
    first `test_split` of a seed-0 shuffle), so runs with another --seed or --val-split
    are scored on the same images; the validation split is drawn from the rest by `seed`."""
    if val_split + test_split >= 1 or min(val_split, test_split) < 0:
        raise ValueError(f"--val-split {val_split} and --test-split {test_split} must be >= 0 and leave images to train on")
    rest, test = split_indices(n, (test_split,), seed=0)
    train, val = split_indices(len(rest), (val_split / (1 - test_split),), seed=seed)
    return [np.sort(rest[train]), np.sort(rest[val]), test]


def split_indices(n: int, fractions: tuple[float, ...], seed: int = 0) -> list[np.ndarray]:
    """A deterministic shuffle of range(n) cut into [rest, *parts]: part i holds
    fractions[i] of the items, rest the remainder; (0.1, 0.1) -> train 80%, val 10%, test 10%."""
    if sum(fractions) >= 1 or any(f < 0 for f in fractions):
        raise ValueError(f"split fractions {fractions} must be >= 0 and sum to less than 1")
    order = np.random.default_rng(seed).permutation(n)
    sizes = [int(round(f * n)) for f in fractions]
    cuts = np.cumsum(sizes)
    parts = np.split(order, cuts)
    return [np.sort(p) for p in [parts[-1], *parts[:-1]]]
