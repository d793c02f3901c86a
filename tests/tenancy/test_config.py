"""TenancyConfig validation, composition with guard(), and the framework middleware hooks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from litestar import Litestar, get
from litestar import Request as LitestarRequest
from litestar.middleware.base import DefineMiddleware
from litestar.testing import TestClient as LitestarClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_guard.compose import guard
from asgi_guard.context import get_community_id
from asgi_guard.errors import ConfigurationError
from asgi_guard.principal import Principal
from asgi_guard.rbac import RBACConfig
from asgi_guard.tenancy import TenancyConfig, TenancyMiddleware
from asgi_guard.testing import call, make_scope
from tests.rbac.support import FakeAuthConfig, PrincipalFromHeader, Seen, recording_app

pytestmark = pytest.mark.anyio

PRINCIPALS = {"alice": Principal("alice", roles=frozenset({"user"}), communities={"7": frozenset({"moderator"})})}
CONFIG = TenancyConfig(routes=("/c/{community_id}/{rest:path}", "/items"))

BAD: list[tuple[dict[str, Any], str]] = [
    ({"routes": ()}, "at least one route template"),
    ({"routes": ("items",)}, "TenancyConfig.routes\\[0\\]"),
    ({"routes": ("/a",), "header": "X-Community-ID"}, "lower-case ASCII header"),
    ({"routes": ("/a",), "header": ""}, "lower-case ASCII header"),
    ({"routes": ("/a",), "header": "x-gemeinschaft-ü"}, "lower-case ASCII header"),
    ({"routes": ("/a",), "id_pattern": "("}, "a regular expression"),
    ({"routes": ("/a",), "id_pattern": "[0-9]*"}, "a pattern rejecting"),
    ({"routes": ("/a",), "resolver": "db"}, "an async callable"),
    ({"routes": ("/a",), "cache_ttl": -1}, "`cache_ttl` >= 0"),
    ({"routes": ("/a",), "cache_size": 0}, "`cache_size` >= 1"),
    ({"routes": ("/a",), "error_format": "xml"}, "`json` or `problem`"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD)
def test_bad_configs_raise(kwargs: dict[str, Any], message: str) -> None:
    """Every invalid option is a configuration error naming the field."""
    with pytest.raises(ConfigurationError, match=message):
        TenancyConfig(**kwargs)


async def test_guard_composes_and_requires_authentication() -> None:
    """`guard()` refuses tenancy without authentication and runs tenancy before RBAC."""
    with pytest.raises(ConfigurationError, match="`authentication` with `tenancy`"):
        guard(recording_app(Seen()), CONFIG)
    seen = Seen()
    app = guard(recording_app(seen), RBACConfig(), CONFIG, FakeAuthConfig(PRINCIPALS))
    response = await call(app, make_scope("GET", "/c/7/x", headers={"x-test-user": "alice"}))
    assert response.status == 200
    assert seen.calls[0]["community_roles"] == {"moderator"}
    assert (await call(app, make_scope("GET", "/c/8/x", headers={"x-test-user": "alice"}))).status == 403


async def community_endpoint(request: Request) -> JSONResponse:
    return JSONResponse({"community": get_community_id(request)})


async def test_starlette_and_fastapi_middleware() -> None:
    """The middleware installs with Starlette `Middleware(...)` and FastAPI `add_middleware`."""
    starlette = Starlette(
        routes=[Route("/items", community_endpoint)],
        middleware=[
            Middleware(PrincipalFromHeader, principals=PRINCIPALS),
            Middleware(TenancyMiddleware, config=CONFIG),
        ],
    )
    fastapi = FastAPI()
    fastapi.add_route("/items", community_endpoint)
    fastapi.add_middleware(TenancyMiddleware, config=CONFIG)
    fastapi.add_middleware(PrincipalFromHeader, principals=PRINCIPALS)
    for app in (starlette, fastapi):
        transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            ok = await client.get("/items", headers={"x-test-user": "alice", "x-community-id": "7"})
            assert ok.json() == {"community": "7"}
            denied = await client.get("/items", headers={"x-test-user": "alice", "x-community-id": "8"})
            assert denied.json()["error"] == "community_forbidden"


def test_litestar_middleware() -> None:
    """The middleware installs with Litestar `DefineMiddleware` and the handler reads the checked id."""

    @get("/items", sync_to_thread=False)
    def items(request: LitestarRequest[Any, Any, Any]) -> dict[str, str]:
        return {"community": get_community_id(request)}

    app = Litestar(
        route_handlers=[items],
        middleware=[
            DefineMiddleware(PrincipalFromHeader, principals=PRINCIPALS),
            DefineMiddleware(TenancyMiddleware, config=CONFIG),
        ],
    )
    with LitestarClient(app) as client:
        assert client.get("/items", headers={"x-test-user": "alice", "x-community-id": "7"}).json() == {
            "community": "7"
        }
        assert client.get("/items", headers={"x-test-user": "alice"}).status_code == 400
