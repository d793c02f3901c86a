"""Apply and report the schema's migrations, and print least-privilege grants for it."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.dialects import postgresql

from asgi_guard.sql.schema import TABLES, VERSION_TABLE

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from asgi_guard.sql.database import SQLDatabase


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("asgi_guard.sql") / "migrations"))
    config.attributes["connection"] = connection
    return config


async def upgrade(db: SQLDatabase, revision: str = "head") -> str | None:
    """Apply the migrations up to ``revision``; returns the revision now current."""

    def run(connection: Connection) -> None:
        command.upgrade(_config(connection), revision)

    async with db.engine.begin() as connection:
        await connection.run_sync(run)
    return await current(db)


async def current(db: SQLDatabase) -> str | None:
    """The schema revision of the database (``None``: never migrated)."""

    def read(connection: Connection) -> str | None:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        revision: str | None = context.get_current_revision()
        return revision

    async with db.engine.connect() as connection:
        return await connection.run_sync(read)


def grants(app_role: str, readonly_role: str | None = None) -> str:
    """PostgreSQL statements giving ``app_role`` SELECT/INSERT/UPDATE/DELETE on asgi_guard's tables
    only (no CREATE, no DDL) and ``readonly_role`` SELECT. Run them as the schema's owner after
    ``db upgrade``; role names are quoted by SQLAlchemy's PostgreSQL identifier preparer."""
    quote: Any = postgresql.dialect().identifier_preparer.quote_identifier  # type: ignore[no-untyped-call]
    tables = ", ".join(quote(table.name) for table in TABLES)
    lines = [
        "-- asgi_guard least-privilege grants (PostgreSQL). Run as the owner of the schema, after `db upgrade`.",
        "-- Nobody but the owner may create objects in the schema.",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
        f"GRANT USAGE ON SCHEMA public TO {quote(app_role)};",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {tables} TO {quote(app_role)};",
        f"GRANT SELECT ON TABLE {quote(VERSION_TABLE)} TO {quote(app_role)};",
    ]
    if readonly_role:
        lines += [
            f"GRANT USAGE ON SCHEMA public TO {quote(readonly_role)};",
            f"GRANT SELECT ON TABLE {tables} TO {quote(readonly_role)};",
        ]
    return "\n".join(lines) + "\n"


__all__ = ("current", "grants", "upgrade")
