"""Tests for muse_gan.timeouts: wall-clock limits that nest."""

import signal
import time

import pytest

from muse_gan.timeouts import time_limit


class Inner(BaseException):
    pass


class Outer(BaseException):
    pass


def spin(seconds: float) -> None:
    """Busy Python code, as music21 is when it slows down."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_a_block_over_its_limit_is_stopped():
    started = time.monotonic()
    with pytest.raises(Inner, match="no answer after 0.2 s"):
        with time_limit(0.2, Inner):
            spin(5)
    assert time.monotonic() - started < 2


def test_a_block_within_its_limit_runs_to_the_end_and_leaves_no_timer():
    with time_limit(5, Inner):
        spin(0.05)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_an_outer_limit_due_first_fires_as_its_own_error():
    with pytest.raises(Outer):
        with time_limit(0.2, Outer):
            with time_limit(10, Inner):
                spin(5)


def test_the_outer_limit_still_holds_after_an_inner_one():
    with pytest.raises(Outer):
        with time_limit(0.5, Outer):
            with time_limit(0.1, Inner):
                spin(0.01)
            spin(5)


# Python reports the exception it drops in a gc callback as "unraisable": expected here, not a fault.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_alarm_swallowed_in_a_gc_callback_comes_again():
    import gc

    def slow_callback(phase, info):  # the alarm lands here; Python reports and drops its exception
        spin(0.3)

    gc.callbacks.append(slow_callback)
    try:
        with pytest.raises(Inner):
            with time_limit(0.1, Inner):
                gc.collect()  # the first alarm comes during the callback
                spin(5)
    finally:
        gc.callbacks.remove(slow_callback)
