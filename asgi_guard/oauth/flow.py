"""The login flow's state cookie: ``state``, ``nonce`` and the PKCE verifier, sealed and bound to the browser.

Set on ``/login``, read once on ``/callback``: a callback whose ``state`` does not match the sealed
cookie of this browser is refused (login CSRF, RFC 9700 §4.7). The cookie is encrypted and
authenticated with a PyNaCl ``SecretBox`` (so the verifier is never readable), short-lived, HttpOnly
and SameSite=Lax (Strict would drop it on the provider's redirect back). Its name carries a prefix
of the state, so two logins in two tabs do not overwrite each other's cookie.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Final

import msgspec
import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.secret

from asgi_guard.errors import ConfigurationError

STATE_BYTES: Final = 32
COOKIE_STATE_CHARS: Final = 12
MIN_SECRET_BYTES: Final = 32


class FlowState(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """What the callback needs from the login that started it."""

    provider: str
    state: str
    nonce: str
    verifier: str
    next: str
    issued_at: float

    def __repr__(self) -> str:  # the nonce and the PKCE verifier are secrets of the login in flight
        return f"FlowState(provider={self.provider!r}, next={self.next!r}, issued_at={self.issued_at!r})"


class FlowCookies:
    """Seals and opens :class:`FlowState` cookies.

    Args:
        secret: at least 32 random bytes (the same on every instance behind one load balancer).
        max_age: seconds a login may take between ``/login`` and ``/callback``.
        secure: ``Secure`` flag and ``__Host-`` prefix; off only for plain-http development.
    """

    __slots__ = ("_box", "_decoder", "_encoder", "max_age", "prefix", "secure")

    def __init__(self, secret: bytes, *, max_age: float = 600.0, secure: bool = True) -> None:
        if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
            raise ConfigurationError.expected("at least 32 random bytes", "<secret>", "OAuthConfig.flow_secret")
        if not 60 <= max_age <= 3600:
            raise ConfigurationError.expected("a max_age of 60 to 3600 seconds", max_age, "OAuthConfig.flow_max_age")
        key = nacl.hash.blake2b(
            secret,
            digest_size=nacl.secret.SecretBox.KEY_SIZE,
            person=b"asgi-guard-flow",
            encoder=nacl.encoding.RawEncoder,
        )
        self._box = nacl.secret.SecretBox(key)
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(FlowState)
        self.max_age = max_age
        self.secure = secure
        self.prefix = "__Host-oauth-" if secure else "oauth-"

    def name_for(self, state: str) -> str:
        """The cookie name of the flow that sent ``state`` ("" when ``state`` cannot be ours)."""
        # ASCII only: ``isalnum`` accepts other letters, and ``hmac.compare_digest`` raises on them.
        if (
            len(state) < COOKIE_STATE_CHARS
            or not state.isascii()
            or not all(ch.isalnum() or ch in "-_" for ch in state)
        ):
            return ""
        return self.prefix + state[:COOKIE_STATE_CHARS]

    def seal(self, flow: FlowState) -> tuple[str, str]:
        """``(cookie name, cookie value)`` for ``flow``."""
        sealed = self._box.encrypt(self._encoder.encode(flow))
        return self.name_for(flow.state), base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, value: str, *, now: float) -> FlowState | None:
        """The flow sealed in ``value``, or ``None`` if it was forged, altered or is too old."""
        try:
            sealed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            flow = self._decoder.decode(self._box.decrypt(sealed))
        except (binascii.Error, ValueError, nacl.exceptions.CryptoError, msgspec.DecodeError):
            return None
        if not 0 <= now - flow.issued_at <= self.max_age:
            return None
        return flow

    def header(self, name: str, value: str, path: str = "/") -> bytes:
        """The ``Set-Cookie`` value (``value`` "" clears the cookie)."""
        age = int(self.max_age) if value else 0
        flags = "; Secure" if self.secure else ""
        return f"{name}={value}; Max-Age={age}; Path={path}; HttpOnly; SameSite=Lax{flags}".encode()


def random_token() -> str:
    """A fresh ``state``, ``nonce`` or PKCE verifier: 32 random bytes, base64url (43 characters)."""
    return secrets.token_urlsafe(STATE_BYTES)


__all__ = ("FlowCookies", "FlowState", "random_token")
