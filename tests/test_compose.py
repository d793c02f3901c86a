"""guard(app, *configs): canonical order, duplicates and missing prerequisites refused."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from asgi_guard.clientip import ClientIPConfig
from asgi_guard.compose import LAYERS, ORDER, GuardLayer, Layer, guard, layer_of
from asgi_guard.context import get_context
from asgi_guard.errors import ConfigurationError
from asgi_guard.events import EventsConfig
from asgi_guard.headers import SecurityHeadersConfig
from asgi_guard.testing import call, make_scope
from tests.servers import UvicornThread

if TYPE_CHECKING:
    from asgi_guard.types import ASGIApp, Receive, Scope, Send

pytestmark = pytest.mark.anyio


class FakeConfig:
    """A stand-in config: its middleware records its name on the way in."""

    def __init__(self, name: str, requires: tuple[str, ...] = ()) -> None:
        self.name = name
        self.requires = requires

    def guard_layer(self) -> Layer:
        def build(app: ASGIApp) -> ASGIApp:
            async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
                scope.setdefault("order", []).append(self.name)
                await app(scope, receive, send)

            return middleware

        return Layer(self.name, self.requires, build)


async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": ",".join(scope.get("order", [])).encode()})


async def test_layers_run_in_canonical_order_whatever_the_argument_order() -> None:
    """Configs given in any order are applied outermost-first as ORDER says."""
    names = list(ORDER)
    configs = [FakeConfig(name) for name in reversed(names)]
    response = await call(guard(endpoint, *configs), make_scope())
    assert response.body.decode().split(",") == names


async def test_no_configs_returns_the_app() -> None:
    """guard(app) with no configs is the app itself."""
    assert guard(endpoint) is endpoint


def test_duplicates_are_refused() -> None:
    """The same layer twice is a ConfigurationError naming it."""
    with pytest.raises(ConfigurationError, match=r"`rbac` twice - at `configs\[1\]`"):
        guard(endpoint, FakeConfig("rbac"), FakeConfig("rbac"))


@pytest.mark.parametrize(
    ("configs", "message"),
    [
        ([FakeConfig("rbac", ("authentication",))], "Expected `authentication` with `rbac`"),
        ([FakeConfig("tenancy", ("authentication",)), FakeConfig("events")], "with `tenancy`"),
        ([FakeConfig("validation", ("webhooks|authentication",))], "Expected `webhooks|authentication`"),
    ],
)
def test_missing_prerequisites_are_refused(configs: list[FakeConfig], message: str) -> None:
    """A layer whose prerequisite is absent is refused at construction."""
    with pytest.raises(ConfigurationError, match=message):
        guard(endpoint, *configs)


def test_any_of_a_prerequisite_satisfies_it() -> None:
    """ "a|b" is satisfied by either layer."""
    wrapped = guard(endpoint, FakeConfig("validation", ("webhooks|authentication",)), FakeConfig("webhooks"))
    assert wrapped is not endpoint


def test_non_layers_are_refused() -> None:
    """An object without guard_layer is refused with its type and position."""
    with pytest.raises(ConfigurationError, match=r"got 'dict' - at `configs\[1\]`"):
        guard(endpoint, FakeConfig("events"), {"rate": "10/s"})  # type: ignore[arg-type]


def test_real_configs_are_data() -> None:
    """asgi_guard's configs are data: the compose table places them (canonical names, prerequisites),
    none carries a `guard_layer` of its own, and every table entry has a place in ORDER."""
    configs = [EventsConfig(), ClientIPConfig(trusted_proxies=()), SecurityHeadersConfig.strict_api()]
    assert not any(isinstance(config, GuardLayer) for config in configs)
    assert [(layer_of(c).name, layer_of(c).requires) for c in configs] == [
        ("events", ()),
        ("client_ip", ()),
        ("security_headers", ()),
    ]
    assert all(not hasattr(kind, "guard_layer") for kind in LAYERS)


def test_a_subclass_of_a_config_takes_its_base_place() -> None:
    """An application's own subclass of a config (defaults of its own, say) is placed like its base."""

    class OurEvents(EventsConfig, frozen=True, kw_only=True):
        log_outcome: bool = True

    assert layer_of(OurEvents()).name == "events"
    assert guard(endpoint, OurEvents()) is not endpoint


async def test_real_foundation_stack() -> None:
    """events + client ip + security headers compose around a raw app: request id, client, headers."""
    wrapped = guard(
        endpoint,
        SecurityHeadersConfig.strict_api(),
        ClientIPConfig(trusted_proxies=("10.0.0.0/8",)),
        EventsConfig(sinks=()),
    )
    scope = make_scope(headers={"x-forwarded-for": "198.51.100.7", "x-request-id": "req-1"}, client=("10.0.0.2", 1))
    response = await call(wrapped, scope)
    assert response.headers["x-request-id"] == "req-1"
    assert response.headers["x-frame-options"] == "DENY"
    assert scope["asgi_guard"].client_ip == "198.51.100.7"


async def test_lifespan_passes_through_the_whole_foundation_stack() -> None:
    """A Starlette app's lifespan startup and shutdown run through guard(...) with every foundation layer."""
    calls: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        calls.append("startup")
        yield
        calls.append("shutdown")

    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse(get_context(request).client_ip)

    inner = Starlette(routes=[Route("/", home)], lifespan=lifespan)
    app = guard(
        inner,
        EventsConfig(sinks=()),
        ClientIPConfig(trusted_proxies=("127.0.0.0/8",)),
        SecurityHeadersConfig.strict_api(),
    )
    sent: list[str] = []
    started = anyio.Event()
    stop = anyio.Event()

    async def receive() -> dict[str, str]:
        if not sent:
            return {"type": "lifespan.startup"}
        await stop.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message: dict[str, str]) -> None:
        sent.append(message["type"])
        started.set()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(app, {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
        await started.wait()
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 123))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/", headers={"x-forwarded-for": "198.51.100.7"})
        stop.set()
    assert calls == ["startup", "shutdown"]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert response.text == "198.51.100.7"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_unknown_layer_names_are_refused() -> None:
    """A third-party config whose layer name is not in ORDER is refused, listing the valid names."""
    with pytest.raises(ConfigurationError, match=r"got 'bogus' - at `configs\[0\]\.layer`"):
        guard(endpoint, FakeConfig("bogus"))


@pytest.mark.server
async def test_foundation_stack_under_a_real_uvicorn_server() -> None:
    """Under uvicorn (its own proxy headers off), the stack resolves X-Forwarded-For, echoes ids and adds headers."""

    async def home(request: Request) -> PlainTextResponse:
        ctx = get_context(request)
        return PlainTextResponse(f"{ctx.client_ip} {ctx.client_request_id or ctx.request_id}")

    app = guard(
        Starlette(routes=[Route("/", home)]),
        EventsConfig(sinks=()),
        ClientIPConfig(trusted_proxies=("127.0.0.1",)),
        SecurityHeadersConfig.strict_api(),
    )
    with UvicornThread(app, proxy_headers=False) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            forwarded = await client.get(
                "/", headers={"x-forwarded-for": "6.6.6.6, 198.51.100.7", "x-request-id": "e2e-1"}
            )
            direct = await client.get("/", headers={"x-request-id": "bad id"})
    assert forwarded.text == "198.51.100.7 e2e-1"
    assert forwarded.headers["x-request-id"] == "e2e-1"
    assert forwarded.headers["cache-control"] == "no-store"
    client_ip, request_id = direct.text.split(" ")
    assert client_ip == "127.0.0.1"
    assert request_id == direct.headers["x-request-id"] != "bad id"
