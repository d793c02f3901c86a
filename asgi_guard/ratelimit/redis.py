"""The shared backend: every limit of a request in one ``EVALSHA`` of ``bucket.lua``.

Only redis-py's public API is used: ``evalsha``/``eval``, ``pipeline()`` (a ``ClusterPipeline`` on
a Cluster), ``script_load`` and ``initialize``. One round trip is in flight at a time per backend:

* when none is, a request sends its own ``EVALSHA`` from its own task (no queue, no extra task);
* while one is, requests queue; when it completes, everything queued (up to ``max_batch``) goes
  out as one pipeline, so client CPU per check falls as concurrency rises. The queue is bounded
  (``max_queue``): past it a check raises :class:`Overloaded` at once, our own overload and not a
  Redis failure (the middleware checks such a request locally instead of refusing it).

The time budget of a check starts when its round trip is sent, never while it waits in the queue
or behind other requests' work, so a burst on a healthy Redis is not mistaken for a slow Redis.

On Redis Cluster the keys of a request are grouped by hash slot, one script per slot; when a slot
refuses after another consumed, the consumed slots are refunded. ``NOSCRIPT`` (restart, failover,
new node) replays the affected calls as ``EVAL``. A call that met a connection error inside a
Cluster pipeline (a pooled socket to a restarted master) is sent once more with ``evalsha``: redis-py
then drops that node's idle sockets and reads the slot map again before retrying.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import ConnectionError, NoScriptError

from asgi_guard._tasks import retrieve
from asgi_guard.clock import SYSTEM_CLOCK, Clock
from asgi_guard.ratelimit.denycache import DenyCache
from asgi_guard.ratelimit.failover import Overloaded, within
from asgi_guard.ratelimit.gcra import Outcome, State
from asgi_guard.ratelimit.script import SCRIPT, SCRIPT_SHA, ScriptCall, parse_reply

if TYPE_CHECKING:
    from collections.abc import Sequence

    from redis.asyncio import Redis

    from asgi_guard.ratelimit.gcra import Check

MAX_BATCH: Final = 64
"""Checks per pipeline: a larger backlog goes out in successive round trips, each short enough for Redis
to answer well within a budget even on a busy machine."""


class _Request(NamedTuple):
    checks: Sequence[Check]
    calls: tuple[ScriptCall, ...]
    future: asyncio.Future[Outcome]
    budget: float


class RedisRateLimitBackend:
    """GCRA buckets in Redis (standalone or Cluster), shared by every process.

    Args:
        client: a ``redis.asyncio.Redis`` or ``redis.asyncio.cluster.RedisCluster``. Give it a
            ``socket_timeout``: the middleware's time budget bounds what a request waits.
        deny_cache_size: buckets remembered as empty (0 disables the local deny cache).
        clock: monotonic clock of the deny cache.
        command_timeout: seconds a round trip may take when no budget is given (direct calls of
            :meth:`check`, refunds, :meth:`warm`).
        connect_timeout: seconds a request may wait for :meth:`warm` (connection setup) before the
            backend first connected, apart from the middleware's budget.
        max_queue: checks that may wait for the round trip in flight; past it, :class:`Overloaded`.
        max_batch: checks sent in one pipeline.
    """

    __slots__ = (
        "_busy",
        "_client",
        "_cluster",
        "_connected",
        "_deny",
        "_offset",
        "_owns_client",
        "_pending",
        "_task",
        "_warming",
        "command_timeout",
        "connect_timeout",
        "max_batch",
        "max_queue",
    )

    def __init__(
        self,
        client: Redis | RedisCluster,
        *,
        deny_cache_size: int = 10_000,
        clock: Clock = SYSTEM_CLOCK,
        command_timeout: float = 2.0,
        connect_timeout: float = 1.0,
        max_queue: int = 10_000,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._client = client
        self._cluster = isinstance(client, RedisCluster)
        self._deny = DenyCache(clock=clock, max_entries=deny_cache_size)
        self._offset = 0
        self._pending: list[_Request] = []
        self._busy = False
        self._task: asyncio.Task[None] | None = None
        self.command_timeout = command_timeout
        self.connect_timeout = connect_timeout
        self.max_queue = max_queue
        self.max_batch = max_batch
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
        """Connect: read the cluster's slot map (Cluster), or load the script (standalone).

        One run serves every caller (a caller waits at most ``connect_timeout``; the run goes on for
        the others, bounded by ``command_timeout``). Await it at application startup to connect
        before the first request; the middleware awaits it until the backend :attr:`connected`.
        """
        task = self._warming
        if task is None or task.done():
            task = self._warming = asyncio.get_running_loop().create_task(self._connect())
            task.add_done_callback(retrieve)
        async with asyncio.timeout(self.connect_timeout):
            await asyncio.shield(task)

    async def _connect(self) -> None:
        async with asyncio.timeout(self.command_timeout):
            if isinstance(self._client, RedisCluster):
                # No script loading on every master here: one that is down or stalled must not hold up
                # the others' slots. Each master gets the script from its first NOSCRIPT (one EVAL).
                await self._client.initialize()
            else:
                await self._client.script_load(SCRIPT)
        self._connected = True

    async def check(self, checks: Sequence[Check]) -> Outcome:
        """Check and consume every limit of one request, all or nothing, in one round trip."""
        return await self.check_within(checks, self.command_timeout)

    async def check_within(self, checks: Sequence[Check], budget: float) -> Outcome:
        """:meth:`check`, failing with :class:`TimeoutError` when Redis has not answered ``budget``
        seconds after the round trip was sent (time in the queue is not counted)."""
        refused = self._deny.lookup(checks, self._offset)
        if refused is not None:
            return refused
        sent_at = self._deny.now_us()
        calls = self._split(checks)
        if not self._busy and len(calls) == 1:
            self._busy = True  # nothing in flight: this request's own EVALSHA, from its own task
            try:
                reply = await within(budget, self._single(calls[0]), self.command_timeout)
            finally:
                self._busy = False
                if self._pending:
                    self._start()
            ok, now_us, states = parse_reply(reply, len(checks))
            outcome = Outcome(ok, now_us, tuple(states))
        else:
            if len(self._pending) >= self.max_queue:
                raise Overloaded(len(self._pending))
            future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
            self._pending.append(_Request(checks, calls, future, budget))
            if not self._busy:
                self._start()
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

    async def _single(self, call: ScriptCall) -> Any:
        args = call.arguments("c")
        try:
            return await self._evalsha(args)
        except ConnectionError:  # a pooled socket whose server restarted: once more, on a fresh one
            await self._forget_idle()
            return await self._evalsha(args)

    async def _evalsha(self, args: list[bytes]) -> Any:
        try:
            return await self._client.evalsha(SCRIPT_SHA, *args)  # type: ignore[arg-type]
        except NoScriptError:
            return await self._client.eval(SCRIPT, *args)  # type: ignore[arg-type]

    async def _forget_idle(self) -> None:
        """Close the idle pooled connections of a standalone client (a Cluster client does it per node)."""
        if not isinstance(self._client, RedisCluster):
            await self._client.connection_pool.disconnect(inuse_connections=False)

    def _start(self) -> None:
        """Send what is queued, from a task of its own, while nothing else is in flight."""
        self._busy = True
        self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                await self._run(batch)
        finally:
            self._busy = False

    async def _run(self, batch: list[_Request]) -> None:
        calls = [call for request in batch for call in request.calls]
        live = [request for request in batch if not request.future.done()]  # callers may have gone
        budget = max((request.budget for request in live), default=0.0)
        try:
            replies = await within(budget, self._execute(calls, "c"), self.command_timeout)
        except Exception as exc:  # Redis down, stalled past the budget, or replying with an error
            for request in live:
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
            _resolve(request, mine, refunds)
        if refunds:
            # A failed refund leaves tokens taken (stricter, never looser): nothing to do about it here.
            with contextlib.suppress(Exception):
                await within(self.command_timeout, self._execute(refunds, "r"))

    async def _execute(self, calls: list[ScriptCall], mode: str) -> list[Any]:
        """Run ``calls`` in one pipeline; replay those answered ``NOSCRIPT`` once, as ``EVAL``.

        A connection error is tried once more on a fresh connection (a pooled socket whose server
        restarted): a command that did run before the error is then counted twice, stricter, never looser.
        """
        try:
            results = await self._pipeline(calls, mode, SCRIPT_SHA)
        except ConnectionError:
            await self._forget_idle()
            results = await self._pipeline(calls, mode, SCRIPT_SHA)
        missing = [index for index, result in enumerate(results) if isinstance(result, NoScriptError)]
        if missing:
            again = await self._pipeline([calls[index] for index in missing], mode, None)
            for index, result in zip(missing, again, strict=True):
                results[index] = result
        if self._cluster:
            for index, result in enumerate(results):
                if isinstance(result, ConnectionError):  # a stale pooled socket: once more, outside the pipeline
                    try:
                        results[index] = await self._evalsha(calls[index].arguments(mode))
                    except Exception as exc:
                        results[index] = exc
        return results

    async def _pipeline(self, calls: list[ScriptCall], mode: str, sha: str | None) -> list[Any]:
        """One pipeline of ``EVALSHA`` (or ``EVAL`` when ``sha`` is ``None``); error replies as values."""
        pipe = self._client.pipeline() if self._cluster else self._client.pipeline(transaction=False)
        # ``execute_command``: a ClusterPipeline refuses the ``evalsha``/``eval`` methods, not the commands.
        head = ("EVAL", SCRIPT) if sha is None else ("EVALSHA", sha)
        for call in calls:
            pipe.execute_command(*head, *call.arguments(mode))
        return list(await pipe.execute(raise_on_error=False))  # execute() resets the pipeline, whatever happens

    async def aclose(self) -> None:
        """Wait for the round trip in flight (refunds included); close the client if :meth:`from_url` made it."""
        if self._warming is not None:
            await asyncio.gather(self._warming, return_exceptions=True)
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self._owns_client:
            await self._client.aclose()


def _resolve(request: _Request, replies: Sequence[Any], refunds: list[ScriptCall]) -> None:
    if len(replies) == 1:  # one slot (always, on a standalone server): nothing to refund
        if request.future.done():
            return
        reply = replies[0]
        if isinstance(reply, Exception):
            request.future.set_exception(reply)
        else:
            ok, now_us, single = parse_reply(reply, len(request.checks))
            request.future.set_result(Outcome(ok, now_us, tuple(single)))
        return
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


__all__ = ("RedisRateLimitBackend",)
