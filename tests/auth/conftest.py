"""Shared helpers for the authentication tests: a fake clock, a key ring and a raw token signer."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from asgi_guard.auth import JWTKey, KeyRing
from asgi_guard.testing import FakeClock

SECRET = b"k" * 32
"""A 32-byte HS256 test secret."""
NOW = 1_700_000_000.0


def sign(
    claims: dict[str, Any], secret: bytes = SECRET, *, alg: str = "HS256", headers: dict[str, Any] | None = None
) -> str:
    """A token signed with ``secret`` whose header carries ``kid=k1`` unless ``headers`` say otherwise."""
    merged = {"kid": "k1", **(headers or {})}
    return jwt.encode(claims, secret, algorithm=alg, headers=merged)


def claims(**overrides: Any) -> dict[str, Any]:
    """A valid access-token claim set at ``NOW``, with overrides (``None`` removes a claim)."""
    base: dict[str, Any] = {
        "sub": "user-1",
        "iat": int(NOW),
        "exp": int(NOW) + 3600,
        "jti": "jti-1",
        "type": "access",
        "roles": ["user"],
        "communities": ["c1"],
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def keyring() -> KeyRing:
    return KeyRing([JWTKey(kid="k1", secret=SECRET)])
