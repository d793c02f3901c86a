"""A per-test ceiling: a test that hangs fails with every thread's traceback instead of stalling CI.

The limit covers setup, call and teardown of one test (``ASGI_GUARD_TEST_TIMEOUT`` seconds, 120 by
default). When it passes, SIGALRM dumps all threads to stderr and raises ``pytest.fail`` in the main
thread, which interrupts a blocked ``join``, ``wait`` or event loop. If even that cannot get through
(a C call that never returns), faulthandler ends the process a minute later, tracebacks first: the run
fails, it never hangs.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

LIMIT = float(os.environ.get("ASGI_GUARD_TEST_TIMEOUT", "120"))
BACKSTOP = 60.0


def _on_alarm(_signum: int, _frame: Any) -> None:
    sys.stderr.write(f"\n+++ test exceeded {LIMIT:g} s; every thread's stack:\n")
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    pytest.fail(f"test exceeded the {LIMIT:g} s per-test ceiling (tests/timeouts.py)", pytrace=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, LIMIT)
    faulthandler.dump_traceback_later(LIMIT + BACKSTOP, exit=True)
    try:
        return (yield)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        faulthandler.cancel_dump_traceback_later()
