"""Statements both dialects need in their own spelling: upsert, and a notification inside a transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from asgi_guard.sql.database import CHANNEL

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncConnection
    from sqlalchemy.sql.dml import Insert


def insert_for(connection: AsyncConnection, table: Table) -> Any:
    """The dialect's ``INSERT`` (it knows ``ON CONFLICT``) for ``table``."""
    module = postgresql if connection.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def upsert(
    connection: AsyncConnection, table: Table, values: Mapping[str, Any], keys: Sequence[str], *, where: Any = None
) -> Insert:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE`` setting every non-key column (optionally only ``where``)."""
    statement = insert_for(connection, table).values(**values)
    changes = {name: statement.excluded[name] for name in values if name not in keys}
    result: Insert = statement.on_conflict_do_update(index_elements=list(keys), set_=changes, where=where)
    return result


async def notify(connection: AsyncConnection, payload: str) -> None:
    """Queue a notification, delivered to every listener when the transaction commits (PostgreSQL only)."""
    if connection.dialect.name == "postgresql":
        await connection.execute(select(func.pg_notify(CHANNEL, payload)))


__all__ = ("insert_for", "notify", "upsert")
