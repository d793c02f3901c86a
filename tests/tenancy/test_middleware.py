"""TenancyMiddleware on raw ASGI: reading, checking and scoping the community of a request."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_guard.context import GuardContext
from asgi_guard.principal import Principal
from asgi_guard.rbac import RBACConfig, RBACMiddleware, RoutePolicy
from asgi_guard.tenancy import StaticMembership, TenancyConfig, TenancyMiddleware
from asgi_guard.testing import FakeClock, MessageRecorder, call, make_scope, receive_body
from tests.rbac.support import PrincipalFromHeader, Seen, recording_app

pytestmark = pytest.mark.anyio

ALICE = Principal("alice", roles=frozenset({"user"}), communities={"7": frozenset({"moderator"}), "8": frozenset()})
ROOT = Principal("root", roles=frozenset({"admin"}), communities={"7": frozenset({"community_owner"})})
PRINCIPALS = {p.id: p for p in (ALICE, ROOT)}
ROUTES = ("/api/v1/communities/{community_id}/{rest:path}", "/api/v1/modules")


def stack(config: TenancyConfig, seen: Seen) -> PrincipalFromHeader:
    return PrincipalFromHeader(TenancyMiddleware(recording_app(seen), config), PRINCIPALS)


def request(path: str, user: str | None = "alice", **headers: str) -> dict[str, Any]:
    pairs = [(k.replace("_", "-"), v) for k, v in headers.items()]
    if user:
        pairs.append(("x-test-user", user))
    return make_scope("GET", path, headers=pairs)


CASES = [
    # (path, user, headers, status, error code or community seen by the app)
    ("/api/v1/modules", "alice", {"x_community_id": "7"}, 200, "7"),
    ("/api/v1/modules", "alice", {"x_community_id": "8"}, 200, "8"),
    ("/api/v1/modules", "alice", {"x_community_id": "9"}, 403, "community_forbidden"),
    ("/api/v1/modules", "alice", {}, 400, "missing_community_id"),
    ("/api/v1/modules", "alice", {"x_community_id": "07"}, 400, "invalid_community_id"),
    ("/api/v1/modules", "alice", {"x_community_id": "0"}, 400, "invalid_community_id"),
    ("/api/v1/modules", "alice", {"x_community_id": "-7"}, 400, "invalid_community_id"),
    ("/api/v1/modules", "alice", {"x_community_id": "7 "}, 400, "invalid_community_id"),
    ("/api/v1/modules", "alice", {"x_community_id": ""}, 400, "invalid_community_id"),
    ("/api/v1/modules", "alice", {"x_community_id": "1" * 20}, 400, "invalid_community_id"),
    ("/api/v1/modules", "alice", {"x_community_id": "7,8"}, 400, "invalid_community_id"),
    ("/api/v1/communities/7/members", "alice", {}, 200, "7"),
    ("/api/v1/communities/7/members", "alice", {"x_community_id": "7"}, 200, "7"),
    ("/api/v1/communities/7/members", "alice", {"x_community_id": "8"}, 400, "invalid_community_id"),
    ("/api/v1/communities/9/members", "alice", {"x_community_id": "7"}, 400, "invalid_community_id"),
    ("/api/v1/communities/9/members", "alice", {}, 403, "community_forbidden"),
    ("/api/v1/communities/abc/members", "alice", {}, 400, "invalid_community_id"),
    ("/api/v1/communities/9/members", "root", {}, 200, "9"),  # admin override
    ("/api/v1/modules", None, {"x_community_id": "7"}, 401, "missing_credentials"),
    ("/api/v1/other", "alice", {"x_community_id": "9"}, 200, None),  # unconfigured route: not scoped
]


@pytest.mark.parametrize(("path", "user", "headers", "status", "outcome"), CASES)
async def test_community_resolution(
    path: str, user: str | None, headers: dict[str, str], status: int, outcome: str | None
) -> None:
    """Each request is scoped to its checked community or refused with the documented code."""
    seen = Seen()
    response = await call(stack(TenancyConfig(routes=ROUTES), seen), request(path, user, **headers))
    assert response.status == status
    if status == 200:
        assert seen.calls[0]["community_id"] == outcome
    else:
        assert response.json()["error"] == outcome
        assert seen.calls == []


async def test_non_ascii_header_is_invalid() -> None:
    """A header with non-ASCII bytes is an invalid id, not a crash."""
    arabic_indic_seven = "\u0667".encode()
    scope = make_scope(
        "GET", "/api/v1/modules", headers=[(b"x-community-id", arabic_indic_seven), (b"x-test-user", b"alice")]
    )
    response = await call(stack(TenancyConfig(routes=ROUTES), Seen()), scope)
    assert (response.status, response.json()["error"]) == (400, "invalid_community_id")


async def test_duplicate_header_is_malformed() -> None:
    """Two X-Community-ID headers are ambiguous and refused."""
    scope = make_scope(
        "GET", "/api/v1/modules", headers=[("x-community-id", "7"), ("x-community-id", "9"), ("x-test-user", "alice")]
    )
    response = await call(stack(TenancyConfig(routes=ROUTES), Seen()), scope)
    assert (response.status, response.json()["error"]) == (400, "malformed_request")


async def test_community_roles_and_events() -> None:
    """The member's community roles reach the context; a refusal is logged as community_denied."""
    seen = Seen()
    app = stack(TenancyConfig(routes=ROUTES), seen)
    await call(app, request("/api/v1/modules", x_community_id="7"))
    assert seen.calls[0]["community_roles"] == {"moderator"}
    scope = request("/api/v1/modules", x_community_id="9")
    await call(app, scope)
    event = GuardContext.from_scope(scope).events[-1]
    assert (event.type, event.result, event.reason) == ("community_denied", "deny", "not_a_member")


