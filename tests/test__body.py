"""Capped body buffering and replay, in-process and through a real uvicorn server."""

from __future__ import annotations

import hashlib
import logging
import socket
import threading
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_guard._body import ClientDisconnected, content_length, read_body, replay
from asgi_guard._responses import send_denial
from asgi_guard.context import GuardContext
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.testing import make_scope, receive_body
from tests.servers import UvicornThread

if TYPE_CHECKING:
    from asgi_guard.types import ASGIApp, Message, Receive, Scope, Send

pytestmark = pytest.mark.anyio


def _scope(length: str | None = None, *more: tuple[str, str]) -> Scope:
    headers = [("content-length", length)] if length is not None else []
    return make_scope("POST", "/upload", headers=[*headers, *more])


async def test_reads_chunks_and_replays_once_then_falls_through() -> None:
    """The buffered chunks are replayed as one message, then the real receive (disconnect) follows."""
    body, receive = await read_body(_scope(), receive_body([b"ab", b"", b"cd"]), 10)
    assert body == b"abcd"
    assert await receive() == {"type": "http.request", "body": b"abcd", "more_body": False}
    assert await receive() == {"type": "http.disconnect"}


async def test_single_chunk_and_empty_body() -> None:
    """A single chunk is returned as is and an empty body is b""."""
    assert (await read_body(_scope("3"), receive_body([b"abc"]), 3))[0] == b"abc"
    assert (await read_body(_scope(), receive_body([b""]), 0))[0] == b""


async def test_body_is_cached_in_the_context_for_the_next_layer() -> None:
    """A second read_body on the same scope returns the cached body and the given receive, without reading."""
    scope = _scope()
    _body, replaying = await read_body(scope, receive_body([b"hello"]), 10)
    assert GuardContext.from_scope(scope).body == b"hello"
    again, receive = await read_body(scope, replaying, 10)
    assert again == b"hello"
    assert receive is replaying
    with pytest.raises(GuardError) as raised:
        await read_body(scope, replaying, 4)
    assert raised.value.code is ErrorCode.PAYLOAD_TOO_LARGE


@pytest.mark.parametrize(
    ("scope", "chunks", "code", "reason"),
    [
        (_scope("11"), [b"x"], ErrorCode.PAYLOAD_TOO_LARGE, "content_length_over_10_bytes"),
        (_scope(), [b"123456", b"78901"], ErrorCode.PAYLOAD_TOO_LARGE, "body_over_10_bytes"),
        (_scope("abc"), [b""], ErrorCode.MALFORMED_REQUEST, "invalid_content_length"),
        (_scope("-1"), [b""], ErrorCode.MALFORMED_REQUEST, "invalid_content_length"),
        (_scope("1" * 20), [b""], ErrorCode.MALFORMED_REQUEST, "invalid_content_length"),
        (_scope("1", ("content-length", "2")), [b"x"], ErrorCode.MALFORMED_REQUEST, "conflicting_content_length"),
        (_scope("5"), [b"abc"], ErrorCode.MALFORMED_REQUEST, "body_length_mismatch"),
    ],
)
async def test_refusals(scope: Scope, chunks: list[bytes], code: ErrorCode, reason: str) -> None:
    """Oversized, mis-declared and conflicting bodies are refused with a stable code and reason."""
    with pytest.raises(GuardError) as raised:
        await read_body(scope, receive_body(chunks), 10)
    assert (raised.value.code, raised.value.reason) == (code, reason)


async def test_identical_repeated_content_length_is_accepted() -> None:
    """Two identical Content-Length headers (allowed by RFC 9110) are one value."""
    assert content_length(_scope("3", ("content-length", "3"))) == 3
    assert content_length(_scope()) is None


