"""Folders of labeled images -> arrays, with an on-disk cache so reuse is fast.

Decoding thousands of PNGs costs far more than reading one .npy file, so a folder's pixels
are cached (see cache.py), keyed by the files' names, sizes and times and by the input
spec: a changed folder is re-read, and the user's folder is never written to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from .cache import cache_key, load_arrays, save_arrays
from .charset import Charset, LabelError
from .labels import scan_folder
from .preprocess import ImageError, InputSpec, to_pixels


@dataclass
class Samples:
    """Images already resized to a model's input, with their labels."""

    pixels: np.ndarray  # uint8 (N, C, H, W)
    labels: list[str]
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray | list[int]) -> Samples:
        index = np.asarray(index, dtype=np.int64)
        names = [self.names[i] for i in index] if self.names else []
        return Samples(self.pixels[index], [self.labels[i] for i in index], names)


@dataclass
class FolderData:
    samples: Samples
    skipped: list[tuple[str, str]]  # (file name, reason)


def load_folder(
    folder: str | Path,
    spec: InputSpec,
    rule: str = "auto",
    charset: Charset | None = None,
    fold_case: bool = False,
    workers: int = 0,
    use_cache: bool = True,
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
    key = _cache_key(items, spec)
    cached = _read_cache(key) if use_cache else None
    if cached is None:
        cached = _decode_all(items, spec, workers)
        if use_cache:
            _write_cache(key, cached)
    samples, unreadable = cached
    return FolderData(samples, skipped + unreadable)


def _load_one(job: tuple[Path, InputSpec]) -> np.ndarray | str:
    path, spec = job
    try:
        return to_pixels(path, spec)
    except ImageError as err:
        return str(err)


def _decode_all(items: list[tuple[Path, str]], spec: InputSpec, workers: int) -> tuple[Samples, list]:
    jobs = [(path, spec) for path, _ in items]
    if workers > 1 and len(jobs) > 256:
        with get_context("fork").Pool(workers) as pool:
            results = pool.map(_load_one, jobs, chunksize=64)
    else:
        results = [_load_one(job) for job in jobs]
    good = [(r, item) for r, item in zip(results, items) if isinstance(r, np.ndarray)]
    bad = [(path.name, r) for r, (path, _) in zip(results, items) if isinstance(r, str)]
    pixels = np.stack([r for r, _ in good]) if good else np.zeros((0, *spec.shape), np.uint8)
    samples = Samples(pixels, [label for _, (_, label) in good], [path.name for _, (path, _) in good])
    return samples, bad


def _cache_key(items: list[tuple[Path, str]], spec: InputSpec) -> str:
    stats = [(str(path.resolve()), label, path.stat().st_size, path.stat().st_mtime_ns) for path, label in items]
    return cache_key(spec, stats)


def _read_cache(key: str) -> tuple[Samples, list] | None:
    found = load_arrays("folders", key)
    if found is None:
        return None
    pixels, meta = found
    return Samples(pixels, meta["labels"], meta["names"]), [tuple(s) for s in meta["skipped"]]


def _write_cache(key: str, cached: tuple[Samples, list]) -> None:
    samples, skipped = cached
    save_arrays("folders", key, samples.pixels, {"labels": samples.labels, "names": samples.names, "skipped": skipped})


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
