"""The in-process driver: the protected app that checks what it is handed, and a server-like
``receive``/``send`` pair; plus the verdict on each outcome."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import msgspec

from asgi_guard.errors import ErrorCode

if TYPE_CHECKING:
    from tests.reliability.hostile import HostileRequest
    from tests.reliability.spec import LayerSpec

ALLOWED_STATUSES: Final = frozenset({200, 400, 401, 403, 409, 413, 415, 429})
ERROR_CODES: Final = frozenset(code.value for code in ErrorCode)


@dataclass
class Outcome:
    """What the stack did with one request."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    reached_app: bool = False
    body_seen: bytes | None = None
    violations: list[str] = field(default_factory=list)

    @property
    def start(self) -> dict[str, Any] | None:
        return next((m for m in self.messages if m["type"] == "http.response.start"), None)

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")


def terminal_app(layers: list[LayerSpec], outcomes: list[Outcome]) -> Any:
    """The protected app: reads the body, runs every active layer's ``admits`` check, answers 200."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        outcome = outcomes[-1]
        outcome.reached_app = True
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        outcome.body_seen = body = b"".join(chunks)
        for spec in layers:
            problem = spec.admits(scope, body)
            if problem is not None:
                outcome.violations.append(f"{spec.name}: {problem}")
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"ok":true}'})

    return app


async def exercise(stack: Any, request: HostileRequest, outcomes: list[Outcome], timeout: float = 10.0) -> Outcome:
    """Send ``request`` through ``stack`` like a server would; exceptions propagate (they are 500s)."""
    outcome = Outcome()
    outcomes.append(outcome)
    messages = [
        {"type": "http.request", "body": chunk, "more_body": index < len(request.chunks) - 1}
        for index, chunk in enumerate(request.chunks or [b""])
    ]
    if request.disconnect_after is not None:
        messages = messages[: request.disconnect_after]
    finished = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        if request.disconnect_after is None:
            await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        outcome.messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            finished.set()

    await asyncio.wait_for(stack(request.scope(), receive, send), timeout)
    return outcome


def problems(request: HostileRequest, outcome: Outcome, layers: list[LayerSpec]) -> list[str]:
    """Everything wrong with how the stack handled ``request`` (empty when all is well)."""
    found = list(outcome.violations)
    start = outcome.start
    complete = request.disconnect_after is None or request.disconnect_after >= len(request.chunks or [b""])
    if start is None:
        if complete and not outcome.reached_app:
            found.append("no response to a client that stayed")
        elif complete and outcome.body_seen is not None:
            found.append("the app was reached but no response was sent")
        return found
    status = start["status"]
    if status not in ALLOWED_STATUSES:
        found.append(f"status {status}")
    if status != 200:
        if outcome.reached_app and outcome.body_seen is not None:
            found.append(f"the app answered but the client got {status}")
        try:
            error = msgspec.json.decode(outcome.body).get("error")
        except (msgspec.DecodeError, AttributeError):
            error = None
        if error not in ERROR_CODES:
            found.append(f"denial {status} without a stable error code: {outcome.body[:200]!r}")
    if outcome.body_seen is not None and outcome.body_seen != request.body:
        found.append("the app received different body bytes than the client sent")
    for name, value in start.get("headers", []):
        if b"\r" in value or b"\n" in value:
            found.append(f"response header {name!r} carries CR/LF")
    if any(spec.name == "events" for spec in layers):
        echoed = [value for name, value in start.get("headers", []) if name.lower() == b"x-request-id"]
        if len(echoed) != 1 or not echoed[0] or len(echoed[0]) > 128:
            found.append(f"x-request-id echoed as {echoed!r}")
    return found


__all__ = ("ALLOWED_STATUSES", "ERROR_CODES", "Outcome", "exercise", "problems", "terminal_app")
