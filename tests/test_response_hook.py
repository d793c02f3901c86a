"""One context and one response hook per request, whatever the number of guard layers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from asgi_guard import (
    EventsConfig,
    EventsMiddleware,
    GuardContext,
    Limit,
    RateLimitConfig,
    RateLimitMiddleware,
    SecurityHeadersConfig,
    SecurityHeadersMiddleware,
    guard,
)
from asgi_guard.context import CONTEXT_KEY
from asgi_guard.errors import ErrorCode
from asgi_guard.testing import MessageRecorder, call, make_scope

if TYPE_CHECKING:
    from starlette.requests import Request

    from asgi_guard.types import Receive, Scope, Send

pytestmark = pytest.mark.anyio


class SeenSend:
    """An app remembering the ``send`` it was given, answering with its own headers."""

    def __init__(self, headers: list[tuple[bytes, bytes]] | None = None, status: int = 200) -> None:
        self.sends: list[Send] = []
        self.headers = headers if headers is not None else [(b"content-type", b"text/plain")]
        self.status = status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.sends.append(send)
        await send({"type": "http.response.start", "status": self.status, "headers": list(self.headers)})
        await send({"type": "http.response.body", "body": b"ok"})


def _stack(app: SeenSend) -> object:
    return guard(
        app,
        EventsConfig(),
        SecurityHeadersConfig.strict_api(),
        RateLimitConfig(limits=(Limit(name="ip", rate="100/minute"),), stage="pre_auth"),
    )


async def test_send_is_wrapped_once() -> None:
    """The app gets the hook wrapped directly around the server's send: one wrapper for the stack."""
    app = SeenSend()
    recorder = MessageRecorder()
    scope = make_scope()
    await _stack(app)(scope, _receive, recorder)  # type: ignore[operator]
    (seen,) = app.sends
    assert seen.__qualname__ == "GuardContext._hook.<locals>.guarded_send"
    assert [cell.cell_contents for cell in seen.__closure__ or ()].count(recorder) == 1


async def _receive() -> dict[str, object]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def test_enter_creates_once_and_later_layers_reuse() -> None:
    """enter() creates the context and the hook once; a second call returns the same context and the send as given."""
    scope = make_scope()
    recorder = MessageRecorder()
    ctx, hooked = GuardContext.enter(scope, recorder)
    assert scope[CONTEXT_KEY] is ctx
    assert hooked is not recorder
    again, same = GuardContext.enter(dict(scope), hooked)  # a sub-app's copy of the scope
    assert again is ctx
    assert same is hooked


async def test_hook_merges_in_one_pass_and_records_status() -> None:
    """App headers first, then the innermost rate-limit headers, defaults the app did not set, request id."""
    app = SeenSend(headers=[(b"content-type", b"text/plain"), (b"X-Frame-Options", b"SAMEORIGIN")])
    scope = make_scope(headers={"x-request-id": "req-1"})
    recorder = await call(_stack(app), scope)  # type: ignore[arg-type]
    names = [key for key, _ in recorder.start["headers"]]
    assert names[:2] == [b"content-type", b"X-Frame-Options"]
    assert names[2:5] == [b"x-ratelimit-limit", b"x-ratelimit-remaining", b"x-ratelimit-reset"]
    assert names[-1] == b"x-request-id"
    assert recorder.header_list("x-frame-options") == ["SAMEORIGIN"]  # the app's own value wins
    assert recorder.header_list("x-content-type-options") == ["nosniff"]
    assert recorder.header_list("x-request-id") == ["req-1"]
    ctx = scope[CONTEXT_KEY]
    assert (ctx.status, ctx.app_status, ctx.denial) == (200, 200, None)


