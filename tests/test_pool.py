import signal

from captcha_break.pool import fork_map


def _raise(signum, frame):
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def _too_long(signum, frame):
    raise TimeoutError("the pool never ended")


def test_workers_end_quietly_under_a_parents_sigterm_handler(capfd):
    # A benchmark or service that turns SIGTERM into an exception for itself: the pool's
    # own SIGTERMs to its idle workers at the end must neither print their tracebacks nor
    # leave the pool waiting forever for a worker that raised with its queue's lock held.
    previous = signal.signal(signal.SIGTERM, _raise), signal.signal(signal.SIGALRM, _too_long)
    signal.alarm(60)
    try:
        for _ in range(4):  # a worker fails only where the signal finds it holding a lock: try a few
            assert fork_map(abs, list(range(-100, 100)), workers=2) == [abs(i) for i in range(-100, 100)]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGALRM, previous[1])
    assert "Traceback" not in capfd.readouterr().err
