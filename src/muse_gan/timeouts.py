"""Wall-clock limits for third-party code that can take unbounded time on odd input (music21
on some scores: minutes, where the usual is a fraction of a second).

The limit works through SIGALRM, so only in the main thread of a Unix process; elsewhere the
code runs without one. Limits nest: an outer limit that comes due first still fires, as its own
exception, so each caller catches only the expiry it set.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager

RETRY = 0.1  # seconds between alarms once a limit has passed


@contextmanager
def time_limit(seconds: float, error: type[BaseException]):
    """Raises ``error`` in the block once ``seconds`` have passed. Make ``error`` a
    ``BaseException``, so the ``except Exception`` of the code being limited lets it through."""
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer_left and outer_left <= seconds:
        yield  # an outer limit comes due first: let it fire
        return

    def expire(_signal, frame):
        if _in_unraisable_hook(frame):
            return  # raised there, it would break the hook itself; the next alarm comes RETRY later
        raise error(f"no answer after {seconds:g} s")

    outer_handler = signal.signal(signal.SIGALRM, expire)
    started = time.monotonic()
    # Then again every RETRY seconds: an exception raised while a gc callback or __del__ runs is
    # swallowed by Python ("unraisable"), so one alarm alone can be lost.
    signal.setitimer(signal.ITIMER_REAL, seconds, RETRY)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, outer_handler)
        if outer_left:  # the outer limit, less the time spent here
            signal.setitimer(
                signal.ITIMER_REAL, max(outer_left - (time.monotonic() - started), 1e-3)
            )


def _in_unraisable_hook(frame) -> bool:
    """Whether the alarm interrupted ``sys.unraisablehook`` (reporting an exception Python could
    not raise, such as an earlier alarm that landed in a gc callback)."""
    while frame is not None:
        if "unraisable" in frame.f_code.co_name or "unraisable" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False
