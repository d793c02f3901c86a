"""SQL persistence (the ``asgi-guard[sql]`` extra): PostgreSQL in production, SQLite embedded.

SQLAlchemy 2 async Core (asyncpg, aiosqlite): every statement is parameterised by construction and
one code path serves both databases. Import this package only when the extra is installed;
``import asgi_guard`` never imports it.
"""

from __future__ import annotations

from asgi_guard.sql.api_keys import APIKeyStoreUnavailable, SQLAPIKeyStore
from asgi_guard.sql.database import SQLDatabase
from asgi_guard.sql.migrate import current, grants, upgrade
from asgi_guard.sql.provider_tokens import SQLProviderTokenStore
from asgi_guard.sql.revocation import SQLRevocationStore

__all__ = (
    "APIKeyStoreUnavailable",
    "SQLAPIKeyStore",
    "SQLDatabase",
    "SQLProviderTokenStore",
    "SQLRevocationStore",
    "current",
    "grants",
    "upgrade",
)
