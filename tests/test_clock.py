"""The clock seam: the system clock and the fake one tests inject."""

from __future__ import annotations

import time

from asgi_guard.clock import SYSTEM_CLOCK, Clock, SystemClock
from asgi_guard.testing import FakeClock


def test_system_clock_reads_real_time() -> None:
    """SystemClock.time is wall time and monotonic never goes backwards."""
    before = time.time()
    now = SYSTEM_CLOCK.time()
    assert before <= now <= time.time()
    first = SYSTEM_CLOCK.monotonic()
    assert SYSTEM_CLOCK.monotonic() >= first
    assert isinstance(SYSTEM_CLOCK, SystemClock)


def test_fake_clock_moves_only_when_told() -> None:
    """FakeClock stands still until advanced, and both readings move together."""
    clock: Clock = FakeClock(start=100.0)
    assert isinstance(clock, FakeClock)
    assert clock.time() == clock.time() == 100.0
    mono = clock.monotonic()
    clock.advance(2.5)
    assert (clock.time(), clock.monotonic()) == (102.5, mono + 2.5)


def test_fake_clock_set_never_moves_monotonic_back() -> None:
    """FakeClock.set jumps the wall clock; the monotonic clock follows forward jumps only."""
    clock = FakeClock(start=1000.0)
    mono = clock.monotonic()
    clock.set(1010.0)
    assert (clock.time(), clock.monotonic()) == (1010.0, mono + 10.0)
    clock.set(500.0)
    assert (clock.time(), clock.monotonic()) == (500.0, mono + 10.0)
