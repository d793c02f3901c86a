"""Configuration of the login app: providers, where it is mounted, how the session is issued."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import msgspec

from asgi_guard.clock import SYSTEM_CLOCK, Clock
from asgi_guard.errors import ConfigurationError

if TYPE_CHECKING:
    from asgi_guard.oauth.providers import Provider
from asgi_guard.sessions import SessionCookies


class OAuthConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The login app's settings (see :class:`~asgi_guard.oauth.app.OAuthApp`).

    Attributes:
        providers: the providers offered (names must be unique).
        public_url: the app's public URL where it is mounted, e.g. ``https://example.com/auth``.
            Redirect URIs are ``{public_url}/{provider}/callback``: taken from here, never from the
            request's ``Host`` (behind a TLS proxy the request may say http).
        flow_secret: at least 32 random bytes sealing the login-flow cookie (same on all instances).
        on_login: ``async (ProviderIdentity) -> SessionUser | None``: map the identity to our user.
        tokens: the :class:`~asgi_guard.auth.TokenService` issuing our session.
        session: ``json`` (the token pair in the callback's JSON body, for API clients) or
            ``cookies`` (session cookies via :mod:`asgi_guard.sessions`, then a redirect to ``next``).
        session_cookies: the ``SessionCookies`` settings when ``session="cookies"``.
        provider_tokens: a :class:`~asgi_guard.oauth.ProviderTokens` keeping the provider tokens
            (sealed, refreshed, revoked on logout); ``None``: provider tokens are not kept.
        allowed_next: path prefixes a post-login ``next`` may point into.
        default_next: where to go when ``next`` is absent or refused.
        secure_cookies: ``Secure`` + ``__Host-`` on the flow cookie (off only for plain-http development).
        flow_max_age: seconds a login may take.
        used_states: a replay store (``remember(key, ttl) -> bool``) so a callback URL works once;
            ``None``: a per-process memory store (use Redis with several instances).
        timeout: seconds for each call to a provider.
        transport: an httpx transport for provider calls (the bundled local providers); ``None``: network.
        clock: the time source.
    """

    providers: tuple[Provider, ...]
    public_url: str
    flow_secret: bytes
    on_login: Any
    tokens: Any
    session: Literal["json", "cookies"] = "json"
    session_cookies: Any = None
    provider_tokens: Any = None
    allowed_next: tuple[str, ...] = ("/",)
    default_next: str = "/"
    secure_cookies: bool = True
    flow_max_age: float = 600.0
    used_states: Any = None
    timeout: float = 10.0
    transport: Any = None
    clock: Clock = SYSTEM_CLOCK

    def __post_init__(self) -> None:
        if not self.providers:
            raise ConfigurationError.expected("at least one provider", (), "OAuthConfig.providers")
        names = [provider.name for provider in self.providers]
        if len(set(names)) != len(names):
            raise ConfigurationError.expected("unique provider names", names, "OAuthConfig.providers")
        parts = urlsplit(self.public_url)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if not parts.hostname or parts.query or parts.fragment or self.public_url.endswith("/"):
            raise ConfigurationError.expected("an absolute URL without a trailing /", self.public_url, "public_url")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ConfigurationError.expected("an https URL (http only on loopback)", self.public_url, "public_url")
        if not callable(self.on_login):
            raise ConfigurationError.expected("an async callable", type(self.on_login).__name__, "on_login")
        if not callable(getattr(self.tokens, "issue_pair", None)):
            raise ConfigurationError.expected("a TokenService", type(self.tokens).__name__, "OAuthConfig.tokens")
        if self.session == "cookies" and not isinstance(self.session_cookies, SessionCookies):
            raise ConfigurationError.expected(
                "session_cookies for session='cookies'", self.session_cookies, "OAuthConfig"
            )
        for prefix in (*self.allowed_next, self.default_next):
            if not prefix.startswith("/") or prefix.startswith("//") or "\\" in prefix:
                raise ConfigurationError.expected("a relative path starting with a single /", prefix, "allowed_next")
        if not 0 < self.timeout <= 60:
            raise ConfigurationError.expected("a timeout of up to 60 seconds", self.timeout, "OAuthConfig.timeout")
        for method in ("remember",):
            if self.used_states is not None and not callable(getattr(self.used_states, method, None)):
                raise ConfigurationError.expected("a ReplayStore", type(self.used_states).__name__, "used_states")

    def __repr__(self) -> str:  # the flow secret seals every login's state cookie: never in a log
        shown = (
            f"{name}=<redacted>" if name == "flow_secret" else f"{name}={getattr(self, name)!r}"
            for name in self.__struct_fields__
        )
        return f"OAuthConfig({', '.join(shown)})"

    def redirect_uri(self, provider: str) -> str:
        """The callback URL registered at ``provider``."""
        return f"{self.public_url}/{provider}/callback"


__all__ = ("OAuthConfig",)
