"""The middleware in a stack: guard() composition, two placements, Starlette, FastAPI and Litestar."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from litestar import Litestar, get
from litestar.middleware import DefineMiddleware
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from asgi_guard.compose import Layer, guard, layer_of
from asgi_guard.context import GuardContext
from asgi_guard.errors import ConfigurationError
from asgi_guard.ratelimit import (
    Decision,
    Limit,
    MemoryRateLimitBackend,
    RateLimitConfig,
    RateLimitMiddleware,
    standard_limits,
    tiers,
)
from asgi_guard.testing import FakeClock, call, make_scope
from asgi_guard.types import ASGIApp, Receive, Scope, Send
from tests.ratelimit.helpers import principal
from tests.ratelimit.test_middleware import ok_app, status_app

pytestmark = pytest.mark.anyio


class FakeAuthConfig:
    """Stands in for the authentication layer (not under test): puts a fixed principal in the context."""

    def __init__(self, user_id: str | None) -> None:
        self.user_id = user_id

    def guard_layer(self) -> Layer:
        def build(app: ASGIApp) -> ASGIApp:
            async def authenticate(scope: Scope, receive: Receive, send: Send) -> None:
                if scope["type"] == "http" and self.user_id is not None:
                    GuardContext.from_scope(scope).principal = principal(self.user_id)
                await app(scope, receive, send)

            return authenticate

        return Layer("authentication", (), build)


def config(*limits: Limit, **options: Any) -> RateLimitConfig:
    clock = FakeClock()
    return RateLimitConfig(limits=limits, backend=MemoryRateLimitBackend(clock=clock), clock=clock, **options)


async def test_guard_layers() -> None:
    """Pre-auth limits need nothing; principal-keyed limits require authentication in the stack."""
    pre = config(Limit(name="ip", rate="1000/minute"), stage="pre_auth")
    post = config(tiers(), Limit(name="ip2", rate="2/minute"))
    assert layer_of(pre).name == "rate_limit_pre_auth"
    assert layer_of(post)[:2] == ("rate_limit", ("authentication",))
    assert layer_of(config(Limit(name="ip", rate="1/minute"))).requires == ()
    with pytest.raises(ConfigurationError, match="authentication"):
        guard(ok_app, post)
    app = guard(ok_app, pre, FakeAuthConfig("alice"), post)
    recorder = await call(app, make_scope())
    assert recorder.status == 200
    assert recorder.header_list("x-ratelimit-limit") == ["2"]  # merged: the most restrictive of both placements


async def test_two_placements_merge_and_refuse() -> None:
    """The inner placement reports both placements' limits; its 429 carries the merged headers once."""
    pre = config(Limit(name="ip", rate="5/minute"), stage="pre_auth")
    post = config(Limit(name="user", rate="2/minute", key="user"))
    app = guard(ok_app, pre, FakeAuthConfig("alice"), post)
    scope = make_scope()
    await call(app, scope)
    decision = GuardContext.from_scope(scope).rate_limit
    assert isinstance(decision, Decision)
    assert [status.name for status in decision.limits] == ["ip", "user"]
    await call(app, make_scope())
    refused = await call(app, make_scope())
    assert refused.status == 429
    assert refused.header_list("x-ratelimit-limit") == ["2"]
    assert refused.header_list("retry-after") == ["30"]
    outer_only = guard(status_app(401), pre, FakeAuthConfig(None))
    recorder = await call(outer_only, make_scope(client=("9.9.9.9", 1)))
    assert (recorder.status, recorder.header_list("x-ratelimit-limit")) == (401, ["5"])


async def test_starlette() -> None:
    """Works as Starlette ``Middleware(...)``."""

    async def home(request: Any) -> PlainTextResponse:
        return PlainTextResponse("home")

    app = Starlette(
        routes=[Route("/", home)],
        middleware=[Middleware(RateLimitMiddleware, config=config(Limit(name="ip", rate="1/minute")))],
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        first = await client.get("/")
        second = await client.get("/")
    assert (first.status_code, first.headers["x-ratelimit-remaining"]) == (200, "0")
    assert (second.status_code, second.json()["error"]) == (429, "rate_limit_exceeded")


async def test_fastapi() -> None:
    """Works through FastAPI ``add_middleware``."""
    app = FastAPI()

    @app.get("/")
    async def home() -> dict[str, str]:
        return {"ok": "yes"}

    app.add_middleware(RateLimitMiddleware, config=config(Limit(name="ip", rate="1/minute"), ietf_headers=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        first = await client.get("/")
        second = await client.get("/")
    assert first.headers["ratelimit-policy"] == '"ip";q=1;w=60'
    assert (second.status_code, second.headers["retry-after"]) == (429, "60")


async def test_litestar() -> None:
    """Works as Litestar ``DefineMiddleware``."""

    @get("/")
    async def home() -> str:
        return "home"

    app = Litestar(
        route_handlers=[home],
        middleware=[DefineMiddleware(RateLimitMiddleware, config=config(Limit(name="ip", rate="1/minute")))],
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        first = await client.get("/")
        second = await client.get("/")
    assert (first.status_code, first.headers["x-ratelimit-limit"]) == (200, "1")
    assert second.status_code == 429


@pytest.mark.redis
@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_standard_limits(backend: str, request: pytest.FixtureRequest) -> None:
    """The preset stack: IP 1000/min before auth, the caller's tier and 10/min per command after it."""
    url = request.getfixturevalue("redis_server").url if backend == "redis" else None
    if url is not None:
        import redis

        with redis.Redis.from_url(url) as client:
            client.flushall()
    pre, post = standard_limits(redis_url=url, budget=2.0)
    app = guard(ok_app, pre, FakeAuthConfig("alice"), post)
    first = await call(app, make_scope("POST", "/commands/deploy"))
    assert (first.status, first.headers["x-ratelimit-limit"], first.headers["x-ratelimit-remaining"]) == (
        200,
        "10",
        "9",
    )
    statuses = [(await call(app, make_scope("POST", "/commands/deploy"))).status for _ in range(10)]
    assert statuses == [200] * 9 + [429]
    other = await call(app, make_scope("GET", "/profile"))
    assert (other.status, other.headers["x-ratelimit-limit"]) == (200, "100")
    await pre.backend.aclose()
