"""RBACMiddleware on raw ASGI: route policies, defaults, refusals, shadow mode, pass-through."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_guard.compose import guard
from asgi_guard.context import GuardContext
from asgi_guard.errors import ConfigurationError
from asgi_guard.principal import GuardCredentials, Principal
from asgi_guard.rbac import RBACConfig, RBACMiddleware, RoutePolicy
from asgi_guard.testing import MessageRecorder, call, make_scope, receive_body
from tests.rbac.support import ALICE, MOD, OWNER, ROOT, FakeAuthConfig, PrincipalFromHeader, Seen, recording_app

pytestmark = pytest.mark.anyio

PRINCIPALS = {p.id: p for p in (ALICE, MOD, OWNER, ROOT)}
POLICIES = (
    RoutePolicy(path="/health", public=True),
    RoutePolicy(path="/api/v1/communities/{community_id}/modules", methods=("POST",), permissions=("module:install",)),
    RoutePolicy(path="/api/v1/communities/{community_id}/modules", methods=("GET",)),
    RoutePolicy(path="/api/v1/reports", permissions=("community:moderate", "user:manage"), mode="any"),
    RoutePolicy(path="/api/v1/ban", permissions=("community:ban", "user:manage")),
    RoutePolicy(path="/api/v1/beta", permissions=("module:configure",), shadow=True),
    RoutePolicy(path="/admin/{rest:path}", permissions=("*",)),
)


def stack(config: RBACConfig, seen: Seen | None = None) -> PrincipalFromHeader:
    return PrincipalFromHeader(RBACMiddleware(recording_app(seen or Seen()), config), PRINCIPALS)


def as_user(user: str | None, method: str = "GET", path: str = "/", **kwargs: Any) -> dict[str, Any]:
    headers = {"x-test-user": user} if user else {}
    headers.update(kwargs.pop("headers", {}))
    return make_scope(method, path, headers=headers, **kwargs)


DECISIONS = [
    # (user, method, path, expected status)
    (None, "GET", "/health", 200),
    ("alice", "GET", "/health", 200),
    ("alice", "POST", "/api/v1/communities/7/modules", 403),
    ("owner", "POST", "/api/v1/communities/7/modules", 200),
    ("root", "POST", "/api/v1/communities/7/modules", 200),
    ("alice", "GET", "/api/v1/communities/7/modules", 200),  # empty permissions: any principal
    (None, "GET", "/api/v1/communities/7/modules", 401),
    ("alice", "GET", "/api/v1/reports", 403),
    ("mod", "GET", "/api/v1/reports", 200),  # any-of
    ("mod", "GET", "/api/v1/ban", 403),  # all-of: moderator lacks community:ban
    ("owner", "GET", "/api/v1/ban", 200),  # community:* covers community:ban
    ("owner", "GET", "/admin/users/3", 403),
    ("root", "GET", "/admin/users/3", 200),
    ("alice", "GET", "/unlisted", 403),  # default deny once a table is given
    (None, "GET", "/unlisted", 401),
    ("alice", "DELETE", "/api/v1/communities/7/modules", 403),  # no rule for DELETE: default deny
]


@pytest.mark.parametrize(("user", "method", "path", "status"), DECISIONS)
async def test_route_policy_decisions(user: str | None, method: str, path: str, status: int) -> None:
    """Each request gets the status its route policy and the principal's roles call for."""
    seen = Seen()
    response = await call(stack(RBACConfig(policies=POLICIES), seen), as_user(user, method, path))
    assert response.status == status
    assert len(seen.calls) == (1 if status == 200 else 0)


async def test_forbidden_bearer_gets_insufficient_scope_challenge() -> None:
    """A JWT principal lacking permission gets 403 with the RFC 6750 insufficient_scope challenge."""
    response = await call(stack(RBACConfig(policies=POLICIES)), as_user("alice", "GET", "/api/v1/ban"))
    assert response.status == 403
    assert response.json() == {
        "error": "insufficient_permissions",
        "detail": "You do not have permission to perform this action.",
    }
    assert response.headers["www-authenticate"] == 'Bearer realm="api", error="insufficient_scope"'