async def test_admin_override_is_logged_and_keeps_member_roles() -> None:
    """An admin outside the community gets in with an admin_override event; inside, keeps its roles there."""
    seen = Seen()
    app = stack(TenancyConfig(routes=ROUTES), seen)
    scope = request("/api/v1/modules", "root", x_community_id="9")
    assert (await call(app, scope)).status == 200
    event = GuardContext.from_scope(scope).events[-1]
    assert (event.type, event.result, event.extra) == ("admin_override", "allow", {"community": "9"})
    inside = request("/api/v1/modules", "root", x_community_id="7")
    await call(app, inside)
    assert seen.calls[1]["community_roles"] == {"community_owner"}
    assert GuardContext.from_scope(inside).events == []


async def test_custom_admin_roles_and_no_override() -> None:
    """`admin_roles` names who may override; an empty tuple means nobody."""
    app = stack(TenancyConfig(routes=ROUTES, admin_roles=()), Seen())
    assert (await call(app, request("/api/v1/modules", "root", x_community_id="9"))).status == 403
    staff = stack(TenancyConfig(routes=ROUTES, admin_roles=("user",), community_roles=("moderator",)), Seen())
    assert (await call(staff, request("/api/v1/modules", "alice", x_community_id="9"))).status == 200


class Directory:
    """An async membership lookup that counts calls and can fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.table = StaticMembership({"alice": {"9": frozenset({"community_owner"})}})

    async def __call__(self, principal: Principal, community_id: str) -> frozenset[str] | None:
        self.calls += 1
        if self.fail:
            raise TimeoutError("directory timeout")
        return await self.table(principal, community_id)


async def test_resolver_is_authoritative_and_cached() -> None:
    """With a resolver the credential's claims are ignored, and answers are cached for the TTL."""
    directory, clock, seen = Directory(), FakeClock(), Seen()
    app = stack(TenancyConfig(routes=ROUTES, resolver=directory, cache_ttl=10, clock=clock), seen)
    assert (await call(app, request("/api/v1/modules", x_community_id="7"))).status == 403  # claims say member
    assert (await call(app, request("/api/v1/modules", x_community_id="9"))).status == 200
    assert seen.calls[0]["community_roles"] == {"community_owner"}
    await call(app, request("/api/v1/modules", x_community_id="9"))
    assert directory.calls == 2
    clock.advance(11)
    await call(app, request("/api/v1/modules", x_community_id="9"))
    assert directory.calls == 3


