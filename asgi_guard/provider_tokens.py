"""Third-party provider tokens (Twitch, Discord, Slack, Google...): the record, the store Protocol, a memory store.

OAuth login keeps each user's access and refresh token per provider. Stores seal the secrets with a
:class:`~asgi_guard.sealing.SealingKeyRing` under a context naming the row and the field
(:func:`token_context`), so a sealed access token copied into another user's row, or into the
refresh column, does not open. No optional dependency is imported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal, Protocol

import msgspec

from asgi_guard.errors import ConfigurationError

if TYPE_CHECKING:
    from asgi_guard.sealing import SealingKeyRing

MAX_ID_CHARS: Final = 512


class ProviderToken(msgspec.Struct, frozen=True, kw_only=True):
    """One user's tokens at one provider.

    Attributes:
        user_id: our user id.
        provider: ``"twitch"``, ``"discord"``, ``"slack"``, ``"google"`` or a custom name.
        access_token: the provider's access token (a secret: sealed at rest).
        refresh_token: the provider's refresh token, if any (a secret: sealed at rest).
        expires_at: when the access token expires, epoch seconds (``None``: unknown).
        scopes: the scopes granted.
        token_type: usually ``"Bearer"``.
        provider_user_id: the user's id at the provider.
        updated_at: when the record was last written, epoch seconds.

    Raises:
        ConfigurationError: an empty or over-long ``user_id``/``provider``, or one containing NUL.
    """

    user_id: str
    provider: str
    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    scopes: tuple[str, ...] = ()
    token_type: str = "Bearer"  # noqa: S105 - a token type name, not a secret
    provider_user_id: str = ""
    updated_at: float = 0.0

    def __post_init__(self) -> None:
        for name, value in (("user_id", self.user_id), ("provider", self.provider)):
            if not value or len(value) > MAX_ID_CHARS or "\x00" in value:
                raise ConfigurationError.expected(
                    f"1-{MAX_ID_CHARS} characters without NUL", f"<{len(value)} chars>", f"ProviderToken.{name}"
                )

    def __repr__(self) -> str:  # the tokens are secrets
        return (
            f"ProviderToken(user_id={self.user_id!r}, provider={self.provider!r}, "
            f"expires_at={self.expires_at!r}, scopes={self.scopes!r})"
        )


class ProviderTokenStore(Protocol):
    """Where provider tokens live, one record per (user, provider)."""

    async def get(self, user_id: str, provider: str) -> ProviderToken | None:
        """The record, or ``None``."""
        ...

    async def put(self, token: ProviderToken) -> None:
        """Store (or replace) the record for ``(token.user_id, token.provider)``."""
        ...

    async def delete(self, user_id: str, provider: str) -> bool:
        """Remove the record; ``False`` when there was none."""
        ...

    async def list_for_user(self, user_id: str) -> list[ProviderToken]:
        """Every record of ``user_id``, ordered by provider."""
        ...


def token_context(user_id: str, provider: str, field: Literal["access", "refresh", "record"]) -> bytes:
    """The sealing context binding a secret to its row and field (an unambiguous JSON array)."""
    return msgspec.json.encode(["asgi_guard.provider_token", user_id, provider, field])


class MemoryProviderTokenStore:
    """Provider tokens in process memory: sealed when given a ring, else plaintext (tests, one process).

    Args:
        ring: seals each record (the process then holds no token in plaintext between calls).
    """

    __slots__ = ("_records", "_ring")

    def __init__(self, ring: SealingKeyRing | None = None) -> None:
        self._ring = ring
        self._records: dict[tuple[str, str], ProviderToken | str] = {}

    async def get(self, user_id: str, provider: str) -> ProviderToken | None:
        held = self._records.get((user_id, provider))
        if isinstance(held, str) and self._ring is not None:  # a str is only ever stored with a ring
            raw = self._ring.open(held, context=token_context(user_id, provider, "record"))
            return msgspec.json.decode(raw, type=ProviderToken)
        return held if isinstance(held, ProviderToken) else None

    async def put(self, token: ProviderToken) -> None:
        key = (token.user_id, token.provider)
        if self._ring is None:
            self._records[key] = token
        else:
            context = token_context(token.user_id, token.provider, "record")
            self._records[key] = self._ring.seal(msgspec.json.encode(token), context=context)

    async def delete(self, user_id: str, provider: str) -> bool:
        return self._records.pop((user_id, provider), None) is not None

    async def list_for_user(self, user_id: str) -> list[ProviderToken]:
        providers = sorted(provider for user, provider in self._records if user == user_id)
        found = [await self.get(user_id, provider) for provider in providers]
        return [token for token in found if token is not None]

    def __repr__(self) -> str:
        return f"MemoryProviderTokenStore(records={len(self._records)}, sealed={self._ring is not None})"


__all__ = ("MAX_ID_CHARS", "MemoryProviderTokenStore", "ProviderToken", "ProviderTokenStore", "token_context")
