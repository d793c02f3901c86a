"""Signed CSRF tokens bound to the session: ``v1.<nonce>.<HMAC-SHA256>``.

The MAC covers the session binding (the principal's id and its token family, which survives refresh
rotation but not a new login) and a random nonce, so a token taken from one session fails for
another, every page gets a different token (nothing stable for BREACH-style length oracles to
recover), and no server-side state is kept. The nonce-plus-MAC shape is the signed double-submit of
OWASP's cheat sheet without the cookie: the binding comes from the authenticated session itself, so
a cookie planted by a sibling subdomain cannot forge it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

    from asgi_guard.principal import Principal

_DOMAIN: Final = b"asgi-guard csrf v1\x00"
_NONCE_BYTES: Final = 16
_SHAPE: Final = re.compile(r"^v1\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$")
MAX_TOKEN: Final = 80


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def session_binding(principal: Principal | None) -> str | None:
    """What a token is bound to: the principal id and its session (``sid``, token family or ``jti``).

    ``None`` when there is no session to bind to (no principal, or none of those claims): no token
    can then be issued or accepted.
    """
    if principal is None:
        return None
    claims = principal.claims
    session = claims.get("sid") or claims.get("fam") or principal.token_id
    if not isinstance(session, str) or not session:
        return None
    return f"{principal.id}\x00{session}"


class CSRFTokens:
    """Issues and checks tokens with the first secret; any of the secrets verifies (rotation).

    Args:
        secrets: HMAC keys, at least 32 bytes each; the first signs.
    """

    __slots__ = ("_keys",)

    def __init__(self, keys: Sequence[bytes]) -> None:
        self._keys = tuple(keys)

    def _mac(self, key: bytes, binding: str, nonce: bytes) -> bytes:
        return hmac.new(key, _DOMAIN + binding.encode("utf-8") + b"\x00" + nonce, hashlib.sha256).digest()

    def issue(self, binding: str) -> str:
        """A fresh token for ``binding``."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return f"v1.{_b64(nonce)}.{_b64(self._mac(self._keys[0], binding, nonce))}"

    def verify(self, token: str, binding: str) -> bool:
        """Whether ``token`` was issued for ``binding`` under one of the keys."""
        if len(token) > MAX_TOKEN:
            return False
        match = _SHAPE.match(token)
        if match is None:
            return False
        nonce, mac = _unb64(match[1]), _unb64(match[2])
        valid = False
        for key in self._keys:  # every key is tried: the time taken does not tell which one matched
            valid |= hmac.compare_digest(self._mac(key, binding, nonce), mac)
        return valid

    def __repr__(self) -> str:
        return f"CSRFTokens(<{len(self._keys)} key(s)>)"


__all__ = ("MAX_TOKEN", "CSRFTokens", "session_binding")
