"""The throwaway secrets, tokens, keys and signatures the reliability harness uses.

Everything here is a literal test value. The secrets scan looks for each of them (and their
distinctive parts) in everything the security logger and the error responses emitted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Final

import jwt

JWT_SECRET: Final = "reliability-jwt-secret-5a0c1e7b9d2f4a6c8e0b1d3f5a7c9e1b"
JWT_KID: Final = "reliability"
OTHER_SECRET: Final = "reliability-wrong-secret-00000000000000000000000000000"
WEBHOOK_SECRET: Final = "reliability-webhook-secret-7f3e9a1c5b2d8e4f6a0c"
COMMUNITY: Final = "42"
OTHER_COMMUNITY: Final = "43"
FAR_FUTURE: Final = 4_000_000_000


def _token(secret: str, **overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "user:1",
        "username": "alice",
        "roles": ["user"],
        "communities": {COMMUNITY: ["moderator"]},
        "iat": now,
        "exp": now + 3600,
        "jti": f"jti-{hashlib.sha256(repr(sorted(overrides.items())).encode()).hexdigest()[:16]}",
        "type": "access",
    }
    claims.update(overrides)
    claims = {key: value for key, value in claims.items() if value is not None}
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": JWT_KID})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


VALID_TOKEN: Final = _token(JWT_SECRET)
"""The one token every JWT layer must accept (a user, moderator in :data:`COMMUNITY`)."""

ADMIN_TOKEN: Final = _token(JWT_SECRET, sub="user:0", roles=["admin"], communities={})

NON_MEMBER_TOKEN: Final = _token(JWT_SECRET, sub="user:2", communities={OTHER_COMMUNITY: []})
"""A valid token of a user who is not a member of :data:`COMMUNITY`: only tenancy may refuse it."""

HOSTILE_TOKENS: Final = (
    _token(OTHER_SECRET),  # signed with another secret
    _token(JWT_SECRET, exp=int(time.time()) - 7200),  # expired
    _token(JWT_SECRET, nbf=FAR_FUTURE),  # not yet valid
    _token(JWT_SECRET, exp=None),  # no exp
    _token(JWT_SECRET, exp="tomorrow"),  # non-numeric exp
    _token(JWT_SECRET, type="refresh"),  # refresh used as access
    _token(JWT_SECRET, jti=None),  # no jti
    jwt.encode({"sub": "user:1", "exp": FAR_FUTURE, "iat": 1, "jti": "j", "type": "access"}, JWT_SECRET),  # no kid
    _b64(b'{"alg":"none","typ":"JWT"}') + "." + VALID_TOKEN.split(".")[1] + ".",  # alg none
    _b64(json.dumps({"alg": "HS256", "kid": "../../etc/passwd"}).encode())
    + "."
    + VALID_TOKEN.split(".")[1]
    + "."
    + VALID_TOKEN.split(".")[2],  # kid injection, signature of another header
    VALID_TOKEN[:-2] + ("AA" if not VALID_TOKEN.endswith("AA") else "BB"),  # tampered signature
    VALID_TOKEN.replace(".", "..", 1),  # malformed compact form
    VALID_TOKEN + ".extra",  # four segments
)
"""Tokens that must never reach the app."""


def webhook_signature(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    """Hex HMAC-SHA256 of ``body``: the generic scheme's ``X-Webhook-Signature``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def parts(secret: str) -> list[str]:
    """The distinctive pieces of a secret worth scanning for (JWT segments, the hex of a key)."""
    found = [secret]
    if secret.count(".") == 2:
        found += [segment for segment in secret.split(".")[1:] if len(segment) >= 16]
    if secret.startswith("wa-") and len(secret) > 20:
        found.append(secret[3:])
    return found


__all__ = (
    "ADMIN_TOKEN",
    "COMMUNITY",
    "HOSTILE_TOKENS",
    "JWT_KID",
    "JWT_SECRET",
    "NON_MEMBER_TOKEN",
    "OTHER_COMMUNITY",
    "OTHER_SECRET",
    "VALID_TOKEN",
    "WEBHOOK_SECRET",
    "parts",
    "webhook_signature",
)
