"""Principal and credentials, as Starlette's request.user and @requires see them."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from asgi_guard.principal import GuardCredentials, PermissionSet, Principal

pytestmark = pytest.mark.anyio


def test_principal_is_a_starlette_user() -> None:
    """Principal answers BaseUser's is_authenticated, display_name and identity."""
    principal = Principal("u-1", roles=frozenset({"moderator", "admin"}), communities={"c1": frozenset({"owner"})})
    assert principal.is_authenticated is True
    assert principal.display_name == "u-1"
    assert principal.identity == "u-1"
    assert Principal("u-2", username="Ada").display_name == "Ada"
    assert principal.is_member("c1")
    assert not principal.is_member("c2")
    assert principal.claims == {}
    assert principal.permission_limit is None


def test_repr_never_shows_claims() -> None:
    """repr shows id, method and sorted roles but no claims (which may hold personal data)."""
    principal = Principal("u-1", roles=frozenset({"b", "a"}), method="jwt", claims={"email": "a@b.c"})
    assert repr(principal) == "Principal(id='u-1', method='jwt', roles=['a', 'b'])"


def test_permission_set_uses_its_matcher() -> None:
    """PermissionSet answers `in` through the matcher, iterates sorted grants, and ignores non-strings."""
    plain = PermissionSet(frozenset({"b:view", "a:edit"}))
    assert "a:edit" in plain
    assert "a:*" not in plain
    assert 3 not in plain
    assert list(plain) == ["a:edit", "b:view"]
    assert len(plain) == 2
    assert repr(plain) == "PermissionSet(['a:edit', 'b:view'])"
    wildcard = PermissionSet(frozenset({"community:*"}), lambda wanted: wanted.startswith("community:"))
    assert "community:moderate" in wildcard
    assert "module:install" not in wildcard


async def test_starlette_requires_honours_the_matcher() -> None:
    """Starlette's own @requires sees GuardCredentials and request.user sees the Principal."""

    @requires("community:moderate")
    async def moderate(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.user.display_name)

    granted = PermissionSet(frozenset({"community:*"}), lambda wanted: wanted.startswith("community:"))

    def with_auth(permissions: PermissionSet) -> object:
        inner = Starlette(routes=[Route("/mod", moderate)])

        async def app(scope, receive, send):  # type: ignore[no-untyped-def]
            scope["user"] = Principal("u-9", username="Mo")
            scope["auth"] = GuardCredentials(permissions)
            await inner(scope, receive, send)

        return app

    outcomes = []
    for permissions in (granted, PermissionSet(frozenset({"profile:view"}))):
        transport = httpx.ASGITransport(app=with_auth(permissions), client=("127.0.0.1", 1))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/mod")
        outcomes.append((response.status_code, response.text if response.status_code == 200 else ""))
    assert outcomes == [(200, "Mo"), (403, "")]


def test_default_communities_cannot_be_mutated() -> None:
    """The shared empty communities default is read-only, so one principal cannot grant memberships to all."""
    principal = Principal("u-1")
    with pytest.raises(TypeError):
        principal.communities["c1"] = frozenset()  # type: ignore[index]
    assert not Principal("u-2").is_member("c1")


def test_credentials_resolve_their_scopes_once_on_first_read() -> None:
    """Authentication's and tenancy's ``scope["auth"]`` are computed only if read (RBAC replaces
    them when present); once read, the answer stays; an app's assignment replaces it."""

    calls: list[int] = []
    granted = PermissionSet(frozenset({"profile:view"}))

    def resolve() -> PermissionSet:
        calls.append(1)
        return granted

    credentials = GuardCredentials(resolve=resolve)
    assert calls == []
    assert "profile:view" in credentials.scopes
    assert credentials.scopes is granted
    assert calls == [1]
    credentials.scopes = PermissionSet(frozenset())
    assert "profile:view" not in credentials.scopes
    with pytest.raises(TypeError, match="permissions or resolve"):
        GuardCredentials()
