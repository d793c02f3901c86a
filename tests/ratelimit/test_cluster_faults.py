"""Redis Cluster faults: a cold client, a master killed and restarted under load, stale sockets, MOVED.

Every test here keeps one backend and one client from start to end: recovery must come from the
backend itself, never from recreating it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.crc import key_slot
from redis.exceptions import TimeoutError as RedisTimeoutError

from asgi_guard.context import GuardContext
from asgi_guard.ratelimit import Limit, RateLimitConfig, RateLimitMiddleware, RedisRateLimitBackend
from asgi_guard.ratelimit.failover import Overloaded
from asgi_guard.ratelimit.gcra import Check
from asgi_guard.testing import call, make_scope
from tests.ratelimit.test_middleware import ok_app
from tests.redis_servers import RedisCluster

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.cluster]

MINUTE = 60_000_000
IP_KEY = "rl:{ip:127.0.0.1}:ip"  # the key `Limit(name="ip")` uses for make_scope()'s client
DEADLINE = 30.0  # for anything to happen at all on a loaded CI machine
# Restart to 200s again: the node holds writes back ~2 s and the breaker probes every 5 s, so a few
# seconds unloaded; 30 s still tells the old bug apart (probes drained 32 dead sockets, one per 5 s
# period: ~160 s) while a loaded CI machine's slow node restart no longer fails the test.
RECOVERY = 30.0


@pytest.fixture
async def fault_backend(fault_cluster: RedisCluster) -> AsyncIterator[RedisRateLimitBackend]:
    """A backend on a cold client of the test's own cluster, closed with its client afterwards."""
    client = AsyncRedisCluster.from_url(fault_cluster.url, socket_timeout=2.0, socket_connect_timeout=2.0)
    backend = RedisRateLimitBackend(client)
    yield backend
    await backend.aclose()
    await client.aclose()


async def test_cold_client_serves_the_first_burst(redis_cluster: RedisCluster) -> None:
    """A never-used cluster client answers the very first concurrent requests within the default budget."""
    redis_cluster.flush()
    client = AsyncRedisCluster.from_url(redis_cluster.url)
    backend = RedisRateLimitBackend(client)
    app = RateLimitMiddleware(ok_app, RateLimitConfig(limits=(Limit(name="ip", rate="1000/minute"),), backend=backend))
    assert not backend.connected
    recorders = await asyncio.gather(*(call(app, make_scope()) for _ in range(32)))
    assert [recorder.status for recorder in recorders] == [200] * 32
    assert backend.connected
    assert recorders[0].headers["x-ratelimit-limit"] == "1000"
    await backend.aclose()
    await client.aclose()


async def test_restarted_master_stale_sockets_are_not_used(
    fault_cluster: RedisCluster, fault_backend: RedisRateLimitBackend
) -> None:
    """After its master restarts (data and scripts gone), every check succeeds at once: no dead pooled socket."""
    await fault_backend.warm()
    check = [Check(IP_KEY, MINUTE, 1000, 1)]
    in_flight = []
    for _ in range(12):  # batches in successive ticks overlap, so several connections get pooled
        in_flight.append(asyncio.ensure_future(fault_backend.check(check)))
        await asyncio.sleep(0)
    assert all(outcome.allowed for outcome in await asyncio.gather(*in_flight))

    fault_cluster.master_of(IP_KEY).restart()
    await asyncio.to_thread(fault_cluster.wait_ok)
    for _ in range(12):
        outcome = await fault_backend.check(check)
        assert outcome.allowed
    state = outcome.states[0]
    assert state is not None
    assert state.remaining == 988  # the restart lost the bucket: twelve taken since


async def test_moved_is_followed(cluster_client: AsyncRedisCluster) -> None:
    """A stale slot map (MOVED from the node asked) still gets an exact answer from the right master."""
    backend = RedisRateLimitBackend(cluster_client)
    await backend.warm()
    manager = cluster_client.nodes_manager
    slot = key_slot(b"{ip:127.0.0.1}")
    owner = manager.slots_cache[slot]
    manager.slots_cache[slot] = [next(node for node in cluster_client.get_primaries() if node is not owner[0])]
    check = [Check(IP_KEY, MINUTE, 10, 1)]
    for left in (9, 8):
        state = (await backend.check(check)).states[0]
        assert state is not None
        assert state.remaining == left
    assert manager.slots_cache[slot][0].name == owner[0].name
    await backend.aclose()


