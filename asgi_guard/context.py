"""Per-request state shared between layers: one slotted object under one namespaced scope key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import msgspec

from asgi_guard._forwarded import safe_peer
from asgi_guard.errors import MissingGuardContext

if TYPE_CHECKING:
    from asgi_guard.errors import ErrorCode
    from asgi_guard.events.event import SecurityEvent
    from asgi_guard.principal import Principal
    from asgi_guard.types import Scope

CONTEXT_KEY: Final = "asgi_guard"
"""The scope key holding the :class:`GuardContext` (sub-apps that copy the scope share the object)."""


class GuardContext:
    """What the layers learned about one request.

    Attributes:
        request_id: the request id (generated, or a validated ``X-Request-ID``).
        client_ip: the client address after trusted-proxy resolution.
        proxy_header: when the peer is one of the trusted proxies, the header it writes
            (``x-forwarded-for`` or ``forwarded``): its scheme and host may then be believed too.
        principal: the authenticated caller, or ``None``.
        community_id: the community the request is scoped to, once tenancy resolved it.
        community_roles: the roles the principal holds in that community.
        rate_limit: the rate-limit decision of this request (``None`` until rate limiting ran).
        body: the buffered raw body, if a layer had to read it (read at most once).
        payload: the validated body (``msgspec.UNSET`` until validation ran).
        events: the security events emitted for this request, in order.
        emitter: where events go (set by the events middleware; the default sinks otherwise).
        denial: the code of the refusal a layer answered this request with (``None`` if none did).
    """

    __slots__ = (
        "body",
        "client_ip",
        "community_id",
        "community_roles",
        "denial",
        "emitter",
        "events",
        "payload",
        "principal",
        "proxy_header",
        "rate_limit",
        "request_id",
    )

    def __init__(self) -> None:
        self.request_id: str = ""
        self.client_ip: str = ""
        self.proxy_header: str | None = None
        self.principal: Principal | None = None
        self.community_id: str | None = None
        self.community_roles: frozenset[str] = frozenset()
        self.rate_limit: Any = None
        self.body: bytes | None = None
        self.payload: Any = msgspec.UNSET
        self.events: list[SecurityEvent] = []
        self.emitter: Any = None
        self.denial: ErrorCode | None = None

    @staticmethod
    def from_scope(scope: Scope) -> GuardContext:
        """The request's context, created on first use."""
        ctx = scope.get(CONTEXT_KEY)
        if ctx is None:
            ctx = scope[CONTEXT_KEY] = GuardContext()
        return ctx  # type: ignore[no-any-return,unused-ignore]


def _scope_of(scope_or_request: Any) -> Mapping[str, Any]:
    if isinstance(scope_or_request, Mapping):
        return scope_or_request
    scope = getattr(scope_or_request, "scope", None)
    if isinstance(scope, Mapping):
        return scope
    raise TypeError(f"Expected an ASGI scope or a request with `.scope`, got {type(scope_or_request)!r}")


def get_context(scope_or_request: Any) -> GuardContext:
    """The request's :class:`GuardContext`; raises if no asgi_guard middleware ran."""
    ctx = _scope_of(scope_or_request).get(CONTEXT_KEY)
    if not isinstance(ctx, GuardContext):
        raise MissingGuardContext(
            "No asgi_guard context on this request: wrap the app with asgi_guard.guard(...) "
            "or install one of its middlewares"
        )
    return ctx


def get_principal(scope_or_request: Any) -> Principal:
    """The authenticated caller; raises naming ``AuthenticationMiddleware`` when there is none."""
    ctx = _scope_of(scope_or_request).get(CONTEXT_KEY)
    principal = ctx.principal if isinstance(ctx, GuardContext) else None
    if principal is None:
        raise MissingGuardContext(
            "No authenticated principal on this request: install asgi_guard.AuthenticationMiddleware "
            "(or AuthConfig in guard(...)) in front of this route"
        )
    return principal


def get_community_id(scope_or_request: Any) -> str:
    """The resolved community id; raises naming ``TenancyMiddleware`` when there is none."""
    ctx = _scope_of(scope_or_request).get(CONTEXT_KEY)
    community = ctx.community_id if isinstance(ctx, GuardContext) else None
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


__all__ = ("CONTEXT_KEY", "GuardContext", "client_host", "get_community_id", "get_context", "get_principal")
