"""Configuration of the authentication layer: which authenticators, and where authentication applies."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import msgspec

from asgi_guard._routing import Template
from asgi_guard.auth.api_keys import PREFIX_PATTERN, APIKeyStore
from asgi_guard.auth.keyring import KeyRing
from asgi_guard.errors import ConfigurationError
from asgi_guard.options import ErrorFormat, check_clock, check_error_format
from asgi_guard.rbac.roles import RoleHierarchy
from asgi_guard.sessions.cookies import SessionCookies

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from asgi_guard.auth.revocation import RevocationStore
    from asgi_guard.clock import Clock
    from asgi_guard.principal import Principal
    from asgi_guard.types import Scope

_HEADER = re.compile(r"^[a-z0-9!#$%&'*+.^_`|~-]+$")


class APIKeyAuth(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """API keys looked up by SHA-256 in a store.

    Attributes:
        store: an :class:`~asgi_guard.auth.api_keys.APIKeyStore` (memory or Redis).
        header: the header carrying the key (lower-case).
        prefix: the key prefix (``wa`` for ``wa-<hex>``); malformed keys are refused before lookup.
        accept_bearer: also accept ``Authorization: Bearer <key>`` for clients that only send that.
        last_used_interval: seconds between two last-used writes for one key (0 disables tracking).
    """

    store: APIKeyStore
    header: str = "x-api-key"
    prefix: str = "wa"
    accept_bearer: bool = True
    last_used_interval: float = 60.0

    def __post_init__(self) -> None:
        for method in ("get", "put", "revoke", "touch"):
            if not callable(getattr(self.store, method, None)):
                raise ConfigurationError.expected("an APIKeyStore", type(self.store).__name__, "APIKeyAuth.store")
        if not _HEADER.match(self.header) or self.header == "authorization":
            raise ConfigurationError.expected("a lower-case header name", self.header, "APIKeyAuth.header")
        if not PREFIX_PATTERN.match(self.prefix):
            raise ConfigurationError.expected("1-16 lowercase letters or digits", self.prefix, "APIKeyAuth.prefix")
        if self.last_used_interval < 0:
            raise ConfigurationError.expected("an interval >= 0", self.last_used_interval, "APIKeyAuth")


class JWTAuth(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Bearer JWTs verified against a key ring, checked for revocation on every request.

    Attributes:
        keyring: the :class:`~asgi_guard.auth.keyring.KeyRing`.
        revocation: a :class:`~asgi_guard.auth.revocation.RevocationStore` (memory or Redis).
        issuer: the required ``iss`` (pass ``None`` explicitly to not check it).
        audience: the required ``aud`` (pass ``None`` explicitly to not check it).
        leeway: seconds of clock skew tolerated (0 to 300).
        cache_size: verified tokens kept in memory (0 disables the cache).
        token_type: the ``type`` claim protected routes require.
    """

    keyring: KeyRing
    revocation: RevocationStore
    issuer: str | None
    audience: str | None
    leeway: float = 0.0
    cache_size: int = 10_000
    token_type: str = "access"  # noqa: S105 - a claim value, not a secret

    def __post_init__(self) -> None:
        if not isinstance(self.keyring, KeyRing):
            raise ConfigurationError.expected("a KeyRing", type(self.keyring).__name__, "JWTAuth.keyring")
        for method in ("is_revoked", "revoke", "claim_refresh", "start", "aclose"):
            if not callable(getattr(self.revocation, method, None)):
                raise ConfigurationError.expected(
                    "a RevocationStore", type(self.revocation).__name__, "JWTAuth.revocation"
                )
        if not 0 <= self.leeway <= 300:
            raise ConfigurationError.expected("a leeway of 0 to 300 seconds", self.leeway, "JWTAuth.leeway")
        if self.cache_size < 0:
            raise ConfigurationError.expected("a cache_size >= 0", self.cache_size, "JWTAuth.cache_size")
        if self.token_type != "access":  # noqa: S105 - a claim value, not a secret
            raise ConfigurationError.expected("'access'", self.token_type, "JWTAuth.token_type")


class AuthConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Authentication: API keys, JWTs and custom authenticators, tried in that order.

    Attributes:
        api_key: API-key authentication, or ``None``.
        jwt: JWT authentication, or ``None``.
        session: also read the access JWT from a session cookie (verified like a bearer token by
            ``jwt``). A request carrying both the cookie and an ``Authorization``/API-key header is
            refused (400 ``ambiguous_credentials``); the principal is marked ``ambient`` (method
            ``session``) so the CSRF layer checks its unsafe requests.
        authenticators: async callables ``(scope) -> Principal | None`` tried after the built-in
            ones (``None``: not my credential; raise ``GuardError`` to refuse).
        exclude: path templates where authentication does not run at all (health checks).
        optional: path templates where anonymous requests pass (sent credentials are still checked).
        skip_preflight: let CORS preflight requests (``OPTIONS`` with
            ``Origin`` and ``Access-Control-Request-Method``) through unauthenticated.
        error_format: ``json`` or ``problem`` (RFC 9457).
        populate_scope_user: also set ``scope["user"]`` and ``scope["auth"]`` (Starlette interop):
            ``scope["auth"].scopes`` answers ``in`` for every permission the principal's roles and direct
            permissions grant (wildcards understood) and for ``authenticated``, so Starlette's
            ``@requires`` works with authentication alone. Tenancy adds the request's community roles;
            RBAC, when in the stack, replaces it with its own hierarchy's grants (community roles too).
        roles: the role hierarchy ``scope["auth"]`` expands roles with (``None``: the default
            admin > community_owner > moderator > user hierarchy).
        clock: time source (``None``: the system clock).
    """

    api_key: APIKeyAuth | None = None
    jwt: JWTAuth | None = None
    session: SessionCookies | None = None
    authenticators: tuple[Callable[[Scope], Awaitable[Principal | None]], ...] = ()
    exclude: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    skip_preflight: bool = True
    error_format: ErrorFormat = "json"
    populate_scope_user: bool = True
    roles: RoleHierarchy | None = None
    clock: Clock | None = None

    def __post_init__(self) -> None:
        if self.api_key is None and self.jwt is None and not self.authenticators:
            raise ConfigurationError.expected("at least one authenticator", "none", "AuthConfig")
        if self.session is not None:
            if not isinstance(self.session, SessionCookies):
                raise ConfigurationError.expected("a SessionCookies", type(self.session).__name__, "AuthConfig.session")
            if self.jwt is None:
                raise ConfigurationError.expected("jwt=JWTAuth(...) to verify the cookie", None, "AuthConfig.session")
        for index, authenticator in enumerate(self.authenticators):
            if not callable(authenticator):
                raise ConfigurationError.expected(
                    "an async callable", authenticator, f"AuthConfig.authenticators[{index}]"
                )
        for field in ("exclude", "optional"):
            for index, template in enumerate(getattr(self, field)):
                if not isinstance(template, str):
                    raise ConfigurationError.expected("a path template", template, f"AuthConfig.{field}[{index}]")
                Template(template)  # raises ConfigurationError for a bad template
        check_error_format(self.error_format, "AuthConfig.error_format")
        check_clock(self.clock, "AuthConfig.clock")
        if self.roles is not None and not isinstance(self.roles, RoleHierarchy):
            raise ConfigurationError.expected("a `RoleHierarchy`", type(self.roles).__name__, "AuthConfig.roles")


__all__ = ("APIKeyAuth", "AuthConfig", "JWTAuth")
