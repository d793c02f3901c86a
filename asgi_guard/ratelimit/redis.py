"""The shared backend: every limit of a request in one ``EVALSHA`` of ``bucket.lua``.

Checks arriving in the same event-loop tick are coalesced into one pipeline (one write, one read),
so client CPU per check falls as concurrency rises. On Redis Cluster the keys of a request are
grouped by hash slot, one script per slot, each node's share on one of its connections, all nodes
at once (:mod:`asgi_guard.ratelimit.nodes`); when a slot refuses after another consumed, the consumed
slots are refunded. ``NOSCRIPT`` (restart, failover, new node) replays the affected calls as ``EVAL``.

Before the first check the middleware awaits :meth:`warm` outside the request's time budget
(bounded by ``connect_timeout``): a cold cluster client reads the slot map and the command table.
After a failure on a Cluster the slot map is read again in the background; requests never wait for
it (a dead socket is replaced when it is next taken from the pool, a moved slot answers ``MOVED``,
which is followed), so one failure cannot turn into a failure for every request waiting on it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, NamedTuple

from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import NoScriptError

from asgi_guard.clock import SYSTEM_CLOCK, Clock
from asgi_guard.ratelimit.denycache import DenyCache
from asgi_guard.ratelimit.gcra import Outcome, State
from asgi_guard.ratelimit.nodes import cluster_pipeline, standalone_roundtrip
from asgi_guard.ratelimit.script import SCRIPT_LOAD, ScriptCall, parse_reply

if TYPE_CHECKING:
    from collections.abc import Sequence

    from redis.asyncio import Redis

    from asgi_guard.ratelimit.gcra import Check


class _Request(NamedTuple):
    checks: Sequence[Check]
    calls: tuple[ScriptCall, ...]
    future: asyncio.Future[Outcome]


class RedisRateLimitBackend:
    """GCRA buckets in Redis (standalone or Cluster), shared by every process.

    Args:
        client: a ``redis.asyncio.Redis`` or ``redis.asyncio.cluster.RedisCluster``. Give it a
            ``socket_timeout``: the middleware's time budget bounds what a request waits, this
            backend's ``command_timeout`` bounds what a stalled pipeline holds.
        deny_cache_size: buckets remembered as empty (0 disables the local deny cache).
        clock: monotonic clock of the deny cache.
        command_timeout: seconds before a pipeline is abandoned (its requests see a failure).
        connect_timeout: seconds a request may wait for :meth:`warm` (connection setup) before the
            backend first connected, apart from the middleware's budget.
    """

    __slots__ = (
        "_client",
        "_cluster",
        "_connected",
        "_deny",
        "_offset",
        "_owns_client",
        "_pending",
        "_tasks",
        "_warming",
        "command_timeout",
        "connect_timeout",
    )

    def __init__(
        self,
        client: Redis | RedisCluster,
        *,
        deny_cache_size: int = 10_000,
        clock: Clock = SYSTEM_CLOCK,
        command_timeout: float = 2.0,
        connect_timeout: float = 1.0,
    ) -> None:
        self._client = client
        self._cluster = isinstance(client, RedisCluster)
        self._deny = DenyCache(clock=clock, max_entries=deny_cache_size)
        self._offset = 0
        self._pending: list[_Request] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.command_timeout = command_timeout
        self.connect_timeout = connect_timeout
        self._owns_client = False
        self._connected = False
        self._warming: asyncio.Task[None] | None = None

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisRateLimitBackend:
        """A backend on a standalone server (``redis://``, ``rediss://``, ``unix://``)."""
        from redis.asyncio import Redis

        backend = cls(Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0), **options)
        backend._owns_client = True
        return backend

    @property
    def client(self) -> Redis | RedisCluster:
        """The client given at construction (other state kept beside the buckets uses it too)."""
        return self._client

    @property
    def connected(self) -> bool:
        """:meth:`warm` succeeded at least once."""
        return self._connected

    async def warm(self) -> None:
        """Connect: read the cluster's slot map again (Cluster), or load the script (standalone).

        One run serves every caller (a caller waits at most ``connect_timeout``; the run goes on for
        the others, bounded by ``command_timeout``). Await it at application startup to connect
        before the first request; the middleware awaits it until the backend :attr:`connected`.
        """
        async with asyncio.timeout(self.connect_timeout):
            await asyncio.shield(self._reconnect())

    def _reconnect(self) -> asyncio.Task[None]:
        task = self._warming
        if task is None or task.done():
            task = self._warming = asyncio.get_running_loop().create_task(self._connect())
            task.add_done_callback(_retrieve)
        return task

    async def _connect(self) -> None:
        async with asyncio.timeout(self.command_timeout):
            if isinstance(self._client, RedisCluster):
                await self._client.initialize()
                if self._connected:  # after a failure: a node may have moved, failed over or restarted
                    await self._client.nodes_manager.initialize()
                # No script loading on every master here: one that is down or stalled must not hold up
                # the others' slots. Each master gets the script from its first NOSCRIPT (one EVAL).
            else:
                (reply,) = await standalone_roundtrip(self._client, SCRIPT_LOAD, 1)
                if isinstance(reply, Exception):
                    raise reply
        self._connected = True

    async def check(self, checks: Sequence[Check]) -> Outcome:
        """Check and consume every limit of one request, all or nothing, in one round trip."""
        refused = self._deny.lookup(checks, self._offset)
        if refused is not None:
            return refused
        sent_at = self._deny.now_us()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append(_Request(checks, self._split(checks), future))
        outcome = await future
        self._offset = outcome.now_us - sent_at
        self._deny.remember(checks, outcome, sent_at)
        return outcome

    def _failed(self) -> None:
        """A node failed, moved or restarted: read the slot map again, in the background (Cluster)."""
        if self._cluster and self._connected:
            self._reconnect()

    def _split(self, checks: Sequence[Check]) -> tuple[ScriptCall, ...]:
        if not self._cluster:
            return (ScriptCall(tuple(checks), tuple(range(len(checks)))),)
        slots: dict[int, list[int]] = {}
        for index, check in enumerate(checks):
            slots.setdefault(key_slot(check.key.encode()), []).append(index)
        return tuple(ScriptCall(tuple(checks[i] for i in group), tuple(group)) for group in slots.values())

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[_Request]) -> None:
        calls = [call for request in batch for call in request.calls]
        try:
            async with asyncio.timeout(self.command_timeout):
                replies = await self._execute(calls, "c")
        except Exception as exc:  # Redis down, stalled past the timeout, or replying with an error
            self._failed()
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(exc)
            return
        except asyncio.CancelledError:
            for request in batch:
                request.future.cancel()
            raise
        if any(isinstance(reply, Exception) for reply in replies):
            self._failed()
        refunds: list[ScriptCall] = []
        position = 0
        for request in batch:
            mine = replies[position : position + len(request.calls)]
            position += len(request.calls)
            self._resolve(request, mine, refunds)
        if refunds:
            # A failed refund leaves tokens taken (stricter, never looser): nothing to do about it here.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.command_timeout):
                    await self._execute(refunds, "r")

    def _resolve(self, request: _Request, replies: Sequence[Any], refunds: list[ScriptCall]) -> None:
        states: list[State | None] = [None] * len(request.checks)
        allowed = True
        failure: Exception | None = None
        now = 0
        consumed: list[ScriptCall] = []
        for call, reply in zip(request.calls, replies, strict=True):
            if isinstance(reply, Exception):
                failure = reply
                continue
            ok, now_us, call_states = parse_reply(reply, len(call.checks))
            now = max(now, now_us)
            allowed = allowed and ok
            taken = [(check, state) for check, state in zip(call.checks, call_states, strict=True) if state.allowed]
            if ok and taken:
                consumed.append(ScriptCall(tuple(check for check, _ in taken), ()))
            for index, state in zip(call.indices, call_states, strict=True):
                states[index] = state
        if (failure is not None or not allowed) and len(request.calls) > 1:
            refunds.extend(consumed)
        if request.future.done():
            return
        if failure is not None:
            request.future.set_exception(failure)
        else:
            request.future.set_result(Outcome(allowed, now, tuple(states)))

    async def _execute(self, calls: list[ScriptCall], mode: str) -> list[Any]:
        """Run ``calls`` in one pipeline; replay those answered ``NOSCRIPT`` once, as ``EVAL``."""
        results = await self._pipeline(calls, mode)
        missing = [index for index, result in enumerate(results) if isinstance(result, NoScriptError)]
        if missing:
            again = await self._pipeline([calls[index] for index in missing], mode, inline=True)
            for index, result in zip(missing, again, strict=True):
                results[index] = result
        return results

    async def _pipeline(self, calls: list[ScriptCall], mode: str, *, inline: bool = False) -> list[Any]:
        if isinstance(self._client, RedisCluster):
            await self._client.initialize()  # a no-op once initialised (and until redis-py itself resets it)
            return await cluster_pipeline(self._client, calls, mode, inline=inline)
        # Standalone: one write of pre-encoded RESP on one connection, then one read per command.
        payload = b"".join(call.packed(mode, inline=inline) for call in calls)
        return await standalone_roundtrip(self._client, payload, len(calls))

    async def aclose(self) -> None:
        """Wait for pipelines in flight (refunds included); close the client if :meth:`from_url` made it."""
        if self._warming is not None:
            await asyncio.gather(self._warming, return_exceptions=True)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._owns_client:
            await self._client.aclose()


def _retrieve(task: asyncio.Task[None]) -> None:
    """A warm-up whose waiters all gave up still has its exception looked at (no asyncio warning)."""
    if not task.cancelled():
        task.exception()


__all__ = ("RedisRateLimitBackend",)
