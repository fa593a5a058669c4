"""On-disk cache of decoded pixel arrays, so a data set is decoded or drawn only once.

Entries live under $CAPTCHA_BREAK_CACHE (default ~/.cache/captcha_break) and are keyed by
whatever defines their content (file stats, seeds, the input spec). Each entry is a .npy
of uint8 pixels, memory-mapped on read, and a JSON file written last: an entry without
its JSON, or whose sizes disagree, counts as absent and is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .atomic import atomic_write


def cache_root() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "captcha_break"
    return Path(os.environ.get("CAPTCHA_BREAK_CACHE", default))


def cache_key(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(repr(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def load_arrays(kind: str, key: str) -> tuple[np.ndarray, dict] | None:
    base = cache_root() / kind / key
    try:
        meta = json.loads((base / "meta.json").read_text())
        pixels = np.load(base / "pixels.npy", mmap_mode="r")
    except (OSError, ValueError):
        return None
    if len(pixels) != meta.get("count"):
        return None
    return pixels, meta


def save_arrays(kind: str, key: str, pixels: np.ndarray, meta: dict) -> None:
    """Best effort: a cache that cannot be written only costs time next run."""
    base = cache_root() / kind / key
    try:
        base.mkdir(parents=True, exist_ok=True)
        with atomic_write(base / "pixels.npy", binary=True) as f:
            np.save(f, pixels)
        with atomic_write(base / "meta.json") as f:  # last: a cache is complete when its meta is there
            f.write(json.dumps({**meta, "count": len(pixels)}))
    except OSError:
        pass


def remove_arrays(kind: str, key: str) -> None:
    """Delete an entry if it is there (best effort, like writing one)."""
    base = cache_root() / kind / key
    for name in ("meta.json", "pixels.npy"):
        try:
            (base / name).unlink()
        except OSError:
            pass
    try:
        base.rmdir()
    except OSError:
        pass
