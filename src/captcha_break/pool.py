"""Map a function over jobs in worker processes, in order: drawing and decoding share it."""

from __future__ import annotations

import signal
from collections.abc import Callable
from multiprocessing import get_context


def fork_map(fn: Callable, jobs: list, workers: int, min_jobs: int = 64) -> list:
    """[fn(job) for job in jobs], in `workers` forked processes when that pays.

    fork: workers inherit what the parent loaded (fonts, the captcha generator) instead of
    loading it again; chunks of about an eighth of a worker's share keep the load even.
    """
    if workers <= 1 or len(jobs) < min_jobs:
        return [fn(job) for job in jobs]
    with get_context("fork").Pool(workers, initializer=_quiet_on_sigterm) as pool:
        return pool.map(fn, jobs, chunksize=max(1, len(jobs) // (workers * 8)))


def _quiet_on_sigterm() -> None:
    # The pool ends its workers with SIGTERM; a handler the parent set for itself (one
    # that raises, say) would print a traceback from each of them instead of a quiet exit.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
