"""Starlette's own ``@requires`` with ``guard(app, AuthConfig(...))`` alone (no RBAC layer): authentication
fills ``scope["user"]`` and ``scope["auth"]`` with the principal's role-expanded grants, wildcards and
``authenticated`` understood, narrowed for API keys."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_guard import guard
from asgi_guard.auth import (
    APIKeyAuth,
    APIKeyRecord,
    AuthConfig,
    JWTAuth,
    KeyRing,
    MemoryAPIKeyStore,
    MemoryRevocationStore,
    create_api_key,
    hash_api_key,
)
from asgi_guard.errors import ConfigurationError
from asgi_guard.rbac import Role, RoleHierarchy
from tests.auth.conftest import SECRET, sign

pytestmark = pytest.mark.anyio

KEY = create_api_key()


@requires("authenticated")
async def me(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.user.identity, "authenticated": request.user.is_authenticated})


@requires("community:moderate")
async def moderate(request: Request) -> JSONResponse:
    return JSONResponse({"by": request.user.display_name})


@requires(["authenticated", "module:install"])
async def install(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def _app(**config: Any) -> Any:
    starlette = Starlette(
        routes=[Route("/me", me), Route("/moderate", moderate), Route("/install", install), Route("/open", me)]
    )
    store = MemoryAPIKeyStore(
        [
            APIKeyRecord(
                key_hash=hash_api_key(KEY),
                name="bot",
                owner_id="owner-1",
                role="user",
                owner_roles=frozenset({"moderator"}),
                permissions=frozenset({"profile:view"}),
                created_at=0.0,
            )
        ]
    )
    jwt_auth = JWTAuth(
        keyring=KeyRing.single(SECRET, kid="k1"), revocation=MemoryRevocationStore(), issuer=None, audience=None
    )
    return guard(starlette, AuthConfig(jwt=jwt_auth, api_key=APIKeyAuth(store=store), optional=("/open",), **config))


def _token(**extra: Any) -> str:
    now = int(time.time())
    return sign({"sub": "u1", "iat": now, "exp": now + 3600, "jti": "j", "type": "access", **extra})


async def _get(app: Any, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path, headers=headers or {})


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_requires_authenticated_with_authentication_alone() -> None:
    """Any authenticated principal passes ``@requires("authenticated")``, even with no role at all."""
    app = _app()
    response = await _get(app, "/me", _bearer(_token()))
    assert response.status_code == 200
    assert response.json() == {"id": "u1", "authenticated": True}
    assert (await _get(app, "/me", {"x-api-key": KEY})).json() == {"id": "owner-1", "authenticated": True}


async def test_anonymous_on_an_optional_route_fails_requires() -> None:
    """An anonymous request let through an optional route is not ``authenticated`` for Starlette."""
    app = _app()
    assert (await _get(app, "/open")).status_code == 403
    assert (await _get(app, "/open", _bearer(_token()))).status_code == 200


@pytest.mark.parametrize(
    ("roles", "permissions", "status"),
    [
        (["moderator"], [], 200),  # granted by the role
        (["community_owner"], [], 200),  # inherited, and `community:*`
        (["admin"], [], 200),  # `*`
        ([], ["community:*"], 200),  # a direct wildcard permission
        (["user"], [], 403),
        ([], ["community:moderatex"], 403),
        (["unknown-role"], [], 403),  # names the hierarchy does not define grant nothing
    ],
)
async def test_requires_a_permission_sees_role_grants(roles: list[str], permissions: list[str], status: int) -> None:
    """``@requires("community:moderate")`` sees what the roles grant, wildcards included."""
    response = await _get(_app(), "/moderate", _bearer(_token(roles=roles, permissions=permissions)))
    assert response.status_code == status


async def test_api_key_permissions_narrow_what_requires_sees() -> None:
    """A key whose owner is a moderator but which is limited to ``profile:view`` cannot moderate."""
    app = _app()
    assert (await _get(app, "/moderate", {"x-api-key": KEY})).status_code == 403
    assert (await _get(app, "/moderate", _bearer(_token(roles=["moderator"])))).status_code == 200


async def test_configured_role_hierarchy_is_used() -> None:
    """``AuthConfig.roles`` reshapes what roles grant in ``scope["auth"]``."""
    roles = RoleHierarchy(roles=(Role(name="installer", permissions=("module:install",)),))
    app = _app(roles=roles)
    assert (await _get(app, "/install", _bearer(_token(roles=["installer"])))).status_code == 200
    assert (await _get(app, "/install", _bearer(_token(roles=["community_owner"])))).status_code == 403
    assert (await _get(_app(), "/install", _bearer(_token(roles=["community_owner"])))).status_code == 200


def test_roles_must_be_a_hierarchy() -> None:
    """Anything but a RoleHierarchy is refused when the config is built."""
    jwt_auth = JWTAuth(keyring=KeyRing.single(SECRET), revocation=MemoryRevocationStore(), issuer=None, audience=None)
    with pytest.raises(ConfigurationError, match=r"AuthConfig\.roles"):
        AuthConfig(jwt=jwt_auth, roles=("admin",))  # type: ignore[arg-type]


async def test_community_roles_count_for_requires_with_authentication_and_tenancy() -> None:
    """With tenancy (and still no RBAC), a moderator of community 5 passes ``@requires("community:moderate")``
    there, and only there; a plain member of 6 does not."""
    from asgi_guard.tenancy import TenancyConfig

    starlette = Starlette(
        routes=[Route("/communities/{community_id}/moderate", moderate), Route("/moderate", moderate)]
    )
    jwt_auth = JWTAuth(
        keyring=KeyRing.single(SECRET, kid="k1"), revocation=MemoryRevocationStore(), issuer=None, audience=None
    )
    app = guard(starlette, AuthConfig(jwt=jwt_auth), TenancyConfig(routes=("/communities/{community_id}/{rest:path}",)))
    token = _bearer(_token(roles=["user"], communities={"5": ["moderator"], "6": []}))
    assert (await _get(app, "/communities/5/moderate", token)).status_code == 200
    assert (await _get(app, "/communities/6/moderate", token)).status_code == 403
    assert (await _get(app, "/moderate", token)).status_code == 403
