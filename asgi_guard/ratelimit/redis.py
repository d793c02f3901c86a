"""The shared backend: every limit of a request in one ``EVALSHA`` of ``bucket.lua``.

Checks arriving in the same event-loop tick are coalesced into one pipeline (one write, one read),
so client CPU per check falls as concurrency rises. On Redis Cluster the keys of a request are
grouped by hash slot, one script per slot, all in the same pipeline (redis-py sends each node its
share concurrently); when a slot refuses after another consumed, the consumed slots are refunded.
``NOSCRIPT`` (restart, failover, new node) reloads the script once and replays the affected calls.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, NamedTuple

from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import NoScriptError, ResponseError

from asgi_guard.clock import SYSTEM_CLOCK, Clock
from asgi_guard.ratelimit.denycache import DenyCache
from asgi_guard.ratelimit.gcra import Outcome, State
from asgi_guard.ratelimit.script import SCRIPT, ScriptCall, parse_reply

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
    """

    __slots__ = ("_client", "_cluster", "_deny", "_offset", "_owns_client", "_pending", "_tasks", "command_timeout")

    def __init__(
        self,
        client: Redis | RedisCluster,
        *,
        deny_cache_size: int = 10_000,
        clock: Clock = SYSTEM_CLOCK,
        command_timeout: float = 2.0,
    ) -> None:
        self._client = client
        self._cluster = isinstance(client, RedisCluster)
        self._deny = DenyCache(clock=clock, max_entries=deny_cache_size)
        self._offset = 0
        self._pending: list[_Request] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.command_timeout = command_timeout
        self._owns_client = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisRateLimitBackend:
        """A backend on a standalone server (``redis://``, ``rediss://``, ``unix://``)."""
        from redis.asyncio import Redis

        backend = cls(Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0), **options)
        backend._owns_client = True
        return backend

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
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(exc)
            return
        except asyncio.CancelledError:
            for request in batch:
                request.future.cancel()
            raise
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
        """Run ``calls`` in one pipeline; reload the script once on ``NOSCRIPT`` and replay."""
        results = await self._pipeline(calls, mode)
        missing = [index for index, result in enumerate(results) if isinstance(result, NoScriptError)]
        if missing:
            await self._client.script_load(SCRIPT)
            again = await self._pipeline([calls[index] for index in missing], mode)
            for index, result in zip(missing, again, strict=True):
                results[index] = result
        return results

    async def _pipeline(self, calls: list[ScriptCall], mode: str) -> list[Any]:
        if self._cluster:
            pipe = self._client.pipeline()
            for call in calls:
                pipe.execute_command(*call.command(mode))
            return list(await pipe.execute(raise_on_error=False))
        # Standalone: one write of pre-encoded RESP on one connection, then one read per command.
        pool = self._client.connection_pool  # type: ignore[union-attr]
        connection = await pool.get_connection()
        try:
            await connection.send_packed_command(b"".join(call.packed(mode) for call in calls), check_health=False)
            results: list[Any] = []
            for _ in calls:
                try:
                    results.append(await connection.read_response())
                except ResponseError as exc:  # an error reply: the connection is still in sync
                    results.append(exc)
            return results
        except BaseException:
            await connection.disconnect()
            raise
        finally:
            await pool.release(connection)

    async def aclose(self) -> None:
        """Wait for pipelines in flight (refunds included); close the client if :meth:`from_url` made it."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._owns_client:
            await self._client.aclose()


__all__ = ("RedisRateLimitBackend",)
