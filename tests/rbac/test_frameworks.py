"""RBAC in real frameworks: Starlette (`@requires` and `requires_permission`), FastAPI, Litestar."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from litestar import Litestar, get
from litestar.middleware.base import DefineMiddleware
from litestar.testing import TestClient as LitestarClient
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.endpoints import HTTPEndpoint
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from asgi_guard.errors import ConfigurationError, MissingGuardContext
from asgi_guard.principal import Principal
from asgi_guard.rbac import (
    PermissionDenied,
    RBACConfig,
    RBACMiddleware,
    RoutePolicy,
    permission_denied_handler,
    permission_dependency,
    permission_guard,
    requires_permission,
)
from asgi_guard.testing import MessageRecorder, make_scope
from asgi_guard.types import ASGIApp, Message
from tests.rbac.support import ALICE, MOD, OWNER, ROOT, PrincipalFromHeader

pytestmark = pytest.mark.anyio

PRINCIPALS = {p.id: p for p in (ALICE, MOD, OWNER, ROOT)}
AS = {name: {"x-test-user": name} for name in PRINCIPALS}


def client_for(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.0.0.1", 4000)), base_url="http://t")


async def websocket_session(app: ASGIApp, user: str) -> list[Message]:
    """Open a websocket on /live as `user` and return what the server sent."""
    events: list[Message] = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]

    async def receive() -> Message:
        return events.pop(0)

    recorder = MessageRecorder()
    await app(make_scope(path="/live", headers=AS[user], type="websocket"), receive, recorder)
    return recorder.messages


def starlette_app() -> Starlette:
    @requires("community:moderate")
    async def starlette_requires(request: Request) -> PlainTextResponse:
        return PlainTextResponse("moderated")

    @requires_permission("module:install")
    async def install(request: Request) -> PlainTextResponse:
        return PlainTextResponse("installed")

    @requires_permission("profile:view", "community:ban", mode="any")
    def sync_view(request: Request) -> PlainTextResponse:
        return PlainTextResponse("viewed")

    class Modules(HTTPEndpoint):
        @requires_permission("module:configure")
        async def post(self, request: Request) -> PlainTextResponse:
            return PlainTextResponse("configured")

    @requires_permission("community:moderate")
    async def live(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("live")
        await websocket.close()

    return Starlette(
        routes=[
            Route("/moderate", starlette_requires),
            Route("/install", install, methods=["POST"]),
            Route("/view", sync_view),
            Route("/modules", Modules),
            WebSocketRoute("/live", live),
        ],
        middleware=[
            Middleware(PrincipalFromHeader, principals=PRINCIPALS),
            Middleware(RBACMiddleware, config=RBACConfig()),
        ],
    )


async def test_starlette_requires_understands_role_wildcards() -> None:
    """Starlette's own `@requires` sees role grants through scope["auth"]."""
    async with client_for(starlette_app()) as client:
        assert (await client.get("/moderate", headers=AS["mod"])).text == "moderated"
        assert (await client.get("/moderate", headers=AS["owner"])).status_code == 200  # community:* grant
        assert (await client.get("/moderate", headers=AS["alice"])).status_code == 403


async def test_requires_permission_on_starlette_endpoints() -> None:
    """The decorator guards async, sync and class-based endpoints with the asgi_guard error contract."""
    async with client_for(starlette_app()) as client:
        assert (await client.post("/install", headers=AS["owner"])).text == "installed"
        denied = await client.post("/install", headers=AS["mod"])
        assert denied.status_code == 403
        assert denied.json()["error"] == "insufficient_permissions"
        assert denied.headers["www-authenticate"] == 'Bearer realm="api", error="insufficient_scope"'
        anonymous = await client.post("/install")
        assert (anonymous.status_code, anonymous.json()["error"]) == (401, "missing_credentials")
        assert (await client.get("/view", headers=AS["alice"])).text == "viewed"
        assert (await client.get("/view")).status_code == 401
        assert (await client.post("/modules", headers=AS["owner"])).text == "configured"
        assert (await client.post("/modules", headers=AS["mod"])).status_code == 403


async def test_requires_permission_on_starlette_websocket() -> None:
    """A websocket endpoint refuses with close code 1008 before accepting."""
    app = starlette_app()
    allowed = await websocket_session(app, "mod")
    assert [m["type"] for m in allowed] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert allowed[1]["text"] == "live"
    refused = await websocket_session(app, "alice")
    assert refused == [{"type": "websocket.close", "code": 1008, "reason": "insufficient_permissions"}]


def test_requires_permission_validates_at_declaration() -> None:
    """Malformed permissions and endpoints without a request parameter fail when declared."""
    with pytest.raises(ConfigurationError, match="at least one permission"):
        requires_permission()
    with pytest.raises(ConfigurationError, match="requires_permission\\[0\\]"):
        requires_permission("community")
    with pytest.raises(ConfigurationError, match="`all` or `any`"):
        requires_permission("a:b", mode="some")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="`request` or `websocket` parameter"):

        @requires_permission("a:b")
        async def endpoint(conn: Request) -> None: ...


