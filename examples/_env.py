"""How the examples get their secret: from the environment, or a clear stop at start-up."""

from __future__ import annotations

import os

SECRET_ENV = "ASGI_GUARD_JWT_SECRET"


def secret_from_env(example: str) -> str:
    """The signing secret, or ``SystemExit`` with a message saying what to set (never a 500 later)."""
    secret = os.environ.get(SECRET_ENV, "")
    if len(secret.encode()) < 32:
        raise SystemExit(
            f"{example}: set {SECRET_ENV} to a secret of 32 bytes or more before starting it, for example\n"
            f"  export {SECRET_ENV}=\"$(python -c 'import secrets; print(secrets.token_urlsafe(32))')\""
        )
    return secret