async def test_disconnect_mid_body_raises_client_disconnected() -> None:
    """http.disconnect before the last chunk raises ClientDisconnected and caches nothing."""
    scope = _scope("100")
    messages: list[Message] = [
        {"type": "http.request", "body": b"part", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0)

    with pytest.raises(ClientDisconnected):
        await read_body(scope, receive, 1000)
    assert GuardContext.from_scope(scope).body is None


async def test_unexpected_message_type_is_malformed() -> None:
    """A receive message that is neither http.request nor http.disconnect is refused."""

    async def receive() -> Message:
        return {"type": "websocket.receive"}

    with pytest.raises(GuardError) as raised:
        await read_body(_scope(), receive, 10)
    assert raised.value.reason == "unexpected_receive_message"


async def test_replay_only_replays_once() -> None:
    """replay() yields the body once, then defers to the wrapped receive for every later call."""
    calls = 0

    async def receive() -> Message:
        nonlocal calls
        calls += 1
        return {"type": "http.disconnect"}

    replaying = replay(b"data", receive)
    assert (await replaying())["body"] == b"data"
    assert (await replaying())["type"] == "http.disconnect"
    assert (await replaying())["type"] == "http.disconnect"
    assert calls == 2


class Observed:
    """What the buffering layer and the app saw, across the server thread (lists and events are thread-safe)."""

    def __init__(self) -> None:
        self.messages: list[int] = []
        self.message_arrived = threading.Event()
        self.bodies: list[bytes] = []
        self.after_body: list[str] = []
        self.outcomes: list[str] = []
        self.finished = threading.Event()


def buffering_stack(observed: Observed, max_bytes: int) -> ASGIApp:
    """A layer that buffers the body with read_body in front of an app that reads it with receive()."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        observed.bodies.append(body)
        digest = hashlib.sha256(body).hexdigest().encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": digest})
        observed.after_body.append((await receive())["type"])  # the real receive: the server reports disconnect

    async def layer(scope: Scope, receive: Receive, send: Send) -> None:
        async def counting_receive() -> Message:
            message = await receive()
            observed.messages.append(len(message.get("body", b"")))
            observed.message_arrived.set()
            return message

        try:
            _, replaying = await read_body(scope, counting_receive, max_bytes)
        except ClientDisconnected:
            observed.outcomes.append("disconnected")
            return
        except GuardError as error:
            observed.outcomes.append(error.code.value)
            await send_denial(scope, send, error)
            return
        finally:
            observed.finished.set()
        observed.outcomes.append("buffered")
        await app(scope, replaying, send)

    return layer


CHUNKS = [b"alpha-" * 50, b"beta-" * 70, b"\x00\xff" * 40, b"omega"]


@pytest.mark.server
async def test_chunked_upload_through_uvicorn_arrives_exactly() -> None:
    """A chunked upload arriving as several http.request messages reaches the app as the exact bytes."""
    observed = Observed()

    async def upload() -> Any:
        for chunk in CHUNKS:
            observed.message_arrived.clear()
            before = len(observed.messages)
            yield chunk
            # Wait until the server handed this chunk over, so each chunk is its own http.request message.
            while len(observed.messages) == before:
                arrived = await anyio.to_thread.run_sync(observed.message_arrived.wait, 5)
                assert arrived, "the server never received the chunk"

    with UvicornThread(buffering_stack(observed, 10_000)) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.post("/upload", content=upload())
    expected = b"".join(CHUNKS)
    assert response.status_code == 200
    assert response.text == hashlib.sha256(expected).hexdigest()
    assert observed.bodies == [expected]
    assert len([size for size in observed.messages if size]) >= len(CHUNKS)
    assert observed.after_body == ["http.disconnect"]


@pytest.mark.server
async def test_oversized_stream_through_uvicorn_is_413() -> None:
    """A chunked upload past the cap is answered 413 payload_too_large and never reaches the app."""
    observed = Observed()

    async def upload() -> Any:
        for _ in range(5):
            yield b"x" * 400

    with UvicornThread(buffering_stack(observed, 1000)) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.post("/upload", content=upload())
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert observed.bodies == []


@pytest.mark.server
async def test_client_disconnect_mid_body_never_reaches_the_app(caplog: pytest.LogCaptureFixture) -> None:
    """A client that closes after half its declared body leaves the app uncalled and the server error-free."""
    observed = Observed()
    caplog.set_level(logging.WARNING)
    with UvicornThread(buffering_stack(observed, 10_000)) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            raw.sendall(b"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n" + b"y" * 300)
            assert observed.message_arrived.wait(5)
        assert observed.finished.wait(5)
        # The server still serves the next request normally.
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.post("/upload", content=b"after")
    assert observed.outcomes == ["disconnected", "buffered"]
    assert observed.bodies == [b"after"]
    assert response.text == hashlib.sha256(b"after").hexdigest()
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.binary(max_size=24), min_size=1, max_size=3))
def test_content_length_parser_only_raises_guard_errors(values: list[bytes]) -> None:
    """For any Content-Length bytes the parser returns a non-negative int or raises malformed_request."""
    scope = make_scope("POST", headers=[(b"content-length", value) for value in values])
    digits = values[0].strip()
    if len(set(values)) == 1 and digits.isdigit() and len(digits) <= 19:
        assert content_length(scope) == int(digits)
    else:
        with pytest.raises(GuardError) as raised:
            content_length(scope)
        assert raised.value.code is ErrorCode.MALFORMED_REQUEST