async def test_resolver_without_cache_and_failure_fails_closed() -> None:
    """`cache_ttl=0` asks every time; a failing resolver answers 503 and never admits."""
    directory, seen = Directory(), Seen()
    app = stack(TenancyConfig(routes=ROUTES, resolver=directory, cache_ttl=0), seen)
    await call(app, request("/api/v1/modules", x_community_id="9"))
    await call(app, request("/api/v1/modules", x_community_id="9"))
    assert directory.calls == 2
    directory.fail = True
    scope = request("/api/v1/modules", x_community_id="9")
    response = await call(app, scope)
    assert (response.status, response.json()["error"]) == (503, "service_unavailable")
    assert GuardContext.from_scope(scope).events[-1].reason == "membership_resolver_failed:TimeoutError"
    assert len(seen.calls) == 2


async def test_custom_header_pattern_and_param() -> None:
    """Header name, id pattern and path parameter are configurable."""
    config = TenancyConfig(
        routes=("/t/{tenant}/x", "/y"), header="x-tenant", id_pattern="[a-z]{3}", path_param="tenant"
    )
    principal = {"alice": Principal("alice", communities={"abc": frozenset()})}
    seen = Seen()
    app = PrincipalFromHeader(TenancyMiddleware(recording_app(seen), config), principal)
    assert (await call(app, request("/t/abc/x"))).status == 200
    assert (await call(app, request("/y", x_tenant="abc"))).status == 200
    assert (await call(app, request("/y", x_tenant="ABC"))).status == 400
    assert (await call(app, request("/y", x_community_id="abc"))).json()["error"] == "missing_community_id"


async def test_root_path_preflight_websocket_lifespan() -> None:
    """Routes match under root_path; preflight and lifespan pass; websockets are scoped and refused with 1008."""
    seen = Seen()
    app = stack(TenancyConfig(routes=ROUTES), seen)
    mounted = make_scope("GET", "/api/v1/modules", root_path="/app", headers=[("x-test-user", "alice")])
    assert (await call(app, mounted)).json()["error"] == "missing_community_id"
    preflight = make_scope(
        "OPTIONS", "/api/v1/modules", headers={"origin": "https://a.example", "access-control-request-method": "GET"}
    )
    assert (await call(app, preflight)).status == 200
    strict = stack(TenancyConfig(routes=ROUTES, skip_preflight=False), Seen())
    assert (await call(strict, preflight)).status == 400
    assert (await call(app, make_scope("OPTIONS", "/api/v1/modules"))).status == 400
    recorder = MessageRecorder()
    ws = make_scope(path="/api/v1/communities/9/live", headers={"x-test-user": "alice"}, type="websocket")
    await app(ws, receive_body(), recorder)
    assert recorder.messages == [{"type": "websocket.close", "code": 1008, "reason": "community_forbidden"}]
    ws_ok = make_scope(path="/api/v1/communities/7/live", headers={"x-test-user": "alice"}, type="websocket")
    await app(ws_ok, receive_body(), MessageRecorder())
    await app({"type": "lifespan"}, receive_body(), MessageRecorder())
    assert [call["type"] for call in seen.calls] == ["http", "websocket", "lifespan"]
    assert seen.calls[1]["community_id"] == "7"


async def test_problem_format() -> None:
    """`error_format="problem"` answers RFC 9457 problem details."""
    app = stack(TenancyConfig(routes=ROUTES, error_format="problem"), Seen())
    response = await call(app, request("/api/v1/modules"))
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "missing_community_id"


RBAC = RBACConfig(
    policies=(
        RoutePolicy(path="/api/v1/modules", methods=("GET",), permissions=("community:moderate",)),
        RoutePolicy(path="/api/v1/communities/{community_id}/{rest:path}", permissions=("module:install",)),
    )
)


@pytest.mark.parametrize(
    ("path", "community", "status"),
    [
        ("/api/v1/modules", "7", 200),  # moderator in 7
        ("/api/v1/modules", "8", 403),  # plain member of 8: insufficient_permissions
        ("/api/v1/communities/7/x", None, 403),  # moderator cannot install
    ],
)
async def test_community_roles_feed_rbac(path: str, community: str | None, status: int) -> None:
    """Per-community roles decide RBAC for that request only."""
    app = PrincipalFromHeader(
        TenancyMiddleware(RBACMiddleware(recording_app(Seen()), RBAC), TenancyConfig(routes=ROUTES)), PRINCIPALS
    )
    headers = {"x_community_id": community} if community else {}
    assert (await call(app, request(path, **headers))).status == status


