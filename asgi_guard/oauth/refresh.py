"""Provider tokens kept fresh: stored sealed, refreshed single-flight before expiry, revoked on logout.

Discord and Slack refresh tokens are single-use: two concurrent refreshes of one grant and the
second destroys it. :meth:`ProviderTokens.get_fresh_token` therefore refreshes each (user, provider)
at most once at a time: coroutines of one process share one refresh task, and instances share a
:class:`RefreshLock` (Redis) under which the record is read again before refreshing, so an instance
that waited finds the token another instance just refreshed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from typing import TYPE_CHECKING, Final, Protocol

from asgi_guard.clock import SYSTEM_CLOCK, Clock
from asgi_guard.events.emit import DEFAULT_EMITTER
from asgi_guard.events.event import SecurityEvent
from asgi_guard.oauth.errors import ProviderError
from asgi_guard.provider_tokens import ProviderToken

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping

    from asgi_guard.events.emit import Emitter
    from asgi_guard.oauth.client import ProviderClient, TokenResponse
    from asgi_guard.provider_tokens import ProviderTokenStore

VALIDATE_EVERY: Final = 3600.0


class ProviderTokenUnavailable(Exception):
    """No usable access token: ``not_connected``, ``reauthorization_required`` (the grant is gone),
    ``provider_unavailable`` or ``lock_unavailable`` (try again later)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RefreshLock(Protocol):
    """Mutual exclusion of refreshes of one (user, provider) across coroutines and, if shared, instances."""

    def hold(self, key: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Held while ``key`` is refreshed; raises when it cannot be acquired in time."""
        ...


class LocalRefreshLock:
    """A per-process lock per key (one instance; several instances need :class:`RedisRefreshLock`)."""

    __slots__ = ("_locks",)

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and self._locks.get(key) is lock:
                del self._locks[key]


class ProviderTokens:
    """The provider tokens of our users: store, refresh, validate, revoke.

    Args:
        store: a ``ProviderTokenStore`` (memory, SQL, Redis, or the Redis + SQL composite), sealing.
        lock: the refresh lock (default: per process; use ``RedisRefreshLock`` with several instances).
        clock: the time source.
        emitter: where the security events of refreshes, validations and revocations go.
    """

    def __init__(
        self,
        store: ProviderTokenStore,
        *,
        lock: RefreshLock | None = None,
        clock: Clock = SYSTEM_CLOCK,
        emitter: Emitter | None = None,
    ) -> None:
        self.store = store
        self.lock: RefreshLock = lock if lock is not None else LocalRefreshLock()
        self.clock = clock
        self.emitter = emitter if emitter is not None else DEFAULT_EMITTER
        self.clients: Mapping[str, ProviderClient] = {}
        self._inflight: dict[tuple[str, str], asyncio.Future[str]] = {}

    def attach(self, clients: Mapping[str, ProviderClient]) -> None:
        """Use these provider clients (the login app calls this with its own)."""
        self.clients = clients

    async def store_tokens(
        self, user_id: str, provider: str, tokens: TokenResponse, *, provider_user_id: str = ""
    ) -> ProviderToken:
        """Keep the tokens of a login (or a refresh) for ``user_id`` at ``provider``."""
        token = ProviderToken(
            user_id=user_id,
            provider=provider,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_at=tokens.expires_at,
            scopes=tokens.scopes,
            token_type=tokens.token_type,
            provider_user_id=provider_user_id,
            updated_at=self.clock.time(),
        )
        await self.store.put(token)
        return token

    def _due(self, token: ProviderToken) -> bool:
        if not token.access_token:
            return True  # the composite store lost the access half: refresh
        if token.expires_at is None:
            return False  # no lifetime given: used until the provider says 401
        client = self.clients.get(token.provider)
        margin = client.provider.refresh_margin if client is not None else 300.0
        return self.clock.time() >= token.expires_at - margin

    async def get_fresh_token(self, user_id: str, provider: str) -> str:
        """A valid access token for ``user_id`` at ``provider``, refreshed first when it expires soon.

        Raises:
            ProviderTokenUnavailable: none stored, the grant is gone, or the provider/lock is down.
        """
        token = await self.store.get(user_id, provider)
        if token is None:
            raise ProviderTokenUnavailable("not_connected")
        if not self._due(token):
            return token.access_token
        key = (user_id, provider)
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._refresh(user_id, provider))
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        # shield: one caller giving up (cancelled) must not cancel the refresh the others wait on.
        return await asyncio.shield(task)

    async def _refresh(self, user_id: str, provider: str) -> str:
        try:
            async with self.lock.hold(f"{provider}:{user_id}"):
                # Read again under the lock: another instance may have refreshed while we waited.
                token = await self.store.get(user_id, provider)
                if token is None:
                    raise ProviderTokenUnavailable("not_connected")
                if not self._due(token):
                    return token.access_token
                return await self._refresh_locked(token)
        except ProviderTokenUnavailable:
            raise
        except Exception as exc:  # the lock's backend (Redis) failed or timed out: fail closed
            self._event("provider_token_refresh", "error", f"lock_unavailable:{type(exc).__name__}", user_id, provider)
            raise ProviderTokenUnavailable("lock_unavailable") from exc

    async def _refresh_locked(self, token: ProviderToken) -> str:
        client = self.clients.get(token.provider)
        if client is None or not token.refresh_token:
            self._event("provider_token_refresh", "deny", "no_refresh_token", token.user_id, token.provider)
            raise ProviderTokenUnavailable("reauthorization_required")
        try:
            fresh = await client.refresh(token.refresh_token)
        except ProviderError as exc:
            if exc.unavailable:
                self._event("provider_token_refresh", "error", exc.reason, token.user_id, token.provider)
                raise ProviderTokenUnavailable("provider_unavailable") from exc
            # invalid_grant and friends: the grant is dead; keeping it would only fail again.
            await self.store.delete(token.user_id, token.provider)
            self._event("provider_token_refresh", "deny", exc.reason, token.user_id, token.provider)
            raise ProviderTokenUnavailable("reauthorization_required") from exc
        stored = await self.store_tokens(token.user_id, token.provider, fresh, provider_user_id=token.provider_user_id)
        self._event("provider_token_refresh", "allow", "refreshed", token.user_id, token.provider)
        return stored.access_token

    async def revoke_provider_tokens(self, user_id: str) -> int:
        """Revoke every provider token of ``user_id`` at its provider and delete it here; returns how many.

        A provider that cannot be reached is logged (the local copy is deleted regardless: we
        never keep a token the user asked us to drop).
        """
        count = 0
        for token in await self.store.list_for_user(user_id):
            client = self.clients.get(token.provider)
            if client is not None:
                try:
                    if token.access_token:
                        await client.revoke(token.access_token)
                    if token.refresh_token and client.provider.revocation == "rfc7009":
                        await client.revoke(token.refresh_token, hint="refresh_token")
                except ProviderError as exc:
                    self._event("provider_token_revoke", "error", exc.reason, user_id, token.provider)
            await self.store.delete(user_id, token.provider)
            self._event("provider_token_revoke", "allow", "revoked", user_id, token.provider)
            count += 1
        return count

    async def validate_stored(self, user_ids: Iterable[str]) -> int:
        """Validate the stored tokens of providers that ask for it (Twitch); drop invalid ones; returns how many."""
        dropped = 0
        for user_id in user_ids:
            for token in await self.store.list_for_user(user_id):
                client = self.clients.get(token.provider)
                if client is None or not client.provider.validate_url or not token.access_token:
                    continue
                try:
                    valid = await client.validate(token.access_token)
                except ProviderError as exc:
                    self._event("provider_token_validate", "error", exc.reason, user_id, token.provider)
                    continue
                if not valid:
                    await self.store.delete(user_id, token.provider)
                    self._event("provider_token_validate", "deny", "invalid", user_id, token.provider)
                    dropped += 1
        return dropped

    async def run_validation(
        self, user_ids: Callable[[], Awaitable[Iterable[str]]], *, every: float = VALIDATE_EVERY
    ) -> None:
        """Validate at start-up and then every ``every`` seconds, forever (run it as a background task)."""
        while True:
            await self.validate_stored(await user_ids())
            await asyncio.sleep(every)

    def _event(self, kind: str, result: str, reason: str, user_id: str, provider: str) -> None:
        self.emitter(
            SecurityEvent(
                type=kind,
                result=result,
                time=self.clock.time(),
                principal_id=user_id[:256],
                reason=reason[:256],
                extra={"provider": provider[:64]},
            )
        )


def remaining_ttl(token: ProviderToken, now: float, default: float) -> int:
    """Seconds a store should keep ``token``: the access token's remaining lifetime (at least 1)."""
    if token.expires_at is None:
        return max(1, math.ceil(default))
    return max(1, math.ceil(token.expires_at - now))


__all__ = (
    "LocalRefreshLock",
    "ProviderTokenUnavailable",
    "ProviderTokens",
    "RefreshLock",
    "remaining_ttl",
)
