"""Provider tokens in Redis, sealed, each record expiring with its access token (TTL = remaining lifetime).

Keys: ``{prefix}:{<user>}:<provider>`` holds the sealed record, ``{prefix}:{<user>}:index`` the set of
the user's providers; the ``{<user>}`` hash tag keeps both in one Redis Cluster slot. Ids are
percent-encoded in keys, so no user or provider name can forge another's key. Public redis-py API
only (``get``, ``set``, ``pipeline``), on ``redis.asyncio.Redis`` or ``RedisCluster``.

Records expire with the access token: keep refresh tokens durable with
:class:`~asgi_guard.oauth.composite.CompositeProviderTokenStore` (access here, refresh in SQL).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import msgspec

from asgi_guard.errors import ConfigurationError
from asgi_guard.oauth.refresh import remaining_ttl
from asgi_guard.provider_tokens import ProviderToken, token_context
from asgi_guard.sealing import SealingKeyRing

if TYPE_CHECKING:
    from asgi_guard.clock import Clock

INDEX_TTL: Final = 90 * 86400


class RedisProviderTokenStore:
    """A ``ProviderTokenStore`` on Redis (sealed records, TTL = remaining access-token lifetime).

    Args:
        client: a ``redis.asyncio.Redis`` or ``RedisCluster``.
        ring: the sealing key ring (required: tokens are never stored in plaintext).
        prefix: the key prefix.
        default_ttl: seconds to keep a record whose lifetime the provider did not say.
        clock: the time source.
    """

    __slots__ = ("_clock", "client", "default_ttl", "prefix", "ring")

    def __init__(
        self,
        client: Any,
        ring: SealingKeyRing,
        *,
        prefix: str = "asgi_guard:ptok",
        default_ttl: float = 3600.0,
        clock: Clock | None = None,
    ) -> None:
        if not isinstance(ring, SealingKeyRing):
            raise ConfigurationError.expected("a SealingKeyRing", type(ring).__name__, "RedisProviderTokenStore.ring")
        if default_ttl < 1:
            raise ConfigurationError.expected("a default_ttl >= 1", default_ttl, "RedisProviderTokenStore")
        self.client = client
        self.ring = ring
        self.prefix = prefix
        self.default_ttl = default_ttl
        self._clock = clock

    def _key(self, user_id: str, provider: str) -> str:
        return f"{self.prefix}:{{{quote(user_id, safe='')}}}:{quote(provider, safe='')}"

    def _index(self, user_id: str) -> str:
        return f"{self.prefix}:{{{quote(user_id, safe='')}}}:index"

    def _now(self) -> float:
        return self._clock.time() if self._clock is not None else time.time()

    async def get(self, user_id: str, provider: str) -> ProviderToken | None:
        sealed = await self.client.get(self._key(user_id, provider))
        if sealed is None:
            return None
        text = sealed.decode() if isinstance(sealed, bytes) else str(sealed)
        raw = self.ring.open(text, context=token_context(user_id, provider, "record"))
        return msgspec.json.decode(raw, type=ProviderToken)

    async def put(self, token: ProviderToken) -> None:
        context = token_context(token.user_id, token.provider, "record")
        sealed = self.ring.seal(msgspec.json.encode(token), context=context)
        ttl = remaining_ttl(token, self._now(), self.default_ttl)
        index = self._index(token.user_id)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.set(self._key(token.user_id, token.provider), sealed, ex=ttl)
            pipe.sadd(index, token.provider)
            pipe.expire(index, INDEX_TTL)
            await pipe.execute()

    async def delete(self, user_id: str, provider: str) -> bool:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.delete(self._key(user_id, provider))
            pipe.srem(self._index(user_id), provider)
            deleted, _ = await pipe.execute()
        return bool(deleted)

    async def list_for_user(self, user_id: str) -> list[ProviderToken]:
        members = await self.client.smembers(self._index(user_id))
        names = sorted(member.decode() if isinstance(member, bytes) else str(member) for member in members)
        found: list[ProviderToken] = []
        for provider in names:
            token = await self.get(user_id, provider)
            if token is None:
                await self.client.srem(self._index(user_id), provider)  # expired: forget it
            else:
                found.append(token)
        return found

    def __repr__(self) -> str:
        return f"RedisProviderTokenStore(prefix={self.prefix!r})"


__all__ = ("RedisProviderTokenStore",)
