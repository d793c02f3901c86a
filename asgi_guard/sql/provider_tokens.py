"""Provider tokens in SQL, sealed by the application: the database holds ciphertext and never a key.

Each secret is sealed under a context naming its row and field
(:func:`asgi_guard.provider_tokens.token_context`), so a ciphertext copied to another row or column
does not open. :meth:`SQLProviderTokenStore.reseal` re-encrypts every row under the ring's current key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import msgspec
from sqlalchemy import delete, select, update

from asgi_guard.provider_tokens import ProviderToken, token_context
from asgi_guard.sql.schema import provider_tokens
from asgi_guard.sql.statements import upsert

if TYPE_CHECKING:
    from asgi_guard.sealing import SealingKeyRing
    from asgi_guard.sql.database import SQLDatabase


class _Meta(msgspec.Struct, frozen=True):
    scopes: tuple[str, ...] = ()
    token_type: str = "Bearer"  # noqa: S105 - a token type name, not a secret
    provider_user_id: str = ""


_encoder: Final = msgspec.json.Encoder()


class SQLProviderTokenStore:
    """A :class:`~asgi_guard.provider_tokens.ProviderTokenStore` on PostgreSQL or SQLite, sealed.

    Args:
        db: the shared :class:`~asgi_guard.sql.SQLDatabase`.
        ring: the sealing keys (from the environment or a file).
    """

    __slots__ = ("_db", "_ring")

    def __init__(self, db: SQLDatabase, ring: SealingKeyRing) -> None:
        self._db = db
        self._ring = ring

    async def get(self, user_id: str, provider: str) -> ProviderToken | None:
        statement = select(provider_tokens).where(
            provider_tokens.c.user_id == user_id, provider_tokens.c.provider == provider
        )
        async with self._db.reader.connect() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else self._open(row)

    async def put(self, token: ProviderToken) -> None:
        seal = self._ring.seal
        user, provider = token.user_id, token.provider
        meta = _Meta(token.scopes, token.token_type, token.provider_user_id)
        values = {
            "user_id": user,
            "provider": provider,
            "access_token": seal(token.access_token.encode(), context=token_context(user, provider, "access")),
            "refresh_token": None
            if token.refresh_token is None
            else seal(token.refresh_token.encode(), context=token_context(user, provider, "refresh")),
            "expires_at": token.expires_at,
            "meta": _encoder.encode(meta).decode("utf-8"),
            "updated_at": token.updated_at,
        }
        async with self._db.engine.begin() as connection:
            await connection.execute(upsert(connection, provider_tokens, values, ("user_id", "provider")))

    async def delete(self, user_id: str, provider: str) -> bool:
        statement = delete(provider_tokens).where(
            provider_tokens.c.user_id == user_id, provider_tokens.c.provider == provider
        )
        async with self._db.engine.begin() as connection:
            return bool((await connection.execute(statement)).rowcount)

    async def list_for_user(self, user_id: str) -> list[ProviderToken]:
        statement = (
            select(provider_tokens).where(provider_tokens.c.user_id == user_id).order_by(provider_tokens.c.provider)
        )
        async with self._db.reader.connect() as connection:
            return [self._open(row) for row in await connection.execute(statement)]

    def _open(self, row: Any) -> ProviderToken:
        user, provider = row.user_id, row.provider
        ring = self._ring
        meta = msgspec.json.decode(row.meta, type=_Meta)
        refresh = row.refresh_token
        return ProviderToken(
            user_id=user,
            provider=provider,
            access_token=ring.open(row.access_token, context=token_context(user, provider, "access")).decode(),
            refresh_token=None
            if refresh is None
            else ring.open(refresh, context=token_context(user, provider, "refresh")).decode(),
            expires_at=row.expires_at,
            scopes=meta.scopes,
            token_type=meta.token_type,
            provider_user_id=meta.provider_user_id,
            updated_at=row.updated_at,
        )

    async def reseal(self, batch: int = 500) -> int:
        """Re-encrypt every secret not sealed under the ring's current key; returns the rows changed.

        Each row is updated only if it still holds what was read (a concurrent ``put`` wins).

        Raises:
            SealedValueError: a row does not open with this ring (a key is missing): nothing after it is changed.
        """
        ring, table = self._ring, provider_tokens
        changed = 0
        after: tuple[str, str] = ("", "")
        while True:
            statement = (
                select(table.c.user_id, table.c.provider, table.c.access_token, table.c.refresh_token)
                .where((table.c.user_id > after[0]) | ((table.c.user_id == after[0]) & (table.c.provider > after[1])))
                .order_by(table.c.user_id, table.c.provider)
                .limit(batch)
            )
            async with self._db.engine.connect() as connection:
                rows = (await connection.execute(statement)).all()
            if not rows:
                return changed
            for row in rows:
                user, provider, access, refresh = row
                stale_refresh = refresh is not None and ring.needs_reseal(refresh)
                if not ring.needs_reseal(access) and not stale_refresh:
                    continue
                new_access = ring.reseal(access, context=token_context(user, provider, "access"))
                new_refresh = (
                    None if refresh is None else ring.reseal(refresh, context=token_context(user, provider, "refresh"))
                )
                same = (table.c.user_id == user) & (table.c.provider == provider) & (table.c.access_token == access)
                same &= table.c.refresh_token.is_(None) if refresh is None else table.c.refresh_token == refresh
                async with self._db.engine.begin() as connection:
                    result = await connection.execute(
                        update(table).where(same).values(access_token=new_access, refresh_token=new_refresh)
                    )
                changed += int(result.rowcount)
            after = (rows[-1][0], rows[-1][1])

    def __repr__(self) -> str:
        return f"SQLProviderTokenStore({self._db!r}, {self._ring!r})"


__all__ = ("SQLProviderTokenStore",)
