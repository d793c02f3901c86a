"""asgi_guard.testing: scope builders, receive helpers and the message recorder."""

from __future__ import annotations

import pytest

from asgi_guard.testing import MessageRecorder, call, make_scope, receive_body

pytestmark = pytest.mark.anyio


def test_make_scope_http() -> None:
    """make_scope builds an HTTP scope with lower-cased latin-1 header bytes and root_path in path."""
    scope = make_scope("post", "/items", headers={"X-Token": "abc"}, root_path="/api", query_string=b"a=1")
    assert scope["type"] == "http"
    assert scope["method"] == "POST"
    assert scope["path"] == "/api/items"
    assert scope["raw_path"] == b"/api/items"
    assert scope["root_path"] == "/api"
    assert scope["headers"] == [(b"x-token", b"abc")]
    assert scope["query_string"] == b"a=1"
    assert scope["client"] == ("127.0.0.1", 50000)


def test_make_scope_accepts_pairs_and_websocket() -> None:
    """Header pairs may be bytes or str; a websocket scope has a ws scheme and no method."""
    scope = make_scope(type="websocket", scheme="https", headers=[(b"A", "1"), ("b", b"2")])
    assert scope["headers"] == [(b"a", b"1"), (b"b", b"2")]
    assert scope["scheme"] == "wss"
    assert "method" not in scope
    assert make_scope(type="websocket")["scheme"] == "ws"


async def test_receive_body_sends_chunks_then_disconnects() -> None:
    """receive_body yields the chunks with more_body flags, then http.disconnect forever."""
    receive = receive_body([b"a", b"b"])
    assert await receive() == {"type": "http.request", "body": b"a", "more_body": True}
    assert await receive() == {"type": "http.request", "body": b"b", "more_body": False}
    assert await receive() == {"type": "http.disconnect"}
    assert await receive() == {"type": "http.disconnect"}
    quiet = receive_body([], disconnect=False)
    assert await quiet() == {"type": "http.request", "body": b"", "more_body": False}
    assert await quiet() == {"type": "http.disconnect"}


async def test_recorder_and_call() -> None:
    """call() runs an app and the recorder exposes status, headers, repeated headers, body and JSON."""

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        message = await receive()
        await send({"type": "http.response.start", "status": 201, "headers": [(b"X-A", b"1"), (b"x-a", b"2")]})
        await send({"type": "http.response.body", "body": b'{"got": "', "more_body": True})
        await send({"type": "http.response.body", "body": message["body"] + b'"}'})

    recorder = await call(app, make_scope("POST"), [b"hi"])
    assert recorder.status == 201
    assert recorder.headers == {"x-a": "2"}
    assert recorder.header_list("X-A") == ["1", "2"]
    assert recorder.json() == {"got": "hi"}
    assert (await call(app, make_scope("POST"), b"yo")).json() == {"got": "yo"}


async def test_recorder_without_start_fails_loudly() -> None:
    """Asking for the response of an app that never started one raises AssertionError."""
    recorder = MessageRecorder()
    await recorder({"type": "websocket.close", "code": 1000})
    with pytest.raises(AssertionError, match=r"no http\.response\.start"):
        _ = recorder.status
    assert recorder.body == b""