async def test_refusal_is_recorded_apart_from_the_app_status() -> None:
    """A guard refusal records its status and error; app_status stays 0 (the app never answered)."""
    limited = guard(SeenSend(), EventsConfig(), RateLimitConfig(limits=(Limit(name="ip", rate="1/minute"),)))
    await call(limited, make_scope())
    scope = make_scope()
    refused = await call(limited, scope)
    ctx = scope[CONTEXT_KEY]
    assert (refused.status, ctx.status, ctx.app_status) == (429, 429, 0)
    assert ctx.denial is ErrorCode.RATE_LIMIT_EXCEEDED
    # The 429 carries the rate-limit headers once, Retry-After included, and the request id.
    assert refused.header_list("x-ratelimit-limit") == ["1"]
    assert refused.header_list("retry-after") == ["60"]
    assert len(refused.header_list("x-request-id")) == 1


async def test_app_error_status_is_the_app_status() -> None:
    """A 5xx from the app is the app's answer (webhooks forget the delivery on it)."""
    scope = make_scope()
    await call(_stack(SeenSend(status=503)), scope)  # type: ignore[arg-type]
    assert scope[CONTEXT_KEY].app_status == 503


async def test_each_middleware_alone_owns_the_hook() -> None:
    """Used alone, a middleware creates the context and the hook itself."""
    headers = await call(SecurityHeadersMiddleware(SeenSend(), SecurityHeadersConfig.strict_api()), make_scope())
    assert headers.header_list("x-content-type-options") == ["nosniff"]
    limited = await call(
        RateLimitMiddleware(SeenSend(), RateLimitConfig(limits=(Limit(name="ip", rate="9/minute"),))), make_scope()
    )
    assert limited.header_list("x-ratelimit-limit") == ["9"]
    events = await call(EventsMiddleware(SeenSend(), EventsConfig()), make_scope(headers={"x-request-id": "abc"}))
    assert events.header_list("x-request-id") == ["abc"]


async def test_response_header_replaced_not_repeated() -> None:
    """Two events layers (nested stacks) echo one request id, the innermost."""
    app = EventsMiddleware(EventsMiddleware(SeenSend(), EventsConfig(trust_request_id=False)), EventsConfig())
    scope = make_scope(headers={"x-request-id": "outer"})
    recorder = await call(app, scope)
    assert recorder.header_list("x-request-id") == [scope[CONTEXT_KEY].request_id]
    assert scope[CONTEXT_KEY].request_id != "outer"


async def test_websocket_status_recorded() -> None:
    """Accept records 101, a close before accept 403; neither gets HTTP headers."""

    async def accept(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})

    async def close(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "websocket.close", "code": 1000})

    for app, status in ((accept, 101), (close, 403)):
        scope = make_scope(type="websocket", path="/ws")
        recorder = MessageRecorder()
        await EventsMiddleware(app, EventsConfig())(scope, _receive, recorder)  # type: ignore[arg-type]
        assert scope[CONTEXT_KEY].status == status
        assert "headers" not in recorder.messages[0]


async def test_route_path_is_derived_per_path_and_root_path() -> None:
    """A Mount between two layers changes root_path: the inner layer matches on its own route path."""
    ctx = GuardContext()
    outer = make_scope(path="/api//items/")
    assert (ctx.raw_route_path(outer), ctx.route_path(outer)) == ("/api//items/", "/api/items")
    assert ctx.route_path(outer) is ctx.route_path(outer)
    inner = {**outer, "root_path": "/api"}
    assert (ctx.raw_route_path(inner), ctx.route_path(inner)) == ("//items/", "/items")


async def test_mount_between_layers() -> None:
    """Rate-limit exemptions inside a Mount see the mounted path; the outer layer the full one."""

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hi")

    inner = RateLimitMiddleware(
        Starlette(routes=[Route("/health", hello)]),
        RateLimitConfig(limits=(Limit(name="ip", rate="1/minute"),), exempt_paths=("/health",)),
    )
    app = guard(Starlette(routes=[Mount("/api", app=inner)]), EventsConfig(), SecurityHeadersConfig.strict_api())
    for _ in range(3):
        recorder = await call(app, make_scope(path="/api/health"))
        assert recorder.status == 200
        assert "x-ratelimit-limit" not in recorder.headers
        assert recorder.header_list("x-content-type-options") == ["nosniff"]
