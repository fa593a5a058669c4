"""Files written whole or not at all: checkpoints, labels, cached arrays, readings.

The writes go to a temporary `.NAME.*.tmp` beside the file, fsynced, then renamed over it,
so a process killed mid-write (or a full disk) leaves the previous version whole; the
temporary file of a write that failed is removed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_write(path: str | Path, binary: bool = False, keep_mode: bool = False) -> Iterator[IO]:
    """A file to write `path`'s new contents to (text: UTF-8, newlines as written); they
    replace the file when the block ends without an error. keep_mode: the new file keeps
    the old one's permissions (mkstemp's 0600 would hide a shared folder's file from its users)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if keep_mode:
            os.chmod(tmp, file_mode(path))
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_mode(path: Path) -> int:
    """The mode a rewritten file keeps: the old file's, or a new file's under the umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
