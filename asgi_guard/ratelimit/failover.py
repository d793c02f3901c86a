"""What happens when the shared backend fails: a time budget, a circuit breaker, the fail modes.

A call that errors or outlives the budget is a failure. After ``threshold`` consecutive failures
the breaker opens and requests stop waiting on the backend at all; after ``reset_after`` seconds
one request probes it (half-open): success closes the breaker, failure opens it again. Each
limit's fail mode then decides: ``closed`` refuses (503), ``open`` allows (and says so in an
event), ``local`` checks the limit in an in-process :class:`MemoryRateLimitBackend`.

The budget is for the check, not for the first connection: a backend that never connected is
first warmed up under its own ``connect_timeout`` (a cold cluster client reads the slot map and the
command table before its first command), so a healthy Redis is not reported unavailable at startup.

The budget measures the backend, not our own event loop. A backend with ``check_within`` (Redis)
starts it when the round trip is sent, not while the check waits in its queue; and when it runs out,
expiry waits a few more loop passes, so a reply that arrived in time but sits behind other requests'
work (a saturated CPU) is still used instead of refusing the request while Redis was healthy. A
backend whose queue is full raises :class:`Overloaded`: our own load, so the breaker is not told and
the request is checked locally (``Attempt.failure == "overloaded"``), never refused for it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final, Literal, NamedTuple, Protocol, TypeVar, runtime_checkable

from asgi_guard.clock import SYSTEM_CLOCK
from asgi_guard.ratelimit.memory import MemoryRateLimitBackend

if TYPE_CHECKING:
    from collections.abc import Awaitable, Sequence

    from asgi_guard.clock import Clock
    from asgi_guard.ratelimit.gcra import Check, Outcome

BreakerState = Literal["closed", "open", "half_open"]
T = TypeVar("T")

GRACE_PASSES: Final = 8
"""Loop passes from a reply in the socket buffer to its request: reader callback, pipeline task, request
task, and a few more socket reads for a large pipeline's replies."""


class Overloaded(Exception):
    """More checks are waiting for the backend than its queue holds (our load, not the backend's)."""


class RateLimitBackend(Protocol):
    """What the middleware needs of a backend."""

    async def check(self, checks: Sequence[Check]) -> Outcome: ...


@runtime_checkable
class Warmable(Protocol):
    """A backend with connection setup to do before checks (``RedisRateLimitBackend``)."""

    @property
    def connected(self) -> bool: ...

    async def warm(self) -> None: ...


@runtime_checkable
class Timed(Protocol):
    """A backend that starts the budget itself, when the call is sent (``RedisRateLimitBackend``)."""

    async def check_within(self, checks: Sequence[Check], budget: float) -> Outcome: ...


