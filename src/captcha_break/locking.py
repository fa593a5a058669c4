"""One process at a time in a folder: a lock file held with flock for the process's life.

A training run holds its run folder (two runs would overwrite each other's checkpoints), a
labeling server its image folder (two servers would drop each other's answers). The lock
goes with the process, so a killed one leaves nothing to clean up.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive(lock_path: Path, what: str) -> Iterator[None]:
    """Hold `lock_path` while the block runs; FileExistsError naming the holder's process
    if another one holds it. `what` says who holds it ("another training run")."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            raise FileExistsError(f"{lock_path.parent} is in use by {what} (process {holder}): wait for it or stop it") from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield
