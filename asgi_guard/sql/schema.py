"""The one schema of asgi_guard's SQL stores (every table is prefixed ``asgi_guard_``).

Nothing secret is stored in the clear: API keys as SHA-256 digests, revoked and used token ids as
SHA-256 digests (a dump names no token), provider tokens sealed by the application
(:mod:`asgi_guard.sealing`). Records whose fields are free text are kept as msgspec JSON (a NUL
character or any other string round-trips; PostgreSQL ``text`` cannot hold NUL itself).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import Boolean, Column, Float, Index, MetaData, String, Table, Text

metadata: Final = MetaData()

api_keys: Final = Table(
    "asgi_guard_api_keys",
    metadata,
    Column("key_hash", String(64), primary_key=True, comment="SHA-256 hex digest of the key"),
    Column("record", Text, nullable=False, comment="the APIKeyRecord as JSON (never the key)"),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("last_used_at", Float, nullable=True),
)

revocations: Final = Table(
    "asgi_guard_revocations",
    metadata,
    Column("id_hash", String(64), primary_key=True, comment="SHA-256 of a revoked jti or refresh family id"),
    Column("expires_at", Float, nullable=False, comment="kept until the tokens it refuses have expired"),
    Index("ix_asgi_guard_revocations_expires_at", "expires_at"),
)

refresh_claims: Final = Table(
    "asgi_guard_refresh_claims",
    metadata,
    Column("id_hash", String(64), primary_key=True, comment="SHA-256 of a used refresh token's jti"),
    Column("first_used_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_asgi_guard_refresh_claims_expires_at", "expires_at"),
)

provider_tokens: Final = Table(
    "asgi_guard_provider_tokens",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("provider", Text, primary_key=True),
    Column("access_token", Text, nullable=False, comment="sealed: v1.<kid>.<ciphertext>"),
    Column("refresh_token", Text, nullable=True, comment="sealed: v1.<kid>.<ciphertext>"),
    Column("expires_at", Float, nullable=True),
    Column("meta", Text, nullable=False, comment="scopes, token type, provider user id as JSON"),
    Column("updated_at", Float, nullable=False),
)

TABLES: Final = tuple(metadata.sorted_tables)
VERSION_TABLE: Final = "asgi_guard_alembic_version"

__all__ = ("TABLES", "VERSION_TABLE", "api_keys", "metadata", "provider_tokens", "refresh_claims", "revocations")