class Breaker:
    """Consecutive-failure circuit breaker on the monotonic clock (shared by all requests).

    Half-open lets one probe through per ``reset_after`` (a probe whose request was cancelled
    cannot wedge it: another probe goes out one period later).
    """

    __slots__ = ("_clock", "_failures", "_since", "reset_after", "state", "threshold")

    def __init__(self, clock: Clock, threshold: int, reset_after: float) -> None:
        self._clock = clock
        self.threshold = threshold
        self.reset_after = reset_after
        self.state: BreakerState = "closed"
        self._failures = 0
        self._since = 0.0

    def admit(self) -> tuple[bool, BreakerState | None]:
        """Whether to call the backend now, and the state it moved to (for the event), if it moved."""
        if self.state == "closed":
            return True, None
        now = self._clock.monotonic()
        if now - self._since < self.reset_after:
            return False, None
        self._since = now
        if self.state == "open":
            self.state = "half_open"
            return True, "half_open"
        return True, None

    def succeeded(self) -> BreakerState | None:
        self._failures = 0
        if self.state != "closed":
            self.state = "closed"
            return "closed"
        return None

    def failed(self) -> BreakerState | None:
        self._failures += 1
        if self.state == "half_open" or (self.state == "closed" and self._failures >= self.threshold):
            self.state = "open"
            self._since = self._clock.monotonic()
            return "open"
        return None

    @property
    def retry_after(self) -> int:
        """Whole seconds until the breaker lets a probe through (for ``Retry-After`` on a 503)."""
        left = self.reset_after - (self._clock.monotonic() - self._since) if self.state != "closed" else 0.0
        return max(1, -int(-left // 1))


class Attempt(NamedTuple):
    """One call through :class:`Failover`.

    Attributes:
        outcome: the backend's answer, ``None`` when it failed or was not asked.
        failure: why it failed (``timeout``, an exception name, ``circuit_open``), ``""`` otherwise.
        transitions: breaker states entered during this call.
    """

    outcome: Outcome | None
    failure: str
    transitions: tuple[BreakerState, ...]


class Failover:
    """Calls the backend within the budget through the breaker."""

    __slots__ = ("_last_failure", "_timed", "_warmable", "backend", "breaker", "budget", "local", "remote")

    def __init__(
        self, backend: RateLimitBackend, *, budget: float, threshold: int, reset_after: float, clock: Clock
    ) -> None:
        self.backend = backend
        self.remote = not isinstance(backend, MemoryRateLimitBackend)
        self.budget = budget
        self.breaker = Breaker(clock, threshold, reset_after)
        self.local = MemoryRateLimitBackend(clock=clock)
        self._warmable = backend if isinstance(backend, Warmable) else None
        self._timed = backend if isinstance(backend, Timed) else None
        self._last_failure: BaseException | None = None

    async def check(self, checks: Sequence[Check]) -> Attempt:
        if not self.remote:
            return Attempt(await self.backend.check(checks), "", ())
        admitted, moved = self.breaker.admit()
        if not admitted:
            return Attempt(None, "circuit_open", ())
        transitions: tuple[BreakerState, ...] = (moved,) if moved else ()
        warmable = self._warmable
        try:
            if warmable is not None and not warmable.connected:
                await warmable.warm()  # the first connection: bounded by the backend's connect_timeout
            if self._timed is not None:
                outcome = await self._timed.check_within(checks, self.budget)
            else:
                outcome = await within(self.budget, self.backend.check(checks))
        except Overloaded:  # our own backlog, not a backend failure: the breaker is not told
            return Attempt(None, "overloaded", transitions)
        except Exception as exc:  # down, stalled past the budget, an error reply: all one fail mode
            failure = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            # One failed round trip is one failure, however many requests it carried (a coalescing
            # backend hands every request of a pipeline the same exception).
            moved = self.breaker.failed() if exc is not self._last_failure else None
            self._last_failure = exc
            return Attempt(None, failure, (*transitions, moved) if moved else transitions)
        self._last_failure = None
        moved = self.breaker.succeeded()
        return Attempt(outcome, "", (*transitions, moved) if moved else transitions)


LATE: Final = 0.02
"""Seconds (at least; a whole budget when that is longer) by which a deadline's timer may run late
before the delay counts as our own (a held event loop)."""

BUSY: Final = 0.002
"""Seconds the :data:`GRACE_PASSES` may take in all on an idle loop; slower, the loop is saturated by our
own work and the reply may be waiting behind it."""


class _Deadline:
    """The timer of :func:`within`: expiry, a fresh budget after a held loop, then grace passes."""

    __slots__ = ("budget", "cap", "due", "handle", "held", "late", "loop", "pending", "since", "timer")

    def __init__(self, loop: asyncio.AbstractEventLoop, timer: asyncio.Timeout, budget: float, limit: float) -> None:
        self.loop = loop
        self.timer = timer
        self.budget = budget
        self.late = max(LATE, budget)
        self.since = 0.0
        now = loop.time()
        self.due = now + budget
        self.cap = now + max(limit, budget)
        self.pending = True
        self.held = False
        self.handle = loop.call_at(self.due, self.fire)

    def fire(self) -> None:
        if not self.pending:
            return
        now = self.loop.time()
        if now - self.due > self.late:
            self.extend(now)
            return
        self.since = now
        self.grace(GRACE_PASSES)

    def extend(self, now: float) -> None:
        """The loop was held past the deadline (other requests' work, a starved process): that delay
        is ours, not the callee's. Measure a fresh budget from now, up to the cap (expiry there is
        :class:`Overloaded`: still held, we cannot tell whose the delay is)."""
        if now >= self.cap:
            self.held = True
            self.timer.reschedule(now)
            return
        self.due = min(now + self.budget, self.cap)
        self.handle = self.loop.call_at(self.due, self.fire)

    def grace(self, passes: int) -> None:
        if not self.pending:
            return
        if passes:
            self.loop.call_soon(self.grace, passes - 1)
            return
        now = self.loop.time()
        if now - self.since > BUSY:  # the passes themselves were slow: the loop is saturated
            self.extend(now)
        else:
            self.timer.reschedule(now)


async def within(budget: float, call: Awaitable[T], limit: float | None = None) -> T:
    """``call`` under a ``budget`` of seconds that measures the callee, not our own event loop.

    When the deadline's timer runs late (the loop was held by other work), a fresh budget starts from
    then, up to ``limit`` seconds in all (default: ten budgets); an expiry first lets
    :data:`GRACE_PASSES` loop passes run (a reply the loop already holds is used, nothing new is awaited).
    Expiry raises :class:`TimeoutError`, or :class:`Overloaded` when the loop was held meanwhile (the
    delay cannot be told apart from our own: it must not count against the callee).
    """
    deadline: _Deadline | None = None
    try:
        async with asyncio.timeout(None) as timer:
            deadline = _Deadline(asyncio.get_running_loop(), timer, budget, budget * 10 if limit is None else limit)
            try:
                return await call
            finally:
                deadline.pending = False
                deadline.handle.cancel()
    except TimeoutError:
        if deadline is not None and deadline.held:
            raise Overloaded("the event loop was held past the budget") from None
        raise


class FailoverOptions(Protocol):
    """The fields a config shares with every caller of a rate-limit backend (rate limits, abuse limits)."""

    @property
    def backend(self) -> RateLimitBackend | None: ...
    @property
    def clock(self) -> Clock | None: ...
    @property
    def budget(self) -> float: ...
    @property
    def breaker_threshold(self) -> int: ...
    @property
    def breaker_reset(self) -> float: ...


def configured_failover(options: FailoverOptions) -> tuple[Failover, RateLimitBackend, Clock]:
    """The configured backend (an in-process one by default), behind its budget and breaker, and the clock."""
    clock = options.clock if options.clock is not None else SYSTEM_CLOCK
    backend = options.backend if options.backend is not None else MemoryRateLimitBackend(clock=clock)
    failover = Failover(
        backend,
        budget=options.budget,
        threshold=options.breaker_threshold,
        reset_after=options.breaker_reset,
        clock=clock,
    )
    return failover, backend, clock


__all__ = (
    "BUSY",
    "GRACE_PASSES",
    "LATE",
    "Attempt",
    "Breaker",
    "BreakerState",
    "Failover",
    "FailoverOptions",
    "Overloaded",
    "RateLimitBackend",
    "Timed",
    "Warmable",
    "configured_failover",
    "within",
)