async def test_forbidden_api_key_has_no_bearer_challenge_and_event_names_rule() -> None:
    """An API-key principal gets a 403 without a bearer challenge; the event says which rule refused."""
    scope = as_user("mod", "POST", "/api/v1/communities/7/modules")
    response = await call(stack(RBACConfig(policies=POLICIES)), scope)
    assert response.status == 403
    event = GuardContext.from_scope(scope).events[-1]
    assert (event.type, event.result, event.principal_id) == ("authz_denied", "deny", "mod")
    assert event.extra == {"rule": "POST /api/v1/communities/{community_id}/modules", "required": "module:install"}
    scope = as_user("owner", "GET", "/admin/x")
    response = await call(stack(RBACConfig(policies=POLICIES)), scope)
    assert "www-authenticate" not in response.headers


async def test_missing_principal_is_401_with_bare_challenge() -> None:
    """Without a principal a protected route answers 401 missing_credentials and a bare Bearer challenge."""
    response = await call(stack(RBACConfig(policies=POLICIES)), as_user(None, "GET", "/api/v1/reports"))
    assert response.status == 401
    assert response.json()["error"] == "missing_credentials"
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'


async def test_shadow_rule_logs_and_lets_through() -> None:
    """A shadowed rule records the would-be denial and calls the app."""
    seen = Seen()
    scope = as_user("alice", "GET", "/api/v1/beta")
    response = await call(stack(RBACConfig(policies=POLICIES), seen), scope)
    assert response.status == 200
    event = GuardContext.from_scope(scope).events[-1]
    assert (event.type, event.result, event.reason) == ("authz_denied", "shadow", "missing_permission")
    assert event.extra["code"] == "insufficient_permissions"


async def test_config_wide_shadow_covers_default_deny_and_missing_principal() -> None:
    """With `shadow=True` even unlisted routes and anonymous calls pass, each leaving a shadow event."""
    seen = Seen()
    app = stack(RBACConfig(policies=POLICIES, shadow=True), seen)
    for scope in (as_user("alice", "GET", "/unlisted"), as_user(None, "GET", "/api/v1/ban")):
        response = await call(app, scope)
        assert response.status == 200
        assert GuardContext.from_scope(scope).events[-1].result == "shadow"
    assert len(seen.calls) == 2


async def test_without_policies_everything_is_allowed_but_auth_is_compiled() -> None:
    """No table means allow; the principal's scope["auth"] still understands role wildcards."""
    scope = as_user("owner", "GET", "/anything")
    response = await call(stack(RBACConfig()), scope)
    assert response.status == 200
    auth = scope["auth"]
    assert isinstance(auth, GuardCredentials)
    assert "community:ban" in auth.scopes
    assert "communityx:ban" not in auth.scopes
    anonymous = as_user(None, "GET", "/anything")
    assert (await call(stack(RBACConfig()), anonymous)).status == 200
    assert "auth" not in anonymous


@pytest.mark.parametrize(("default", "status"), [("allow", 200), ("deny", 403)])
async def test_explicit_default(default: Any, status: int) -> None:
    """`default` overrides the table-dependent default for unlisted routes."""
    config = RBACConfig(policies=POLICIES, default=default)
    assert (await call(stack(config), as_user("alice", "GET", "/unlisted"))).status == status
    assert (await call(stack(RBACConfig(default="deny")), as_user("root", "GET", "/x"))).status == 403


async def test_community_roles_feed_the_check() -> None:
    """Roles the tenancy layer resolved for this community count for this request only."""
    seen = Seen()

    async def with_community_roles(scope: Any, receive: Any, send: Any) -> None:
        GuardContext.from_scope(scope).community_roles = frozenset({"community_owner"})
        await RBACMiddleware(recording_app(seen), RBACConfig(policies=POLICIES))(scope, receive, send)

    app = PrincipalFromHeader(with_community_roles, PRINCIPALS)
    assert (await call(app, as_user("alice", "POST", "/api/v1/communities/7/modules"))).status == 200
    assert (
        await call(stack(RBACConfig(policies=POLICIES)), as_user("alice", "POST", "/api/v1/communities/7/modules"))
    ).status == 403


