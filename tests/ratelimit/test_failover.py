"""Fail modes, the time budget and the circuit breaker, against a real Redis killed, paused, restarted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from asgi_guard.context import GuardContext
from asgi_guard.ratelimit import Limit, RateLimitConfig, RateLimitMiddleware, RedisRateLimitBackend
from asgi_guard.ratelimit.failover import Breaker, Overloaded, within
from asgi_guard.ratelimit.gcra import Check
from asgi_guard.testing import FakeClock, MessageRecorder, call, make_scope
from tests.ratelimit.test_middleware import ok_app
from tests.redis_servers import RedisServer

pytestmark = pytest.mark.anyio

BUDGET = 0.25  # the default is 50 ms; a little more keeps healthy phases green on a loaded CI machine
STALL = 5.0  # socket and pipeline timeouts: far longer than the budget, so only the budget can explain a fast answer


class TestBreaker:
    """The breaker's state machine on a fake clock."""

    def test_opens_probes_and_closes(self) -> None:
        """Threshold failures open it; after reset_after one probe goes out; success closes it."""
        clock = FakeClock()
        breaker = Breaker(clock, threshold=2, reset_after=5.0)
        assert breaker.admit() == (True, None)
        assert breaker.retry_after == 1
        assert breaker.failed() is None
        assert breaker.failed() == "open"
        assert breaker.admit() == (False, None)
        assert breaker.retry_after == 5
        clock.advance(5)
        assert breaker.admit() == (True, "half_open")
        assert breaker.admit() == (False, None)  # one probe per period
        assert breaker.failed() == "open"
        clock.advance(5)
        assert breaker.admit() == (True, "half_open")
        clock.advance(5)
        assert breaker.admit() == (True, None)  # a probe that never reported cannot wedge it
        assert breaker.succeeded() == "closed"
        assert breaker.succeeded() is None
        assert breaker.state == "closed"


class Stack:
    """A limited app on a fault-injectable Redis, its breaker on a fake clock."""

    def __init__(self, server: RedisServer, fail_mode: str, burst: int = 1000) -> None:
        self.server = server
        self.clock = FakeClock()
        self.client = aioredis.Redis.from_url(server.url, socket_timeout=STALL, socket_connect_timeout=STALL)
        self.backend = RedisRateLimitBackend(self.client, command_timeout=STALL)
        config = RateLimitConfig(
            limits=(Limit(name="ip", rate=f"{burst}/minute"),),
            backend=self.backend,
            fail_mode=fail_mode,  # type: ignore[arg-type]
            budget=BUDGET,
            breaker_threshold=2,
            breaker_reset=5.0,
            clock=self.clock,
        )
        self.app = RateLimitMiddleware(ok_app, config)

    async def warm(self) -> None:
        """Connect and load the script outside the budget (a cold start may take longer than 50 ms)."""
        await self.backend.check([Check("rl:{warm}:x", 1, 1, 0)])

    async def burst(self, count: int = 50) -> tuple[list[MessageRecorder], list[Any], float]:
        """``count`` concurrent requests: recorders, their events, and the slowest latency."""
        scopes = [make_scope() for _ in range(count)]
        started = time.monotonic()
        recorders = await asyncio.gather(*(call(self.app, scope) for scope in scopes))
        elapsed = time.monotonic() - started
        events = [event for scope in scopes for event in GuardContext.from_scope(scope).events]
        return list(recorders), events, elapsed

    async def close(self) -> None:
        if self.server.paused:
            self.server.resume()
        await self.backend.aclose()
        await self.client.aclose()


@pytest.fixture
async def stacks(fault_redis: RedisServer) -> AsyncIterator[list[Stack]]:
    made: list[Stack] = []
    yield made
    for stack in made:
        await stack.close()


def statuses(recorders: list[MessageRecorder]) -> set[int]:
    return {recorder.status for recorder in recorders}


def reasons(events: list[Any], type: str) -> list[str]:
    return [event.reason for event in events if event.type == type]