async def test_endpoint_check_without_rbac_middleware_is_a_loud_error() -> None:
    """Using requires_permission without RBACMiddleware raises instead of guessing a hierarchy."""

    @requires_permission("profile:view")
    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse("never")

    app = Starlette(routes=[Route("/", endpoint)], middleware=[Middleware(PrincipalFromHeader, principals=PRINCIPALS)])
    async with client_for(app) as client:
        with pytest.raises(MissingGuardContext, match="RBACMiddleware"):
            await client.get("/", headers=AS["root"])


def fastapi_app(handler: bool) -> FastAPI:
    app = FastAPI()
    app.add_middleware(RBACMiddleware, config=RBACConfig(policies=(RoutePolicy(path="/{rest:path}"),)))
    app.add_middleware(PrincipalFromHeader, principals=PRINCIPALS)
    if handler:
        app.add_exception_handler(PermissionDenied, permission_denied_handler)

    @app.post("/modules")
    async def install(who: Annotated[Principal, Depends(permission_dependency("module:install"))]) -> dict[str, str]:
        return {"installed_by": who.id}

    @app.get("/reports", dependencies=[Depends(permission_dependency("community:moderate", "user:manage", mode="any"))])
    async def reports() -> dict[str, str]:
        return {"ok": "yes"}

    return app


async def test_fastapi_dependency_and_contract_handler() -> None:
    """The dependency returns the principal or refuses; the handler renders the asgi_guard body."""
    async with client_for(fastapi_app(handler=True)) as client:
        assert (await client.post("/modules", headers=AS["owner"])).json() == {"installed_by": "owner"}
        assert (await client.get("/reports", headers=AS["mod"])).json() == {"ok": "yes"}
        denied = await client.post("/modules", headers=AS["mod"])
        assert denied.status_code == 403
        assert denied.json() == {
            "error": "insufficient_permissions",
            "detail": "You do not have permission to perform this action.",
        }
        assert denied.headers["www-authenticate"] == 'Bearer realm="api", error="insufficient_scope"'
        assert denied.headers["cache-control"] == "no-store"
        assert (await client.get("/reports", headers=AS["alice"])).status_code == 403
        assert (await client.get("/reports")).json()["error"] == "missing_credentials"  # RBACMiddleware answers first


async def test_fastapi_dependency_without_handler_still_refuses() -> None:
    """Without the handler FastAPI still answers 403 with the challenge header, never a 500."""
    async with client_for(fastapi_app(handler=False)) as client:
        denied = await client.post("/modules", headers=AS["mod"])
        assert denied.status_code == 403
        assert denied.json() == {"detail": "You do not have permission to perform this action."}
        assert "insufficient_scope" in denied.headers["www-authenticate"]


async def test_permission_denied_handler_reraises_foreign_exceptions() -> None:
    """Registered for the wrong exception type, the handler lets the framework deal with it."""
    error = KeyError("x")
    with pytest.raises(KeyError):
        await permission_denied_handler(Request({"type": "http", "headers": []}), error)


def litestar_app() -> Litestar:
    @get("/install", guards=[permission_guard("module:install")])
    async def install() -> str:
        return "installed"

    @get("/open", guards=[permission_guard("authenticated")])
    async def open_route() -> str:
        return "open"

    return Litestar(
        route_handlers=[install, open_route],
        middleware=[
            DefineMiddleware(PrincipalFromHeader, principals=PRINCIPALS),
            DefineMiddleware(RBACMiddleware, config=RBACConfig()),
        ],
    )


def test_litestar_guard() -> None:
    """The Litestar guard allows, refuses with 403 and the challenge, and answers 401 without a principal."""
    with LitestarClient(litestar_app()) as client:
        assert client.get("/install", headers=AS["root"]).text == "installed"
        denied = client.get("/install", headers=AS["mod"])
        assert denied.status_code == 403
        assert denied.headers["www-authenticate"] == 'Bearer realm="api", error="insufficient_scope"'
        assert client.get("/install", headers=AS["owner"]).status_code == 200
        assert client.get("/open", headers=AS["alice"]).text == "open"
        anonymous = client.get("/open")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == 'Bearer realm="api"'


def test_litestar_guard_api_key_refusal_has_no_bearer_challenge() -> None:
    """An API-key principal refused by the guard gets a 403 without a bearer challenge."""

    @get("/x", guards=[permission_guard("module:install")], sync_to_thread=False)
    def handler() -> str:
        return "x"

    key = Principal("k", roles=frozenset({"user"}), method="api_key")
    app = Litestar(
        route_handlers=[handler],
        middleware=[
            DefineMiddleware(PrincipalFromHeader, principals={"k": key}),
            DefineMiddleware(RBACMiddleware, config=RBACConfig()),
        ],
    )
    with LitestarClient(app) as client:
        denied = client.get("/x", headers={"x-test-user": "k"})
        assert denied.status_code == 403
        assert "www-authenticate" not in denied.headers


async def test_starlette_json_endpoint_reads_community_scoped_permissions() -> None:
    """A JSON endpoint using the decorator still receives the request untouched when allowed."""

    @requires_permission("profile:edit")
    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"user": request.user.identity})

    app = Starlette(
        routes=[Route("/me", me)],
        middleware=[Middleware(PrincipalFromHeader, principals=PRINCIPALS), Middleware(RBACMiddleware)],
    )
    async with client_for(app) as client:
        assert (await client.get("/me", headers=AS["alice"])).json() == {"user": "alice"}
