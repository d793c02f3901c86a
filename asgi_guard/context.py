"""Per-request state shared between layers: one slotted object under one namespaced scope key.

The first guard layer to see a request creates the context and wraps ``send`` once
(:meth:`GuardContext.enter`); every later layer reuses both. Layers never wrap ``send`` themselves:
they register what the response needs on the context (headers every response gets, defaults the
app may override, the rate-limit headers of the innermost decision) and the one hook merges them
into ``http.response.start`` in a single pass and records the status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import msgspec

from asgi_guard._forwarded import safe_peer
from asgi_guard._routing import canonical_path, strip_root
from asgi_guard.errors import MissingGuardContext

if TYPE_CHECKING:
    from collections.abc import Sequence

    from asgi_guard.errors import ErrorCode
    from asgi_guard.events.event import SecurityEvent
    from asgi_guard.principal import Principal
    from asgi_guard.types import Message, Scope, Send

CONTEXT_KEY: Final = "asgi_guard"
"""The scope key holding the :class:`GuardContext` (sub-apps that copy the scope share the object)."""

Headers = tuple[tuple[bytes, bytes], ...]
_NONE: Final[Headers] = ()
_NO_NAMES: Final[frozenset[bytes]] = frozenset()


class GuardContext:
    """What the layers learned about one request, and what its response needs.

    Attributes:
        request_id: the server's request id: always generated, 128 random bits.
        client_request_id: the client's ``X-Request-ID`` when it matched the configured pattern
            (echoed, logged as its own field, never used as the server's id), else ``""``.
        client_ip: the client address after trusted-proxy resolution.
        proxy_header: when the peer is one of the trusted proxies, the header it writes
            (``x-forwarded-for`` or ``forwarded``): its scheme and host may then be believed too.
        principal: the authenticated caller, or ``None``.
        community_id: the community the request is scoped to, once tenancy resolved it.
        community_roles: the roles the principal holds in that community.
        rate_limit: the rate-limit decision of this request (``None`` until rate limiting ran).
        body: the buffered raw body, if a layer had to read it (read at most once).
        payload: the validated body (``msgspec.UNSET`` until validation ran).
        validated: the validation layer's record of body, query and path parameters (or ``None``).
        authorizer: the RBAC layer's compiled roles, for endpoint-level checks (or ``None``).
        webhook: the verified webhook delivery (or ``None``).
        csrf: the CSRF layer's token signer, for the page helpers (or ``None``).
        events: the security events emitted for this request, in order (only those some sink took).
        emitter: where events go (set by the events middleware; the default sinks otherwise).
        denial: the code of the refusal a layer answered this request with (``None`` if none did:
            the response, if any, came from the application).
        status: the status of the response sent (``0`` until it started; ``101`` for an accepted
            websocket, ``403`` for one closed before accept).
        response_headers: headers every response gets (the request id), appended by the hook.
        default_headers: headers added unless the app set the same name (security headers).
        rate_limit_headers: the headers of the innermost rate-limit decision.
    """

    __slots__ = (
        "_hooked",
        "_path",
        "_raw_route",
        "_root",
        "_route",
        "_route_for",
        "authorizer",
        "body",
        "client_ip",
        "client_request_id",
        "community_id",
        "community_roles",
        "csrf",
        "default_headers",
        "default_names",
        "denial",
        "emitter",
        "events",
        "payload",
        "principal",
        "proxy_header",
        "rate_limit",
        "rate_limit_headers",
        "request_id",
        "response_headers",
        "status",
        "validated",
        "webhook",
    )

    def __init__(self) -> None:
        self.request_id: str = ""
        self.client_request_id: str = ""
        self.client_ip: str = ""
        self.proxy_header: str | None = None
        self.principal: Principal | None = None
        self.community_id: str | None = None
        self.community_roles: frozenset[str] = frozenset()
        self.rate_limit: Any = None
        self.body: bytes | None = None
        self.payload: Any = msgspec.UNSET
        self.validated: Any = None
        self.authorizer: Any = None
        self.webhook: Any = None
        self.csrf: Any = None
        self.events: list[SecurityEvent] = []
        self.emitter: Any = None
        self.status = 0
        self.denial: ErrorCode | None = None
        self.response_headers: Headers = _NONE
        self.default_headers: Headers = _NONE
        self.default_names: frozenset[bytes] = _NO_NAMES
        self.rate_limit_headers: Sequence[tuple[bytes, bytes]] = _NONE
        self._hooked = False
        self._path: str | None = None
        self._root: str | None = None
        self._raw_route = ""
        self._route = ""
        self._route_for: str | None = None

    @staticmethod
    def from_scope(scope: Scope) -> GuardContext:
        """The request's context, created on first use (without a response hook: see :meth:`enter`)."""
        ctx = scope.get(CONTEXT_KEY)
        if ctx is None:
            ctx = scope[CONTEXT_KEY] = GuardContext()
        return ctx  # type: ignore[no-any-return,unused-ignore]

    @staticmethod
    def enter(scope: Scope, send: Send) -> tuple[GuardContext, Send]:
        """The request's context and the ``send`` to use: the first layer creates the context and
        wraps ``send`` in the response hook; later layers get the context and their ``send`` back."""
        ctx: GuardContext | None = scope.get(CONTEXT_KEY)
        if ctx is None:
            ctx = scope[CONTEXT_KEY] = GuardContext()
        elif ctx._hooked:
            return ctx, send
        ctx._hooked = True
        return ctx, ctx._hook(send)

    def set_response_header(self, name: bytes, value: bytes) -> None:
        """Send ``name: value`` on every response of this request (replacing an earlier value of ``name``)."""
        kept = self.response_headers
        if kept:
            kept = tuple(pair for pair in kept if pair[0] != name)
        self.response_headers = (*kept, (name, value))

    @property
    def app_status(self) -> int:
        """The status the application itself answered with: ``0`` when nothing was sent yet or a
        guard layer refused the request (its status is :attr:`status`, its code :attr:`denial`)."""
        return 0 if self.denial is not None else self.status

    def _hook(self, send: Send) -> Send:
        async def guarded_send(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                self._start(message)
            elif kind == "websocket.accept":
                if not self.status:
                    self.status = 101
            elif kind == "websocket.close" and not self.status:
                self.status = 403  # a close before accept is an HTTP 403 to the client (ASGI spec)
            await send(message)

        return guarded_send

    def _start(self, message: Message) -> None:
        """Merge everything the response needs into ``message`` in one pass and record its status."""
        self.status = message["status"]
        headers = message.get("headers")
        merged = list(headers) if headers else []
        defaults = self.default_headers
        if defaults:
            names = self.default_names
            # Apps rarely set a security header themselves: look for the app's own only when one of
            # its names is one of ours.
            for key, _ in merged:
                if key.lower() in names:
                    present = {key.lower() for key, _ in merged}
                    defaults = tuple(pair for pair in defaults if pair[0] not in present)
                    break
        if self.rate_limit_headers:
            merged.extend(self.rate_limit_headers)
        if defaults:
            merged.extend(defaults)
        if self.response_headers:
            merged.extend(self.response_headers)
        message["headers"] = merged

    def raw_route_path(self, scope: Scope) -> str:
        """``path`` minus ``root_path`` as sent, derived once per (path, root_path): a ``Mount``
        between two layers changes ``root_path``, and the inner layer gets its own answer."""
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "")
        if path != self._path or root != self._root:
            self._path, self._root = path, root
            self._raw_route = strip_root(path, root)
        return self._raw_route

    def route_path(self, scope: Scope) -> str:
        """:meth:`raw_route_path` in canonical form (see :func:`asgi_guard._routing.canonical_path`)."""
        raw = self.raw_route_path(scope)
        if raw is not self._route_for:
            self._route_for = raw
            self._route = canonical_path(raw)
        return self._route


def _scope_of(scope_or_request: Any) -> Mapping[str, Any]:
    if isinstance(scope_or_request, Mapping):
        return scope_or_request
    scope = getattr(scope_or_request, "scope", None)
    if isinstance(scope, Mapping):
        return scope
    raise TypeError(f"Expected an ASGI scope or a request with `.scope`, got {type(scope_or_request)!r}")


def context_of(scope_or_request: Any) -> GuardContext | None:
    """The request's :class:`GuardContext`, or ``None`` when no asgi_guard layer ran."""
    ctx = _scope_of(scope_or_request).get(CONTEXT_KEY)
    return ctx if isinstance(ctx, GuardContext) else None


def get_context(scope_or_request: Any) -> GuardContext:
    """The request's :class:`GuardContext`; raises if no asgi_guard middleware ran."""
    ctx = context_of(scope_or_request)
    if ctx is None:
        raise MissingGuardContext(
            "No asgi_guard context on this request: wrap the app with asgi_guard.guard(...) "
            "or install one of its middlewares"
        )
    return ctx


def get_principal(scope_or_request: Any) -> Principal:
    """The authenticated caller; raises naming ``AuthenticationMiddleware`` when there is none."""
    ctx = context_of(scope_or_request)
    principal = ctx.principal if ctx is not None else None
    if principal is None:
        raise MissingGuardContext(
            "No authenticated principal on this request: install asgi_guard.AuthenticationMiddleware "
            "(or AuthConfig in guard(...)) in front of this route"
        )
    return principal


def get_community_id(scope_or_request: Any) -> str:
    """The resolved community id; raises naming ``TenancyMiddleware`` when there is none."""
    ctx = context_of(scope_or_request)
    community = ctx.community_id if ctx is not None else None
    if community is None:
        raise MissingGuardContext(
            "No community resolved for this request: install asgi_guard.TenancyMiddleware "
            "(or TenancyConfig in guard(...)) for this route"
        )
    return community


def client_host(scope: Scope) -> str:
    """The client address: the trusted-proxy result when the client-ip layer ran, else the peer."""
    ctx = scope.get(CONTEXT_KEY)
    if ctx is not None and ctx.client_ip:
        return ctx.client_ip  # type: ignore[no-any-return]
    client = scope.get("client")
    return safe_peer(str(client[0])) if client else ""  # never a non-address text as a key


__all__ = (
    "CONTEXT_KEY",
    "GuardContext",
    "client_host",
    "context_of",
    "get_community_id",
    "get_context",
    "get_principal",
)