@pytest.mark.redis
async def test_killed_fails_closed_then_recovers(fault_redis: RedisServer, stacks: list[Stack]) -> None:
    """Killed: 503 with Retry-After, the breaker opens; restarted (script cache lost): recovery, no restart."""
    stack = Stack(fault_redis, "closed")
    stacks.append(stack)
    await stack.warm()
    recorders, _, _ = await stack.burst()
    assert statuses(recorders) == {200}

    fault_redis.kill()
    recorders, events, elapsed = await stack.burst()
    assert statuses(recorders) == {503}
    assert all(recorder.headers["retry-after"] for recorder in recorders)
    assert recorders[0].json()["error"] == "service_unavailable"
    assert "circuit_open" in reasons(events, "rate_limit_backend")
    assert elapsed < STALL / 2
    recorders, events, _ = await stack.burst()
    assert statuses(recorders) == {503}
    assert reasons(events, "backend_failure") == ["rate_limit_backend_unavailable"] * 50

    fault_redis.restart()
    recovered: list[str] = []
    for _ in range(10):  # each probe period lets one request try the backend
        stack.clock.advance(5)
        recorders, events, _ = await stack.burst(5)
        recovered += reasons(events, "rate_limit_backend")
        if 200 in statuses(recorders):
            break
    assert "circuit_half_open" in recovered
    assert recovered[-1] == "circuit_closed"
    recorders, _, _ = await stack.burst()
    assert statuses(recorders) == {200}
    assert recorders[0].headers["x-ratelimit-limit"] == "1000"


@pytest.mark.redis
async def test_paused_fails_open_within_budget(fault_redis: RedisServer, stacks: list[Stack]) -> None:
    """Paused (SIGSTOP): with fail-open every request is allowed within the budget, and logged as such."""
    stack = Stack(fault_redis, "open")
    stacks.append(stack)
    await stack.warm()
    fault_redis.pause()
    recorders, events, elapsed = await stack.burst()
    assert statuses(recorders) == {200}
    assert "x-ratelimit-limit" not in recorders[0].headers
    assert elapsed < STALL / 2
    assert set(reasons(events, "rate_limit_fail_open")) <= {"timeout", "circuit_open"}
    assert len(reasons(events, "rate_limit_fail_open")) == 50
    fault_redis.resume()
    for _ in range(10):
        stack.clock.advance(5)
        recorders, events, _ = await stack.burst(5)
        if "circuit_closed" in reasons(events, "rate_limit_backend"):
            break
    recorders, events, _ = await stack.burst()
    assert statuses(recorders) == {200}
    assert reasons(events, "rate_limit_fail_open") == []
    assert recorders[0].headers["x-ratelimit-limit"] == "1000"


@pytest.mark.redis
async def test_paused_falls_back_to_local(fault_redis: RedisServer, stacks: list[Stack]) -> None:
    """Paused with the local fail mode: the in-process limiter keeps enforcing the limit."""
    stack = Stack(fault_redis, "local", burst=10)
    stacks.append(stack)
    fault_redis.pause()
    recorders, _, elapsed = await stack.burst(30)
    assert sorted(recorder.status for recorder in recorders) == [200] * 10 + [429] * 20
    assert elapsed < STALL / 2
    scope = make_scope()
    await call(stack.app, scope)
    decision = GuardContext.from_scope(scope).rate_limit
    assert decision.source == "local"


