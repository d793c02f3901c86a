"""The tenancy layer: every scoped request carries one checked community, or it stops here."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from asgi_guard._headers import get_unique, is_preflight
from asgi_guard._responses import send_denial
from asgi_guard._routing import RouteTable
from asgi_guard.clock import SYSTEM_CLOCK
from asgi_guard.context import GuardContext
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.events.emit import emit
from asgi_guard.principal import GuardCredentials
from asgi_guard.tenancy.resolvers import CachedResolver, MembershipResolver, claims_membership

if TYPE_CHECKING:
    from asgi_guard.principal import Principal
    from asgi_guard.tenancy.config import TenancyConfig
    from asgi_guard.types import ASGIApp, Receive, Scope, Send

_SCOPED: Final = True


class TenancyMiddleware:
    """Resolves the community of a request and checks the principal belongs to it.

    On configured routes the id comes from the path parameter (a header, if also sent, must agree)
    or the ``X-Community-ID`` header, must match the id pattern, and the principal must be a member
    (from its credential or the resolver) or hold an admin role, and a membership may only carry the
    configured community roles (anything else refuses the membership, whoever granted it). The id and
    the principal's roles there go into the :class:`GuardContext`, where RBAC and the application read them: data access
    takes the community from the context, so scoping cannot be forgotten or spoofed by the client.

    Refusals: 400 ``missing_community_id`` / ``invalid_community_id`` / ``malformed_request``
    (header sent twice), 401 ``missing_credentials`` (no principal), 403 ``community_forbidden``,
    503 ``service_unavailable`` (the resolver failed). Unconfigured routes and ``lifespan`` pass.
    """

    __slots__ = (
        "_admin",
        "_allowed",
        "_fmt",
        "_header",
        "_param",
        "_pattern",
        "_resolver",
        "_skip_preflight",
        "_table",
        "app",
        "config",
    )

    def __init__(self, app: ASGIApp, config: TenancyConfig) -> None:
        self.app = app
        self.config = config
        self._table: RouteTable[bool] = RouteTable(("*", route, _SCOPED) for route in config.routes)
        self._header = config.header.encode("ascii")
        self._param = config.path_param
        self._pattern = re.compile(config.id_pattern)
        self._admin = frozenset(config.admin_roles)
        self._allowed = frozenset(config.community_roles)
        resolver: MembershipResolver = config.resolver if config.resolver is not None else claims_membership
        if config.resolver is not None and config.cache_ttl > 0:
            resolver = CachedResolver(
                resolver, ttl=config.cache_ttl, max_entries=config.cache_size, clock=config.clock or SYSTEM_CLOCK
            )
        self._resolver = resolver
        self._skip_preflight = config.skip_preflight
        self._fmt = config.error_format

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        ctx, send = GuardContext.enter(scope, send)
        method: str = scope.get("method", "GET")
        if self._skip_preflight and is_preflight(scope):
            await self.app(scope, receive, send)
            return
        found = self._table.match(method, ctx.route_path(scope))
        if found is None:
            await self.app(scope, receive, send)
            return
        try:
            community_id = self._community_id(scope, found[1].get(self._param))
            if ctx.principal is None:
                raise GuardError(ErrorCode.MISSING_CREDENTIALS, "no_principal")
            roles = self._membership_now(scope, ctx.principal, community_id)
            if roles is None:
                roles = await self._resolved(ctx.principal, community_id)
            if not roles <= self._allowed:
                # A claim or resolver granting a role no community may hand out (a global role such
                # as `admin`, or a typo): the whole membership is refused, never trimmed and let in.
                raise GuardError(ErrorCode.COMMUNITY_FORBIDDEN, "community_role_not_allowed")
        except GuardError as error:
            if error.reason == "community_role_not_allowed":  # which community refused the grant
                await send_denial(scope, send, error, fmt=self._fmt, community=community_id)
            else:
                await send_denial(scope, send, error, fmt=self._fmt)
            return
        ctx.community_id = community_id
        ctx.community_roles = roles
        auth = scope.get("auth")
        if roles and isinstance(auth, GuardCredentials) and auth.expand is not None:
            # Starlette's `@requires` sees the roles held here too (authentication filled scope["auth"]).
            scope["auth"] = auth.expand(roles)
        await self.app(scope, receive, send)

    def _community_id(self, scope: Scope, from_path: str | None) -> str:
        raw = get_unique(scope, self._header)
        if from_path is not None:
            if self._pattern.fullmatch(from_path) is None:
                raise GuardError(ErrorCode.INVALID_COMMUNITY_ID, "bad_path_community_id")
            # A conflicting header means a confused client: acting on either value could touch the
            # wrong community, so refuse rather than pick one.
            if raw is not None and raw.decode("latin-1") != from_path:
                raise GuardError(ErrorCode.INVALID_COMMUNITY_ID, "header_path_mismatch")
            return from_path
        if raw is None:
            raise GuardError(ErrorCode.MISSING_COMMUNITY_ID, "no_community_header")
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise GuardError(ErrorCode.INVALID_COMMUNITY_ID, "non_ascii_community_id") from None
        if self._pattern.fullmatch(text) is None:
            raise GuardError(ErrorCode.INVALID_COMMUNITY_ID, "bad_community_id")
        return text

    def _membership_now(self, scope: Scope, principal: Principal, community_id: str) -> frozenset[str] | None:
        """The roles when no coroutine is needed (admins, the default claims lookup), else ``None``."""
        answer: object
        # A narrowed credential (an API key of an admin, limited to a few permissions and communities)
        # is not an admin: its owner's role must not widen the communities the key was scoped to.
        limit = principal.permission_limit
        if not self._admin.isdisjoint(principal.roles) and (limit is None or "*" in limit):
            answer = principal.communities.get(community_id)
            if answer is None:
                emit(scope, "admin_override", "allow", "community_admin_override", community=community_id)
                return frozenset()
            return _role_set(answer)
        if self._resolver is not claims_membership:
            return None
        try:
            answer = principal.communities.get(community_id)  # the default: a dict lookup, nothing to await
        except Exception as exc:  # a custom principal whose communities cannot be read: refuse, never crash
            raise GuardError(ErrorCode.SERVICE_UNAVAILABLE, f"membership_resolver_failed:{type(exc).__name__}") from exc
        if answer is None:
            raise GuardError(ErrorCode.COMMUNITY_FORBIDDEN, "not_a_member")
        return _role_set(answer)

    async def _resolved(self, principal: Principal, community_id: str) -> frozenset[str]:
        """The roles from a configured resolver (awaited; a failure refuses, never admits)."""
        try:
            answer = await self._resolver(principal, community_id)
        except Exception as exc:  # a failing lookup must refuse, never admit or crash the request
            raise GuardError(ErrorCode.SERVICE_UNAVAILABLE, f"membership_resolver_failed:{type(exc).__name__}") from exc
        if answer is None:
            raise GuardError(ErrorCode.COMMUNITY_FORBIDDEN, "not_a_member")
        return _role_set(answer)


def _role_set(answer: object) -> frozenset[str]:
    """Roles as a frozenset of names; anything else is a resolver or claims bug, refused (503) rather
    than crashing the request or granting roles nobody meant."""
    if isinstance(answer, frozenset | set | tuple | list):
        for role in answer:
            if not isinstance(role, str):
                break
        else:
            return answer if isinstance(answer, frozenset) else frozenset(answer)
    raise GuardError(ErrorCode.SERVICE_UNAVAILABLE, f"membership_bad_roles:{type(answer).__name__}")


__all__ = ("TenancyMiddleware",)
