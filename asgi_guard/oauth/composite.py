"""Access tokens in an expiring store (Redis), refresh tokens in a durable one (SQL): the seed's split."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from asgi_guard.provider_tokens import ProviderToken, ProviderTokenStore


class CompositeProviderTokenStore:
    """A ``ProviderTokenStore`` keeping each record's access half in ``access`` and the rest in ``durable``.

    The access store (Redis, TTL = remaining lifetime) never holds the refresh token; the durable
    store (SQL) holds the refresh token and metadata but no access token. When the access half has
    expired, :meth:`get` returns the record with an empty access token, which ``ProviderTokens``
    refreshes.
    """

    __slots__ = ("access", "durable")

    def __init__(self, access: ProviderTokenStore, durable: ProviderTokenStore) -> None:
        self.access = access
        self.durable = durable

    async def get(self, user_id: str, provider: str) -> ProviderToken | None:
        durable = await self.durable.get(user_id, provider)
        access = await self.access.get(user_id, provider)
        if durable is None:
            return access
        if access is None:
            return msgspec.structs.replace(durable, access_token="")
        return msgspec.structs.replace(access, refresh_token=durable.refresh_token)

    async def put(self, token: ProviderToken) -> None:
        await self.durable.put(msgspec.structs.replace(token, access_token=""))
        await self.access.put(msgspec.structs.replace(token, refresh_token=None))

    async def delete(self, user_id: str, provider: str) -> bool:
        access = await self.access.delete(user_id, provider)
        durable = await self.durable.delete(user_id, provider)
        return access or durable

    async def list_for_user(self, user_id: str) -> list[ProviderToken]:
        providers = {token.provider for token in await self.durable.list_for_user(user_id)}
        providers |= {token.provider for token in await self.access.list_for_user(user_id)}
        found = [await self.get(user_id, provider) for provider in sorted(providers)]
        return [token for token in found if token is not None]


__all__ = ("CompositeProviderTokenStore",)