async def test_root_path_is_respected() -> None:
    """Policies match the route path, with the mount's root_path removed."""
    app = stack(RBACConfig(policies=POLICIES))
    assert (await call(app, as_user("alice", "GET", "/api/v1/ban", root_path="/mounted"))).status == 403
    assert (await call(app, as_user(None, "GET", "/health", root_path="/mounted"))).status == 200


async def test_cors_preflight_skips_by_default() -> None:
    """A CORS preflight passes without a principal unless skipping is turned off; a bare OPTIONS does not."""
    preflight = {"origin": "https://a.example", "access-control-request-method": "POST"}
    app = stack(RBACConfig(policies=POLICIES))
    assert (await call(app, as_user(None, "OPTIONS", "/api/v1/ban", headers=preflight))).status == 200
    assert (await call(app, as_user(None, "OPTIONS", "/api/v1/ban"))).status == 401
    no_origin = {"access-control-request-method": "POST"}
    assert (await call(app, as_user(None, "OPTIONS", "/api/v1/ban", headers=no_origin))).status == 401
    strict = stack(RBACConfig(policies=POLICIES, skip_preflight=False))
    assert (await call(strict, as_user(None, "OPTIONS", "/api/v1/ban", headers=preflight))).status == 401


async def test_problem_format() -> None:
    """`error_format="problem"` answers RFC 9457 problem details."""
    response = await call(stack(RBACConfig(policies=POLICIES, error_format="problem")), as_user("alice", "GET", "/x"))
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "insufficient_permissions"


async def test_websocket_is_checked_as_get() -> None:
    """Websocket handshakes are matched as GET and refused with close code 1008."""
    app = stack(RBACConfig(policies=POLICIES))
    recorder = MessageRecorder()
    await app(as_user("alice", path="/api/v1/ban", type="websocket"), receive_body(), recorder)
    assert recorder.messages == [{"type": "websocket.close", "code": 1008, "reason": "insufficient_permissions"}]
    seen = Seen()
    recorder = MessageRecorder()
    ok = stack(RBACConfig(policies=POLICIES), seen)
    await ok(as_user("owner", path="/api/v1/ban", type="websocket"), receive_body(), recorder)
    assert recorder.messages[0] == {"type": "websocket.accept"}


async def test_lifespan_passes_through() -> None:
    """Lifespan scopes reach the app untouched, even under default deny."""
    seen = Seen()
    app = RBACMiddleware(recording_app(seen), RBACConfig(default="deny"))
    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive_body(), MessageRecorder())
    assert seen.calls == [{"community_id": None, "community_roles": frozenset(), "type": "lifespan"}]


async def test_middleware_defaults_and_authorizer() -> None:
    """Without a config the middleware allows everything and exposes its compiled hierarchy."""
    middleware = RBACMiddleware(recording_app(Seen()))
    assert middleware.config == RBACConfig()
    assert middleware.authorizer.matcher(Principal("x", roles=frozenset({"admin"})))("anything:goes")


async def test_guard_composes_and_requires_authentication() -> None:
    """`guard(app, RBACConfig(...))` refuses to build without authentication and works with it."""
    config = RBACConfig(policies=POLICIES)
    with pytest.raises(ConfigurationError, match="`authentication` with `rbac`"):
        guard(recording_app(Seen()), config)
    app = guard(recording_app(Seen()), config, FakeAuthConfig(PRINCIPALS))
    assert (await call(app, as_user("alice", "GET", "/api/v1/ban"))).status == 403
    assert (await call(app, as_user("owner", "GET", "/api/v1/ban"))).status == 200


async def test_get_policy_covers_head() -> None:
    """HEAD (which Starlette serves with the GET endpoint) is held to the GET policy, even when unlisted routes pass."""
    config = RBACConfig(
        policies=(RoutePolicy(path="/secret", methods=("GET",), permissions=("module:install",)),), default="allow"
    )
    app = stack(config)
    assert (await call(app, as_user("alice", "HEAD", "/secret"))).status == 403
    assert (await call(app, as_user("owner", "HEAD", "/secret"))).status == 200
    assert (await call(app, as_user("alice", "POST", "/secret"))).status == 200  # other methods: unlisted
