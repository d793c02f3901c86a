"""The RBAC layer: route policies enforced on the principal authentication established."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from asgi_guard._headers import is_preflight
from asgi_guard._responses import send_denial
from asgi_guard._routing import RouteTable, canonical_path
from asgi_guard.context import GuardContext
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.events.emit import emit
from asgi_guard.rbac.authorizer import Authorizer
from asgi_guard.rbac.config import RBACConfig
from asgi_guard.rbac.policy import Rule

if TYPE_CHECKING:
    from asgi_guard.types import ASGIApp, Receive, Scope, Send

_ALLOW: Final = Rule((), public=True, label="default allow")


class RBACMiddleware:
    """Refuses requests whose principal lacks the permissions the matching route policy requires.

    For every ``http`` and ``websocket`` request with a principal it also replaces ``scope["auth"]``
    with credentials that understand wildcards, so Starlette's ``@requires("community:moderate")``
    sees role grants, and leaves its :class:`Authorizer` in the scope for ``requires_permission``.
    Community roles set by the tenancy layer (which runs first) count for this request only.

    Refusals: 401 ``missing_credentials`` when a rule applies and there is no principal; 403
    ``insufficient_permissions`` (with ``WWW-Authenticate: Bearer error="insufficient_scope"`` for
    JWT principals) otherwise. Shadowed rules log the would-be denial and let the request through.
    ``lifespan`` passes through.
    """

    __slots__ = (
        "_authorizer",
        "_default",
        "_exact",
        "_fmt",
        "_raw_table",
        "_skip_preflight",
        "_table",
        "app",
        "config",
    )

    def __init__(self, app: ASGIApp, config: RBACConfig | None = None) -> None:
        self.app = app
        self.config = config = config if config is not None else RBACConfig()
        self._authorizer = Authorizer(config.roles)
        rules = [(Rule.methods_of(policy), policy.path, Rule.of(policy, config.shadow)) for policy in config.policies]
        self._table: RouteTable[Rule] = RouteTable(rules)
        # Policies as written, for paths whose spelling is not canonical (see `_rules`). When every
        # template is canonical and none ends in `{...:path}`, both tables agree on canonical paths.
        self._raw_table: RouteTable[Rule] = RouteTable(rules, canonical=False)
        self._exact = all(canonical_path(p.path) == p.path and ":path}" not in p.path for p in config.policies)
        self._default = (
            Rule((), deny=True, shadow=config.shadow, label="default deny") if config.denies_unlisted else _ALLOW
        )
        self._skip_preflight = config.skip_preflight
        self._fmt = config.error_format

    @property
    def authorizer(self) -> Authorizer:
        """The compiled role hierarchy (shared with endpoint-level checks)."""
        return self._authorizer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        ctx, send = GuardContext.enter(scope, send)
        method: str = scope.get("method", "GET")
        if self._skip_preflight and is_preflight(scope):
            await self.app(scope, receive, send)
            return

        ctx.authorizer = self._authorizer
        principal = ctx.principal
        matcher = None
        if principal is not None:
            matcher = self._authorizer.matcher(principal, ctx.community_roles)
            scope["auth"] = matcher.credentials()

        for rule in self._rules(method, ctx.raw_route_path(scope), ctx.route_path(scope)):
            if rule.public:
                continue
            if matcher is None:
                error = GuardError(ErrorCode.MISSING_CREDENTIALS, "no_principal")
            elif not rule.deny and matcher.allows(rule.permissions, rule.any_of):
                continue
            else:
                error = GuardError(
                    ErrorCode.INSUFFICIENT_PERMISSIONS, "unlisted_route" if rule.deny else "missing_permission"
                )
            required = ",".join(rule.permissions) or "-"
            if rule.shadow:
                emit(
                    scope,
                    "authz_denied",
                    "shadow",
                    error.reason,
                    rule=rule.label,
                    required=required,
                    code=error.code.value,
                )
                continue
            await send_denial(
                scope,
                send,
                error,
                fmt=self._fmt,
                bearer=principal is not None and principal.method == "jwt",
                event_type="authz_denied" if principal is not None else None,
                rule=rule.label,
                required=required,
            )
            return
        await self.app(scope, receive, send)

    def _rules(self, method: str, path: str, canonical: str) -> tuple[Rule, ...]:
        """The rules the request must pass: the canonical spelling's (Litestar routes ``//a/`` as ``/a``)
        and the as-sent spelling's (Starlette routes it as is, maybe to a catch-all route, and routes
        ``/items`` apart from ``/items/``), so a public rule of one spelling never waives the other's."""
        found = self._table.match(method, canonical)
        rule = found[0] if found is not None else self._default
        if canonical == path and self._exact:
            return (rule,)
        found = self._raw_table.match(method, path)
        raw = found[0] if found is not None else self._default
        return (rule,) if raw is rule else (rule, raw)


__all__ = ("RBACMiddleware",)
