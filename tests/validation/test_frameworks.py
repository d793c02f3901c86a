"""Mounting the middleware in Starlette, FastAPI and Litestar; apps read the payload without decoding."""

from __future__ import annotations

import httpx
import msgspec
import pytest
from fastapi import FastAPI
from fastapi import Request as FastAPIRequest
from litestar import Litestar
from litestar import Request as LitestarRequest
from litestar import post as litestar_post
from litestar.middleware import DefineMiddleware
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_guard.types import ASGIApp
from asgi_guard.validation import ExecuteAction, ValidationConfig, ValidationMiddleware, get_payload

pytestmark = pytest.mark.anyio

EXECUTE = "/api/v1/action/execute"
CONFIG = ValidationConfig(routes={("POST", EXECUTE): ExecuteAction})
GOOD = {"user_id": "twitch:1", "command": "hello", "message": "<i>hi</i>"}


async def exercise(app: ASGIApp) -> None:
    """A valid body reaches the handler decoded and sanitised; an invalid one never does."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.5", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ok = await client.post(EXECUTE, json=GOOD)
        assert ok.status_code in (200, 201)
        assert ok.json() == {"command": "hello", "message": "hi", "raw_length": len(msgspec.json.encode(GOOD))}
        bad = await client.post(EXECUTE, json={"user_id": "nope", "command": "hello"})
        assert bad.status_code == 400
        assert bad.json()["error"] == "validation_error"
        assert bad.json()["detail"].endswith("- at `$.user_id`")
        unsupported = await client.post(EXECUTE, content=b"user_id=1", headers={"content-type": "text/plain"})
        assert unsupported.status_code == 415


async def test_starlette_middleware() -> None:
    """Starlette's Middleware(ValidationMiddleware, config=...) validates, and the body can still be read."""

    async def execute(request: Request) -> JSONResponse:
        action = get_payload(request, ExecuteAction)
        raw = await request.body()
        return JSONResponse({"command": action.command, "message": action.message, "raw_length": len(raw)})

    app = Starlette(
        routes=[Route(EXECUTE, execute, methods=["POST"])], middleware=[Middleware(ValidationMiddleware, config=CONFIG)]
    )
    await exercise(app)


async def test_fastapi_add_middleware() -> None:
    """FastAPI's add_middleware works, and handlers use get_payload instead of decoding again."""
    app = FastAPI()
    app.add_middleware(ValidationMiddleware, config=CONFIG)

    @app.post(EXECUTE)
    async def execute(request: FastAPIRequest) -> dict[str, object]:
        action = get_payload(request, ExecuteAction)
        return {"command": action.command, "message": action.message, "raw_length": len(await request.body())}

    await exercise(app)


async def test_litestar_define_middleware() -> None:
    """Litestar's DefineMiddleware(ValidationMiddleware, config=...) passes `app` by keyword and works."""

    @litestar_post(EXECUTE)
    async def execute(request: LitestarRequest[object, object, object]) -> dict[str, object]:
        action = get_payload(request, ExecuteAction)
        return {"command": action.command, "message": action.message, "raw_length": len(await request.body())}

    app = Litestar(route_handlers=[execute], middleware=[DefineMiddleware(ValidationMiddleware, config=CONFIG)])
    await exercise(app)
