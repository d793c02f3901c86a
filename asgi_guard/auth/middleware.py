"""``AuthenticationMiddleware``: who is calling, for HTTP and websocket scopes.

Authenticators run in order (API key, JWT, then user callables); the first that recognises the
credential decides. On success the :class:`~asgi_guard.principal.Principal` goes into the context
and, for Starlette interop, ``scope["user"]``/``scope["auth"]``. Every refusal goes through
``send_denial`` (websockets are closed with 1008 before ``accept``). Lifespan passes through, with
the background work (revocation feed, last-used batches) started on startup and flushed on shutdown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from starlette.authentication import AuthCredentials, UnauthenticatedUser

from asgi_guard._headers import is_preflight
from asgi_guard._responses import send_denial
from asgi_guard._routing import ANY_METHOD, RouteTable
from asgi_guard.auth.api_keys import hash_api_key, is_well_formed
from asgi_guard.auth.credentials import MAX_CREDENTIAL, Credentials, read_credentials
from asgi_guard.auth.last_used import LastUsedTracker
from asgi_guard.auth.revocation import MemoryRevocationStore, RevocationUnavailable
from asgi_guard.auth.verifier import COMPACT_JWS, JWTVerifier
from asgi_guard.clock import SYSTEM_CLOCK
from asgi_guard.context import GuardContext
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.events.emit import emit
from asgi_guard.rbac.authorizer import Authorizer
from asgi_guard.rbac.roles import DEFAULT_ROLES
from asgi_guard.sessions.cookies import is_loopback_host, read_cookie

if TYPE_CHECKING:
    from asgi_guard.auth.config import AuthConfig
    from asgi_guard.principal import Principal
    from asgi_guard.types import ASGIApp, Message, Receive, Scope, Send

_EXCLUDED: Final = "exclude"
_OPTIONAL: Final = "optional"


class AuthenticationMiddleware:
    """Authenticates every ``http`` and ``websocket`` request per :class:`AuthConfig`.

    Args:
        app: the wrapped ASGI app.
        config: the configuration.
    """

    __slots__ = (
        "_api_key",
        "_authorizer",
        "_clock",
        "_header",
        "_memory_revocation",
        "_paths",
        "_prefix",
        "_token_type",
        "_tracker",
        "_verifier",
        "app",
        "config",
    )

    def __init__(self, app: ASGIApp, config: AuthConfig) -> None:
        self.app = app
        self.config = config
        self._clock = config.clock or SYSTEM_CLOCK
        self._authorizer = Authorizer(config.roles if config.roles is not None else DEFAULT_ROLES)
        rules: list[tuple[str, str, str]] = [(ANY_METHOD, template, _EXCLUDED) for template in config.exclude]
        rules += [(ANY_METHOD, template, _OPTIONAL) for template in config.optional]
        # Exclusions relax a check: matched on the path as sent, never a looser canonical spelling.
        self._paths: RouteTable[str] | None = RouteTable(rules, canonical=False) if rules else None
        key_auth = config.api_key
        self._api_key = key_auth
        self._header = key_auth.header.encode("latin-1") if key_auth is not None else None
        self._prefix = key_auth.prefix if key_auth is not None and key_auth.accept_bearer else None
        self._tracker = (
            LastUsedTracker(key_auth.store, interval=key_auth.last_used_interval, clock=self._clock)
            if key_auth is not None and key_auth.last_used_interval > 0
            else None
        )
        jwt_auth = config.jwt
        self._token_type = jwt_auth.token_type if jwt_auth is not None else "access"
        # The in-memory store never waits: asked directly, without a coroutine (a subclass goes the long way).
        store = jwt_auth.revocation if jwt_auth is not None else None
        self._memory_revocation = store if type(store) is MemoryRevocationStore else None
        self._verifier = (
            JWTVerifier(
                jwt_auth.keyring,
                issuer=jwt_auth.issuer,
                audience=jwt_auth.audience,
                leeway=jwt_auth.leeway,
                clock=self._clock,
                cache_size=jwt_auth.cache_size,
            )
            if jwt_auth is not None
            else None
        )

    @property
    def last_used(self) -> LastUsedTracker | None:
        """The API-key last-used tracker (``None`` when tracking is off)."""
        return self._tracker

    async def startup(self) -> None:
        """Start background work: the revocation feed, a key store's own feed (SQL), the last-used flusher."""
        if self.config.jwt is not None:
            await self.config.jwt.revocation.start()
        start_keys = getattr(self.config.api_key.store, "start", None) if self.config.api_key is not None else None
        if callable(start_keys):
            await start_keys()
        if self._tracker is not None:
            await self._tracker.start()

    async def shutdown(self) -> None:
        """Flush pending last-used times and stop background work."""
        if self._tracker is not None:
            await self._tracker.aclose()
        if self.config.jwt is not None:
            await self.config.jwt.revocation.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, self._lifespan_receive(receive), self._lifespan_send(send))
            return
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        ctx, send = GuardContext.enter(scope, send)
        method = scope.get("method", "GET")
        mode = None
        if self._paths is not None:
            found = self._paths.match(method, ctx.raw_route_path(scope))
            mode = found[0] if found is not None else None
        if mode == _EXCLUDED or (self.config.skip_preflight and is_preflight(scope)):
            await self.app(scope, receive, send)
            return
        try:
            presented = read_credentials(scope, self._header, self._prefix)
            bearer = presented.bearer
            cookie = self._session_cookie(scope, presented.present) if self.config.session is not None else None
            if cookie is not None:
                bearer = cookie
            if bearer is not None and self._verifier is not None:
                # Inline rather than a coroutine of its own: this is the path of nearly every request.
                verified = self._verifier.verify(bearer, self._token_type)
                if self._memory_revocation is not None:
                    revoked = self._memory_revocation.is_revoked_now(verified.revocation_ids)
                else:
                    revoked = await self._is_revoked(verified.revocation_ids)
                if revoked:
                    raise GuardError(ErrorCode.TOKEN_REVOKED, f"revoked:{verified.token_id}")
                principal: Principal | None = verified.principal
                if cookie is not None:
                    principal = verified.principal.carried_by_cookie()
            else:
                principal = await self._authenticate(scope, presented)
        except GuardError as error:
            await send_denial(scope, send, error, fmt=self.config.error_format, bearer=True)
            return
        if principal is None:
            if mode != _OPTIONAL:
                missing = GuardError(ErrorCode.MISSING_CREDENTIALS, "no_credentials")
                await send_denial(scope, send, missing, fmt=self.config.error_format, bearer=True)
                return
            if self.config.populate_scope_user:
                scope.setdefault("user", UnauthenticatedUser())
                scope.setdefault("auth", AuthCredentials())
            await self.app(scope, receive, send)
            return
        ctx.principal = principal
        if self.config.populate_scope_user:
            scope["user"] = principal
            # What the roles and direct permissions grant, so Starlette's ``@requires`` works with
            # authentication alone (tenancy adds the roles held in the request's community, RBAC replaces it).
            # Fresh credentials over the matcher's shared read-only view: an app assigning
            # ``request.auth.scopes`` changes its own request only.
            scope["auth"] = self._authorizer.credentials(principal)
        emit(scope, "authn_success", "allow", principal.method)
        if principal.method == "api_key":
            emit(scope, "api_key_used", "allow", "api_key")
        await self.app(scope, receive, send)

    def _session_cookie(self, scope: Scope, other_credential: bool) -> str | None:
        """The session cookie's token, or ``None``; refuses it next to another credential."""
        cookies = self.config.session
        assert cookies is not None  # noqa: S101 - checked by the caller
        token = read_cookie(scope, cookies.access_cookie)
        if not token:
            return None
        if other_credential:
            # Which one would the app act as? Refuse instead of letting layers disagree.
            raise GuardError(ErrorCode.AMBIGUOUS_CREDENTIALS, "session_cookie_and_header_credential")
        if cookies.insecure_dev and not is_loopback_host(scope):
            raise GuardError(ErrorCode.INVALID_TOKEN, "insecure_dev_session_cookie_off_loopback")
        # The same shape rule as a bearer token: a compact JWS, base64url parts, bounded.
        if len(token) > MAX_CREDENTIAL or not COMPACT_JWS.fullmatch(token):
            raise GuardError(ErrorCode.INVALID_TOKEN, "malformed_session_cookie")
        return token

    async def _is_revoked(self, revocation_ids: tuple[str, ...]) -> bool:
        assert self.config.jwt is not None  # noqa: S101 - set whenever the verifier is
        try:
            revoked: bool = await self.config.jwt.revocation.is_revoked(revocation_ids)
        except RevocationUnavailable as exc:
            raise GuardError(ErrorCode.SERVICE_UNAVAILABLE, f"revocation_unavailable:{exc}") from exc
        return revoked

    async def _authenticate(self, scope: Scope, credentials: Credentials) -> Principal | None:
        """An API key's or a user authenticator's principal (bearer tokens are verified by the caller)."""
        if credentials.api_key is not None and self._api_key is not None:
            return await self._from_api_key(credentials.api_key)
        for authenticator in self.config.authenticators:
            principal = await authenticator(scope)
            if principal is not None:
                return principal
        if credentials.present:
            code = ErrorCode.INVALID_API_KEY if credentials.api_key is not None else ErrorCode.INVALID_TOKEN
            raise GuardError(code, "unsupported_credential")
        return None

    async def _from_api_key(self, key: str) -> Principal:
        assert self._api_key is not None  # noqa: S101 - checked by the caller
        if not is_well_formed(key, self._api_key.prefix):
            raise GuardError(ErrorCode.INVALID_API_KEY, "malformed_or_bad_checksum")
        key_hash = hash_api_key(key)
        try:
            record = await self._api_key.store.get(key_hash)
        except Exception as exc:  # any backend failure: refuse (503), never let the key through
            raise GuardError(ErrorCode.SERVICE_UNAVAILABLE, "api_key_store_unavailable") from exc
        if record is None:
            raise GuardError(ErrorCode.INVALID_API_KEY, f"unknown_key:{key_hash[:12]}")
        if record.revoked:
            raise GuardError(ErrorCode.INVALID_API_KEY, f"revoked_key:{key_hash[:12]}")
        if record.is_expired(self._clock.time()):
            raise GuardError(ErrorCode.API_KEY_EXPIRED, f"expired_key:{key_hash[:12]}")
        if self._tracker is not None:
            self._tracker.note(key_hash)
        principal: Principal = record.to_principal()
        return principal

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def receive_with_startup() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
            return message

        return receive_with_startup

    def _lifespan_send(self, send: Send) -> Send:
        async def send_after_shutdown(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.shutdown()
            await send(message)

        return send_after_shutdown


__all__ = ("AuthenticationMiddleware",)
