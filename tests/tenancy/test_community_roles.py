"""Community roles come from an allow-list: a token or resolver granting anything else inside a
community (``admin`` above all) has its membership refused with a security event, and an allow-list
naming a global-only role is a configuration error."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_guard import guard
from asgi_guard.auth import AuthConfig, JWTAuth, KeyRing, MemoryRevocationStore, TokenService
from asgi_guard.context import get_context
from asgi_guard.errors import ConfigurationError
from asgi_guard.principal import Principal
from asgi_guard.rbac import RBACConfig, RoutePolicy
from asgi_guard.tenancy import StaticMembership, TenancyConfig
from asgi_guard.testing import call, make_scope
from asgi_guard.types import Receive, Scope, Send

pytestmark = pytest.mark.anyio

SECRET = b"s" * 32
ROUTE = "/communities/{community_id}/{rest:path}"
RING = KeyRing.single(SECRET)
TOKENS = TokenService(RING, MemoryRevocationStore())


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _stack(**tenancy: Any) -> Any:
    jwt_auth = JWTAuth(keyring=RING, revocation=MemoryRevocationStore(), issuer=None, audience=None)
    return guard(
        _ok,
        AuthConfig(jwt=jwt_auth),
        TenancyConfig(routes=(ROUTE,), **tenancy),
        RBACConfig(
            policies=(
                RoutePolicy(path="/communities/{community_id}/members", permissions=()),
                RoutePolicy(path="/communities/{community_id}/settings", permissions=("community:configure",)),
                RoutePolicy(path="/communities/{community_id}/anything", permissions=("platform:shutdown",)),
            )
        ),
    )


async def _get(app: Any, path: str, token: str) -> tuple[int, Scope]:
    scope = make_scope("GET", path, headers={"authorization": f"Bearer {token}"})
    recorder = await call(app, scope)
    return recorder.status, scope


def _denials(scope: Scope) -> list[tuple[str, str, str]]:
    return [(e.type, e.result, e.reason) for e in get_context(scope).events if e.result == "deny"]


@pytest.mark.parametrize("role", ["admin", "superuser", "Moderator", "community_owner "])
async def test_token_granting_a_role_outside_the_allow_list_is_refused(role: str) -> None:
    """``communities: {"5": ["admin"]}`` in a (validly signed) token: the membership is refused, 403,
    and a ``community_denied`` event says why; the same user's plain membership still works."""
    app = _stack()
    token = TOKENS.issue_access("u1", roles=["user"], communities={"5": [role], "6": ["moderator"]})
    status, scope = await _get(app, "/communities/5/anything", token)
    assert status == 403
    assert _denials(scope) == [("community_denied", "deny", "community_role_not_allowed")]
    status, _ = await _get(app, "/communities/6/members", token)
    assert status == 200


async def test_allowed_roles_still_work_and_grant_their_permissions() -> None:
    """The default allow-list (community_owner, moderator, user) is honoured as before."""
    app = _stack()
    owner = TOKENS.issue_access("u1", roles=["user"], communities={"5": ["community_owner"]})
    moderator = TOKENS.issue_access("u2", roles=["user"], communities={"5": ["moderator", "user"]})
    assert (await _get(app, "/communities/5/settings", owner))[0] == 200
    assert (await _get(app, "/communities/5/settings", moderator))[0] == 403  # permission, not membership


async def test_resolver_granting_admin_is_refused() -> None:
    """A resolver is authoritative for membership, not for which roles exist: ``admin`` is refused."""
    directory = StaticMembership({"u1": {"5": frozenset({"admin"})}, "u2": {"5": frozenset({"moderator"})}})
    app = _stack(resolver=directory)
    status, scope = await _get(app, "/communities/5/anything", TOKENS.issue_access("u1", roles=["user"]))
    assert status == 403
    assert _denials(scope) == [("community_denied", "deny", "community_role_not_allowed")]
    assert (await _get(app, "/communities/5/members", TOKENS.issue_access("u2", roles=["user"])))[0] == 200


async def test_admin_override_with_a_forged_community_role_is_refused() -> None:
    """Even a global admin entering a community does not carry a disallowed community role in."""
    app = _stack()
    admin = TOKENS.issue_access("root", roles=["admin"], communities={"5": ["platform-root"]})
    assert (await _get(app, "/communities/5/members", admin))[0] == 403
    plain_admin = TOKENS.issue_access("root", roles=["admin"])
    assert (await _get(app, "/communities/5/anything", plain_admin))[0] == 200  # the logged override


async def test_custom_allow_list() -> None:
    """A deployment with its own community roles lists them; others are refused."""
    app = _stack(community_roles=("vip", "moderator"))
    vip = TOKENS.issue_access("u1", roles=["user"], communities={"5": ["vip"]})
    owner = TOKENS.issue_access("u2", roles=["user"], communities={"5": ["community_owner"]})
    assert (await _get(app, "/communities/5/members", vip))[0] == 200
    assert (await _get(app, "/communities/5/members", owner))[0] == 403


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"community_roles": ("moderator", "admin")}, "global-only"),
        ({"community_roles": ("staff",), "admin_roles": ("staff",)}, "global-only"),
        ({"community_roles": ("bad role",)}, "role name"),
        ({"community_roles": (7,)}, "role name"),
    ],
)
def test_allow_list_with_a_global_role_is_a_configuration_error(kwargs: dict[str, Any], match: str) -> None:
    """``admin`` (or any configured admin role) in the community allow-list is refused at construction."""
    with pytest.raises(ConfigurationError, match=match):
        TenancyConfig(routes=(ROUTE,), **kwargs)


def test_principal_fixture_is_what_the_stack_sees() -> None:
    """The forged claim really reaches the principal (so the refusal above is the allow-list's doing)."""
    from asgi_guard.auth import JWTVerifier

    token = TOKENS.issue_access("u1", communities={"5": ["admin"]})
    principal: Principal = JWTVerifier(RING).verify(token).principal
    assert principal.communities == {"5": frozenset({"admin"})}
