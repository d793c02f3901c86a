"""Initial schema: API keys, revocations, refresh-token claims, sealed provider tokens.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "asgi_guard_api_keys",
        sa.Column("key_hash", sa.String(64), primary_key=True, comment="SHA-256 hex digest of the key"),
        sa.Column("record", sa.Text, nullable=False, comment="the APIKeyRecord as JSON (never the key)"),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=True),
        sa.Column("last_used_at", sa.Float, nullable=True),
    )
    op.create_table(
        "asgi_guard_revocations",
        sa.Column("id_hash", sa.String(64), primary_key=True, comment="SHA-256 of a revoked jti or refresh family id"),
        sa.Column("expires_at", sa.Float, nullable=False, comment="kept until the tokens it refuses have expired"),
    )
    op.create_index("ix_asgi_guard_revocations_expires_at", "asgi_guard_revocations", ["expires_at"])
    op.create_table(
        "asgi_guard_refresh_claims",
        sa.Column("id_hash", sa.String(64), primary_key=True, comment="SHA-256 of a used refresh token's jti"),
        sa.Column("first_used_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_asgi_guard_refresh_claims_expires_at", "asgi_guard_refresh_claims", ["expires_at"])
    op.create_table(
        "asgi_guard_provider_tokens",
        sa.Column("user_id", sa.Text, primary_key=True),
        sa.Column("provider", sa.Text, primary_key=True),
        sa.Column("access_token", sa.Text, nullable=False, comment="sealed: v1.<kid>.<ciphertext>"),
        sa.Column("refresh_token", sa.Text, nullable=True, comment="sealed: v1.<kid>.<ciphertext>"),
        sa.Column("expires_at", sa.Float, nullable=True),
        sa.Column("meta", sa.Text, nullable=False, comment="scopes, token type, provider user id as JSON"),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("asgi_guard_provider_tokens")
    op.drop_index("ix_asgi_guard_refresh_claims_expires_at", "asgi_guard_refresh_claims")
    op.drop_table("asgi_guard_refresh_claims")
    op.drop_index("ix_asgi_guard_revocations_expires_at", "asgi_guard_revocations")
    op.drop_table("asgi_guard_revocations")
    op.drop_table("asgi_guard_api_keys")
