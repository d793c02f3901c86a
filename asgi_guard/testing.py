"""Helpers for testing ASGI security code, ours and our users': a fake clock, scope builders and a
message recorder. No server, no sleeping."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from asgi_guard.types import ASGIApp, Message, Receive, Scope


class FakeClock:
    """A clock that moves only when told to."""

    __slots__ = ("_mono", "_now")

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._mono = 1000.0

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds``."""
        self._now += seconds
        self._mono += seconds

    def set(self, epoch: float) -> None:
        """Jump the wall clock to ``epoch`` (the monotonic clock moves by the same amount, or not back)."""
        self._mono += max(0.0, epoch - self._now)
        self._now = epoch


def _encode_headers(
    headers: Mapping[str, str] | Sequence[tuple[str | bytes, str | bytes]] | None,
) -> list[tuple[bytes, bytes]]:
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    out = []
    for key, value in items:
        raw_key = key if isinstance(key, bytes) else key.encode("latin-1")
        raw_value = value if isinstance(value, bytes) else value.encode("latin-1")
        out.append((raw_key.lower(), raw_value))
    return out


def make_scope(
    method: str = "GET",
    path: str = "/",
    *,
    headers: Mapping[str, str] | Sequence[tuple[str | bytes, str | bytes]] | None = None,
    query_string: bytes = b"",
    client: tuple[str, int] | None = ("127.0.0.1", 50000),
    root_path: str = "",
    scheme: str = "http",
    type: str = "http",
) -> Scope:
    """An HTTP (or websocket) scope as a server would build it."""
    scope: dict[str, Any] = {
        "type": type,
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method.upper(),
        "scheme": scheme if type == "http" else ("wss" if scheme == "https" else "ws"),
        "path": root_path + path,
        "raw_path": (root_path + path).encode(),
        "root_path": root_path,
        "query_string": query_string,
        "headers": _encode_headers(headers),
        "client": client,
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    if type == "websocket":
        del scope["method"]
    return scope


def receive_body(chunks: Iterable[bytes] = (b"",), *, disconnect: bool = True) -> Receive:
    """A ``receive`` that sends ``chunks`` as ``http.request`` messages, then ``http.disconnect``."""
    messages: list[Message] = []
    parts = list(chunks) or [b""]
    for index, chunk in enumerate(parts):
        messages.append({"type": "http.request", "body": chunk, "more_body": index < len(parts) - 1})
    if disconnect:
        messages.append({"type": "http.disconnect"})

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}

    return receive


class MessageRecorder:
    """An ASGI ``send`` that records every message, with accessors for the response."""

    __slots__ = ("messages",)

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def start(self) -> Message:
        """The ``http.response.start`` message."""
        for message in self.messages:
            if message["type"] == "http.response.start":
                return message
        raise AssertionError(f"no http.response.start in {self.messages!r}")

    @property
    def status(self) -> int:
        return int(self.start["status"])

    @property
    def headers(self) -> dict[str, str]:
        """Response headers, lower-cased names; a repeated name keeps the last value."""
        return {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in self.start.get("headers", [])}

    def header_list(self, name: str) -> list[str]:
        """Every value sent for header ``name``."""
        raw = name.lower().encode("latin-1")
        return [value.decode("latin-1") for key, value in self.start.get("headers", []) if key.lower() == raw]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")

    def json(self) -> Any:
        return msgspec.json.decode(self.body)


async def call(
    app: ASGIApp,
    scope: Scope,
    body: bytes | Iterable[bytes] = b"",
) -> MessageRecorder:
    """Run ``app`` on ``scope`` with ``body`` (bytes, or an iterable of chunks) and record what it sent."""
    recorder = MessageRecorder()
    chunks = [body] if isinstance(body, bytes) else list(body)
    await app(scope, receive_body(chunks), recorder)
    return recorder


__all__ = ("FakeClock", "MessageRecorder", "call", "make_scope", "receive_body")
