"""The environment variables the command line reads, named once (the help text and the code agree)."""

from __future__ import annotations

from typing import Final

KEY_STORE_ENV: Final = "ASGI_GUARD_KEY_STORE"
DATABASE_URL_ENV: Final = "ASGI_GUARD_DATABASE_URL"
JWT_SECRET_ENV: Final = "ASGI_GUARD_JWT_SECRET"  # noqa: S105 - the variable's name, not a secret
JWT_KID_ENV: Final = "ASGI_GUARD_JWT_KID"

__all__ = ("DATABASE_URL_ENV", "JWT_KID_ENV", "JWT_SECRET_ENV", "KEY_STORE_ENV")
