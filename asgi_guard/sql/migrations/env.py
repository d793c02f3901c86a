"""Alembic environment: runs on the connection :mod:`asgi_guard.sql.migrate` hands over (no engine of its own)."""

from __future__ import annotations

from alembic import context

from asgi_guard.sql.schema import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