@pytest.mark.parametrize(
    ("answer", "status", "roles"),
    [
        (["moderator"], 200, {"moderator"}),
        ({"moderator"}, 200, {"moderator"}),
        (("moderator",), 200, {"moderator"}),
        ("moderator", 503, None),  # a bare string is not a role set (it would be its characters)
        ([1], 503, None),
        (True, 503, None),
    ],
)
async def test_resolver_answers_are_normalised_or_refused(answer: Any, status: int, roles: set[str] | None) -> None:
    """Role collections are accepted as frozensets; anything else is refused with 503, never a 500."""

    async def resolver(principal: Principal, community_id: str) -> Any:
        return answer

    seen = Seen()
    app = stack(TenancyConfig(routes=ROUTES, resolver=resolver, cache_ttl=0), seen)
    scope = request("/api/v1/modules", x_community_id="7")
    response = await call(app, scope)
    assert response.status == status
    if roles is not None:
        assert seen.calls[0]["community_roles"] == roles
        assert isinstance(seen.calls[0]["community_roles"], frozenset)
    else:
        assert GuardContext.from_scope(scope).events[-1].reason.startswith("membership_bad_roles:")


async def test_admin_claims_with_a_list_of_roles() -> None:
    """An admin's community roles from claims are normalised too (and garbage refused)."""
    seen = Seen()
    admins = {
        "a": Principal("a", roles=frozenset({"admin"}), communities={"7": ["moderator"]}),  # type: ignore[dict-item]
        "b": Principal("b", roles=frozenset({"admin"}), communities={"7": 5}),  # type: ignore[dict-item]
    }
    app = PrincipalFromHeader(TenancyMiddleware(recording_app(seen), TenancyConfig(routes=ROUTES)), admins)
    assert (await call(app, request("/api/v1/modules", "a", x_community_id="7"))).status == 200
    assert seen.calls[0]["community_roles"] == {"moderator"}
    assert (await call(app, request("/api/v1/modules", "b", x_community_id="7"))).status == 503


async def test_narrowed_key_of_an_admin_stays_in_its_communities() -> None:
    """An admin's API key limited to some permissions and community 7 cannot use the admin override to enter 9."""
    narrowed = Principal(
        "root", roles=frozenset({"admin"}), permission_limit=frozenset({"profile:view"}), communities={"7": frozenset()}
    )
    full = Principal("root", roles=frozenset({"admin"}), permission_limit=frozenset({"*"}))
    tenancy = TenancyMiddleware(recording_app(Seen()), TenancyConfig(routes=ROUTES))
    app = PrincipalFromHeader(tenancy, {"narrowed": narrowed, "full": full})
    assert (await call(app, request("/api/v1/modules", "narrowed", x_community_id="7"))).status == 200
    refused = await call(app, request("/api/v1/modules", "narrowed", x_community_id="9"))
    assert (refused.status, refused.json()["error"]) == (403, "community_forbidden")
    assert (await call(app, request("/api/v1/modules", "full", x_community_id="9"))).status == 200


async def test_unreadable_communities_from_a_custom_principal_fail_closed() -> None:
    """With the default (claims) resolver, a principal whose communities cannot be read gets a 503, never a 500."""
    seen = Seen()
    odd = {"odd": Principal("odd", communities=None)}  # type: ignore[arg-type]
    app = PrincipalFromHeader(TenancyMiddleware(recording_app(seen), TenancyConfig(routes=ROUTES)), odd)
    scope = request("/api/v1/modules", "odd", x_community_id="7")
    response = await call(app, scope)
    assert (response.status, response.json()["error"]) == (503, "service_unavailable")
    assert GuardContext.from_scope(scope).events[-1].reason == "membership_resolver_failed:AttributeError"
    assert seen.calls == []