@pytest.mark.redis
async def test_mixed_fail_modes(fault_redis: RedisServer, stacks: list[Stack]) -> None:
    """Per-limit fail modes: open limits are skipped, local ones enforced, a closed one refuses (503)."""
    client = aioredis.Redis.from_url(fault_redis.url, socket_timeout=STALL, socket_connect_timeout=STALL)
    backend = RedisRateLimitBackend(client)
    limits = (
        Limit(name="soft", rate="1/minute", fail_mode="open"),
        Limit(name="local", rate="2/minute", fail_mode="local"),
    )
    app = RateLimitMiddleware(ok_app, RateLimitConfig(limits=limits, backend=backend, fail_mode="closed"))
    strict = RateLimitMiddleware(
        ok_app, RateLimitConfig(limits=(*limits, Limit(name="hard", rate="5/minute")), backend=backend)
    )
    only_open = RateLimitMiddleware(ok_app, RateLimitConfig(limits=limits[:1], backend=backend))
    fault_redis.kill()
    assert [(await call(app, make_scope())).status for _ in range(3)] == [200, 200, 429]
    assert (await call(strict, make_scope())).status == 503
    scope = make_scope()
    assert (await call(only_open, scope)).status == 200
    decision = GuardContext.from_scope(scope).rate_limit
    assert (decision.source, decision.limits) == ("fail_open", ())
    await backend.aclose()
    await client.aclose()


def settle(reply: asyncio.Future[str]) -> None:
    """The reply arrives (unless the caller already gave up on it: a cancelled future stays so)."""
    if not reply.done():
        reply.set_result("allowed")


class TestBudget:
    """The budget measures the backend, not a backlog in our own event loop."""

    async def test_reply_queued_behind_a_busy_loop_is_used(self) -> None:
        """A reply that was ready at the deadline but queued behind CPU-bound work is used, not refused."""
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[str] = loop.create_future()

        def saturate() -> None:
            time.sleep(0.03)  # other requests' CPU work, past the 10 ms deadline
            loop.call_soon(settle, reply)  # the reply came in meanwhile

        loop.call_later(0.005, saturate)
        assert await within(0.01, reply) == "allowed"

    async def test_reply_behind_a_saturated_loop_is_used(self) -> None:
        """Many short slices of other work (each pass of the loop slow, none past the deadline on its
        own): the budget waits for the loop, and the reply that comes meanwhile is used."""
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[str] = loop.create_future()

        def busy(passes: int) -> None:
            time.sleep(0.002)  # one request's CPU work per pass
            if passes:
                loop.call_soon(busy, passes - 1)
            else:
                settle(reply)

        loop.call_soon(busy, 40)
        assert await within(0.01, reply, limit=5.0) == "allowed"

    async def test_held_loop_at_the_cap_is_overload_not_timeout(self) -> None:
        """Still held when the cap is reached: :class:`Overloaded` (our delay), never a backend timeout."""
        loop = asyncio.get_running_loop()
        never: asyncio.Future[str] = loop.create_future()
        loop.call_later(0.005, time.sleep, 0.05)
        with pytest.raises(Overloaded):
            await within(0.01, never, limit=0.02)
        assert never.cancelled()

    async def test_no_reply_times_out(self) -> None:
        """A backend that never answers still costs the request only the budget (and a few loop passes)."""
        never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        with pytest.raises(TimeoutError):
            await within(0.01, never)
        assert never.cancelled()

    async def test_plain_timeout_would_refuse(self) -> None:
        """The same queued reply under a plain ``asyncio.timeout`` is lost: what ``within`` exists for."""
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[str] = loop.create_future()

        def saturate() -> None:
            time.sleep(0.03)
            loop.call_soon(settle, reply)

        loop.call_later(0.005, saturate)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await reply


@pytest.mark.redis
async def test_restarted_standalone_stale_sockets_are_not_used(fault_redis: RedisServer) -> None:
    """After a restart every pooled connection at EOF is replaced before use: each next check succeeds."""
    client = aioredis.Redis.from_url(fault_redis.url, socket_timeout=STALL, socket_connect_timeout=STALL)
    backend = RedisRateLimitBackend(client)
    await backend.warm()
    check = [Check("rl:{stale}:x", 60_000_000, 1000, 1)]
    in_flight = []
    for _ in range(12):  # batches in successive ticks overlap, so several connections get pooled
        in_flight.append(asyncio.ensure_future(backend.check(check)))
        await asyncio.sleep(0)
    await asyncio.gather(*in_flight)
    fault_redis.restart()
    for _ in range(12):
        assert (await backend.check(check)).allowed
    await backend.aclose()
    await client.aclose()