class Load:
    """Concurrent requests through one middleware, each recorded as (started, status)."""

    def __init__(self, app: RateLimitMiddleware, lanes: int = 8) -> None:
        self.app = app
        self.records: list[tuple[float, int]] = []
        self._stop = asyncio.Event()
        self._lanes = [asyncio.ensure_future(self._lane()) for _ in range(lanes)]

    async def _lane(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            recorder = await call(self.app, make_scope())
            self.records.append((started, recorder.status))
            await asyncio.sleep(0.002)

    async def until(self, status: int, after: float, within: float = DEADLINE) -> float:
        """When a request started after ``after`` first got ``status`` (fails past ``within`` seconds)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            seen = [started for started, got in self.records if got == status and started >= after]
            if seen:
                return min(seen)
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {status} within {within}s")

    def between(self, start: float, end: float) -> set[int]:
        return {status for started, status in self.records if start <= started < end}

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._lanes)


async def test_master_restart_under_load_recovers_twice(
    fault_cluster: RedisCluster, fault_backend: RedisRateLimitBackend
) -> None:
    """Kill the master of the loaded key: 503 (fail closed, never 500); restart it: 200 again, twice over."""
    config = RateLimitConfig(
        limits=(Limit(name="ip", rate="1000000/minute"),), backend=fault_backend, budget=0.25
    )  # the default breaker: one probe per 5 s, so recovery cannot come from probes draining dead sockets
    app = RateLimitMiddleware(ok_app, config)
    load = Load(app, lanes=32)
    try:
        await load.until(200, time.monotonic())
        master = fault_cluster.master_of(IP_KEY)
        for _ in range(2):
            killed = time.monotonic()
            master.kill()
            refused = await load.until(503, killed)
            await asyncio.sleep(0.5)
            restarted = time.monotonic()
            await asyncio.to_thread(master.start)
            assert load.between(refused, restarted) == {503}  # fail closed for the whole outage
            await load.until(200, restarted, within=RECOVERY)  # the same backend and client, nothing recreated
            await asyncio.to_thread(fault_cluster.wait_ok)
            settled = time.monotonic()
            await load.until(200, settled + 0.2)
            assert load.between(settled, time.monotonic()) == {200}  # every request again, no app restart
        assert {status for _, status in load.records} == {200, 503}
    finally:
        await load.stop()
    scope = make_scope()
    await call(app, scope)
    decision = GuardContext.from_scope(scope).rate_limit
    assert decision.source == "redis"


async def test_stalled_master_holds_up_only_its_own_slots(fault_cluster: RedisCluster) -> None:
    """With one master paused (SIGSTOP), keys on the other masters are still checked, before and after a reconnect."""
    client = AsyncRedisCluster.from_url(fault_cluster.url, socket_timeout=0.2, socket_connect_timeout=0.2)
    backend = RedisRateLimitBackend(client, command_timeout=1.0)
    stalled = fault_cluster.master_of(IP_KEY)
    other = next(f"rl:{{s{n}}}:x" for n in range(100) if fault_cluster.master_of(f"{{s{n}}}").port != stalled.port)
    try:  # closed however the test ends: an unclosed client warns (an error) in a later test
        await backend.warm()
        stuck, fine = Check(IP_KEY, MINUTE, 10, 1), Check(other, MINUTE, 10, 1)
        assert (await backend.check([stuck, fine])).allowed
        stalled.pause()
        try:
            # the client's socket_timeout, or command_timeout while redis-py retries on the stalled
            # master; or Overloaded when a loaded machine held our loop past the budget meanwhile
            with pytest.raises((RedisTimeoutError, TimeoutError, Overloaded)):
                await backend.check([stuck])
            for _ in range(3):  # the reconnect reads the slot map from whichever master answers
                await backend.warm()
                assert (await backend.check([fine])).allowed
        finally:
            stalled.resume()
        assert (await backend.check([stuck])).allowed
    finally:
        await backend.aclose()
        await client.aclose()
