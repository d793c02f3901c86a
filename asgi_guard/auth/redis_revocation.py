"""Redis revocation with an in-memory mirror fed by pub/sub, so a check costs no round trip.

``revoke`` writes ``SET <prefix><id> <expires_at> PX <remaining>`` and ``PUBLISH``es the id. Every
instance subscribes, then loads the revoked set (``SCAN`` + ``MGET``, at start and after every
reconnect, never on the request path) and answers ``is_revoked`` from memory. While the feed is
down, checks fall back to one direct ``MGET`` per request (or refuse, by configuration); if that
fails too, :class:`RevocationUnavailable` is raised and the request is refused: never trusted.

The subscription runs on its own connection pool without retries, so a dropped connection is seen
at once (redis-py would otherwise reconnect silently and lose what was published in between).

On Redis Cluster the revoked ids, the used-refresh marks and the feed share one hash tag, so they
live on one shard: ``SET`` + ``SPUBLISH`` (sharded pub/sub, Redis 7) in one pipeline, the feed is an
``SSUBSCRIBE`` on a connection of its own to the master that owns the tag's slot, and the resync
``SCAN``s that master alone. That shard's outage is then one failure, seen by the feed (fallback,
as above), while the other masters' outages do not concern revocation at all. After a loss the
store asks the cluster client where the slot lives now (it follows ``MOVED``) and resubscribes there;
a ``sunsubscribe`` pushed by the server (the slot migrated) counts as a loss too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from typing import TYPE_CHECKING, Any, Final, Literal

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisClusterException, RedisError

from asgi_guard._feedstate import wait_for_health
from asgi_guard.auth.revocation import ExpiringSet, RevocationUnavailable
from asgi_guard.clock import SYSTEM_CLOCK, Clock
from asgi_guard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from redis.asyncio.cluster import ClusterNode

FeedLossMode = Literal["lookup", "deny"]
_log: Final = logging.getLogger("asgi_guard.auth")
_PUBLISHED: Final = frozenset({"message", "smessage"})
# What "Redis is unavailable" looks like: a RedisError, a connection failure or timeout (OSError;
# TimeoutError is one), or one of the cluster client's own errors, which are not RedisErrors (an
# uncovered slot: SlotNotCoveredError; no reachable node: RedisClusterException from initialize()).
_UNAVAILABLE: Final = (RedisError, RedisClusterException, OSError)


def hash_tag(name: str) -> str | None:
    """The hash tag of a key name (the text between the first ``{`` and the next ``}``, if not empty)."""
    start = name.find("{")
    end = name.find("}", start + 1) if start >= 0 else -1
    return name[start + 1 : end] if end > start + 1 else None


def cluster_names(prefix: str, channel: str) -> tuple[str, str]:
    """``prefix`` and ``channel`` moved into one slot: a prefix without a hash tag becomes one
    (``{prefix}``), and a channel without the prefix's tag gets it in front.

    Raises:
        ConfigurationError: an empty prefix, or one with braces but no usable hash tag (wrapping it
            would hash on something else than intended).
    """
    if hash_tag(prefix) is None:
        if not prefix or "{" in prefix or "}" in prefix:
            raise ConfigurationError.expected(
                "a prefix with a hash tag `{...}`, or a non-empty one without braces",
                prefix,
                "RedisRevocationStore.prefix",
            )
        prefix = "{" + prefix + "}"
    tag = hash_tag(prefix)
    if hash_tag(channel) != tag:
        channel = "{" + str(tag) + "}" + channel
    return prefix, channel


class RedisRevocationStore:
    """Revocations shared by every instance through Redis.

    Args:
        client: a ``redis.asyncio.Redis`` or ``redis.asyncio.cluster.RedisCluster`` client owned by
            the caller.
        prefix: key prefix of revoked ids (``<prefix>used:<id>`` marks used refresh tokens). On a
            cluster it gets a hash tag if it has none (``{asgi_guard:revoked:}<id>``).
        channel: the pub/sub channel (on a cluster: a shard channel in the prefix's slot; the
            prefix's tag is put in front when the channel has another or none).
        on_feed_loss: ``"lookup"`` (one direct ``MGET`` per check while the feed is down) or
            ``"deny"`` (refuse every token until the feed is back).
        lookup_timeout: seconds a fallback lookup may take before the check fails closed.
        reconnect_delay: first pause before resubscribing (doubles up to 2 s).
        clock: the time source for expiries.
    """

    __slots__ = (
        "_changed",
        "_client",
        "_clock",
        "_cluster",
        "_healthy",
        "_revoked",
        "_sub_client",
        "_task",
        "channel",
        "lookup_timeout",
        "on_feed_loss",
        "prefix",
        "reconnect_delay",
    )

    def __init__(
        self,
        client: aioredis.Redis | RedisCluster,
        *,
        prefix: str = "asgi_guard:revoked:",
        channel: str = "asgi_guard:revocations",
        on_feed_loss: FeedLossMode = "lookup",
        lookup_timeout: float = 0.25,
        reconnect_delay: float = 0.05,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._cluster = isinstance(client, RedisCluster)
        if not self._cluster and not isinstance(getattr(client, "connection_pool", None), aioredis.ConnectionPool):
            # The feed needs its own connection built from the client's connection settings.
            raise ConfigurationError.expected(
                "a redis.asyncio.Redis or RedisCluster client", type(client).__name__, "RedisRevocationStore.client"
            )
        if self._cluster:
            prefix, channel = cluster_names(prefix, channel)
        if on_feed_loss not in ("lookup", "deny"):
            raise ConfigurationError.expected("'lookup' or 'deny'", on_feed_loss, "RedisRevocationStore.on_feed_loss")
        self._client = client
        self.prefix = prefix
        self.channel = channel
        self.on_feed_loss = on_feed_loss
        self.lookup_timeout = lookup_timeout
        self.reconnect_delay = reconnect_delay
        self._clock = clock
        self._revoked = ExpiringSet()
        self._healthy = False
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._sub_client: aioredis.Redis | None = None

    @property
    def healthy(self) -> bool:
        """Whether checks are answered from the in-memory mirror (feed up and synced)."""
        return self._healthy

    async def is_revoked(self, token_ids: Iterable[str]) -> bool:
        ids = tuple(token_ids)
        now = self._clock.time()
        if any(self._revoked.get(token_id, now) is not None for token_id in ids):
            return True
        if self._healthy:
            return False
        if self.on_feed_loss == "deny":
            raise RevocationUnavailable("revocation feed lost")
        try:
            found = await asyncio.wait_for(
                self._client.mget([self.prefix + token_id for token_id in ids]), self.lookup_timeout
            )
        except _UNAVAILABLE as exc:
            raise RevocationUnavailable("revocation lookup failed") from exc
        return any(value is not None for value in found)

    async def revoke(self, token_id: str, expires_at: float) -> None:
        now = self._clock.time()
        remaining_ms = math.ceil((expires_at - now) * 1000)
        if remaining_ms <= 0:
            return
        self._revoked.add(token_id, expires_at, now)
        message = f"{token_id} {expires_at!r}"
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.set(self.prefix + token_id, repr(expires_at), px=remaining_ms)
            if self._cluster:
                pipe.spublish(self.channel, message)
            else:
                pipe.publish(self.channel, message)
            await pipe.execute()

    async def claim_refresh(self, token_id: str, expires_at: float) -> float | None:
        now = self._clock.time()
        name = f"{self.prefix}used:{token_id}"
        ttl_ms = max(1, math.ceil((expires_at - now) * 1000))
        if await self._client.set(name, repr(now), nx=True, px=ttl_ms):
            return None
        first = await self._client.get(name)
        return float(first) if first is not None else now

    async def start(self, timeout: float = 2.0) -> None:
        """Subscribe and load the revoked set (waits up to ``timeout`` for the first sync; until
        then checks take the fallback path). Idempotent."""
        if self._task is not None:
            return
        if not isinstance(self._client, RedisCluster):  # on a cluster: per (re)subscription, see _subscriber
            pool = self._client.connection_pool
            self._sub_client = _no_retry_client(pool.connection_class, pool.connection_kwargs)
        self._task = asyncio.create_task(self._run(), name="asgi_guard-revocation-feed")
        await self.wait_for_state(healthy=True, timeout=timeout)

    async def aclose(self) -> None:
        """Stop the feed and close the subscription connection."""
        task, self._task = self._task, None
        # Cancelled until it has ended: a cancellation landing just as a read times out can be absorbed
        # by redis-py's timeout handling (the read returns None and the loop goes on).
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=0.1)  # waits without re-raising the task's CancelledError
        await self._set_healthy(False)
        sub, self._sub_client = self._sub_client, None
        if sub is not None:
            await sub.aclose(close_connection_pool=True)

    async def wait_for_state(self, *, healthy: bool, timeout: float) -> bool:
        """Wait until the feed is (or is not) healthy; ``False`` on timeout. For readiness probes."""
        return await wait_for_health(self._changed, lambda: self._healthy, healthy, timeout)

    async def _set_healthy(self, value: bool) -> None:
        async with self._changed:
            self._healthy = value
            self._changed.notify_all()

    async def _subscriber(self) -> aioredis.Redis:
        """The client the feed subscribes with: on a cluster, one to the master owning the channel's
        slot now (asked through the cluster client, which follows ``MOVED`` and refreshes its map)."""
        client = self._client
        if not isinstance(client, RedisCluster):
            assert self._sub_client is not None  # noqa: S101 - set by start() before the task exists
            return self._sub_client
        await client.exists(self.prefix)  # a keyed command in the slot: reachable, and routed afresh
        node = _owner(client, self.channel)
        sub = self._sub_client
        if sub is not None:
            self._sub_client = None
            await sub.aclose(close_connection_pool=True)
        kwargs = dict(node.connection_kwargs)
        # The cluster's own maintenance-notification handler belongs to the cluster's pools.
        kwargs.pop("oss_cluster_maint_notifications_handler", None)
        self._sub_client = _no_retry_client(node.connection_class, kwargs)
        return self._sub_client

    async def _run(self) -> None:
        delay = self.reconnect_delay
        while True:
            pubsub: Any = None
            try:
                pubsub = (await self._subscriber()).pubsub()
                if self._cluster:
                    await pubsub.ssubscribe(self.channel)
                else:
                    await pubsub.subscribe(self.channel)
                # Load only once the server confirmed the subscription: nothing published after
                # the load can then be missed.
                while (await pubsub.get_message(timeout=1.0)) is None:
                    pass
                await self._resync()
                await self._set_healthy(True)
                delay = self.reconnect_delay
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is None:
                        self._revoked.prune(self._clock.time())
                    elif message["type"] in _PUBLISHED:
                        self._apply(message["data"])
                    elif message["type"] == "sunsubscribe":  # the slot moved away: the feed ends here
                        raise aioredis.ConnectionError("shard channel unsubscribed by the server")
            except _UNAVAILABLE as exc:
                if self._healthy:
                    _log.warning(
                        "revocation feed lost (%s); checks fall back to %s", type(exc).__name__, self.on_feed_loss
                    )
                await self._set_healthy(False)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _apply(self, data: bytes) -> None:
        token_id, _, expiry = data.decode("utf-8", "replace").rpartition(" ")
        try:
            expires_at = float(expiry)
        except ValueError:
            return  # not ours: ignore foreign messages on the channel
        if token_id:
            self._revoked.add(token_id, expires_at, self._clock.time())

    async def _resync(self) -> None:
        loaded: dict[str, float] = {}
        start = len(self.prefix)
        batch: list[bytes] = []
        client = self._client
        if isinstance(client, RedisCluster):
            # Every key of the store is in the prefix's slot: scan its master only.
            names = client.scan_iter(match=self.prefix + "*", count=1000, target_nodes=_owner(client, self.prefix))
        else:
            names = client.scan_iter(match=self.prefix + "*", count=1000)
        async for name in names:
            if not name[start:].startswith(b"used:"):
                batch.append(name)
            if len(batch) >= 1000:
                await self._load(batch, loaded, start)
                batch = []
        if batch:
            await self._load(batch, loaded, start)
        now = self._clock.time()
        # Union with what is already known: forgetting a revocation is never safe, remembering
        # one a little longer is.
        self._revoked.merge(loaded, now)

    async def _load(self, names: list[bytes], into: dict[str, float], start: int) -> None:
        for name, value in zip(names, await self._client.mget(names), strict=True):
            if value is not None:
                with contextlib.suppress(ValueError):
                    into[name[start:].decode("utf-8", "replace")] = float(value)


def _owner(client: RedisCluster, key: str) -> ClusterNode:
    """The master serving ``key``'s slot (an uncovered slot raises ``SlotNotCoveredError``, one of
    ``_UNAVAILABLE``: a lost feed, like a dead server)."""
    node = client.get_node_from_key(key)
    assert node is not None  # noqa: S101 - only a replica lookup returns None; the master is slot_cache[0]
    return node


def _no_retry_client(connection_class: Any, connection_kwargs: dict[str, Any]) -> aioredis.Redis:
    """A client of its own pool with retries off: a dropped feed connection must surface at once."""
    kwargs = {**connection_kwargs, "retry": Retry(NoBackoff(), 0)}
    return aioredis.Redis(connection_pool=aioredis.ConnectionPool(connection_class=connection_class, **kwargs))


__all__ = ("FeedLossMode", "RedisRevocationStore", "cluster_names", "hash_tag")
