"""µs per validated ~1 KiB payload: the validation middleware vs a bare msgspec decode vs pydantic v2.

Run: ``python -m bench.micro.validation``. All three enforce the same rules as
``asgi_guard.validation.ExecuteAction`` (patterns, lengths, unknown fields forbidden, strict types, the
message sanitised with nh3). Also compares the two ways of capping JSON nesting depth.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import msgspec
import nh3
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from asgi_guard.testing import make_scope
from asgi_guard.validation import ExecuteAction, Sanitize, ValidationConfig, ValidationMiddleware
from asgi_guard.validation._depth import nesting_depth, too_deep
from asgi_guard.validation._plan import SchemaWalker

if TYPE_CHECKING:
    from collections.abc import Callable

PLAIN = {
    "user_id": "twitch:123456",
    "command": "shoutout",
    "args": ["streamer_one", "with-a-longer-argument", "3"],
    "message": "Thanks for the raid, everyone! " * 30,
}
HTML = PLAIN | {"message": "<b>Thanks</b> for the <i>raid</i>, <script>x()</script>everyone! " * 14}


_SANITIZE = Sanitize()  # the same nh3 cleaner (and no-markup fast path) the middleware uses


def clean(text: str | None) -> str | None:
    return None if text is None else _SANITIZE(text)


class PydanticExecute(BaseModel):
    # Rust regex: `^`/`$` anchor at the ends (no trailing-newline quirk), `[0-9]` as in the msgspec schema.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    user_id: Annotated[str, StringConstraints(pattern=r"^[a-z]+:[0-9]+$", max_length=64)]
    command: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]+$", min_length=1, max_length=255)]
    args: Annotated[tuple[Annotated[str, StringConstraints(max_length=500)], ...], Field(max_length=20)] = ()
    message: Annotated[str | None, StringConstraints(max_length=2000), AfterValidator(clean)] = None


def per_call(fn: Callable[[], Any], rounds: int = 5, number: int = 4000) -> float:
    """Best-of-rounds µs per call."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best * 1e6


async def _noop_app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def through(app: Any, body: bytes) -> float:
    """µs per request through ``app`` (ASGI driven without an event loop: nothing really awaits)."""
    template = make_scope("POST", "/api/v1/action/execute", headers={"content-type": "application/json"})
    message = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> dict[str, Any]:
        return message

    async def send(_: Any) -> None:
        return None

    def one() -> None:
        coroutine = app(dict(template), receive, send)
        try:
            coroutine.send(None)
        except StopIteration:
            return
        raise RuntimeError("the app suspended")  # pragma: no cover

    return per_call(one)


def walk_depth(value: Any, depth: int = 0) -> int:
    if isinstance(value, list):
        return max((walk_depth(item, depth + 1) for item in value), default=depth + 1)
    if isinstance(value, dict):
        return max((walk_depth(item, depth + 1) for item in value.values()), default=depth + 1)
    return depth


def main() -> None:
    config = ValidationConfig(routes={("POST", "/api/v1/action/execute"): ExecuteAction})
    middleware = ValidationMiddleware(_noop_app, config)
    decoder = msgspec.json.Decoder(ExecuteAction)
    cleaner = SchemaWalker().cleaner(ExecuteAction, "$")
    assert cleaner is not None
    pydantic = PydanticExecute.model_validate_json
    rows: list[tuple[str, float]] = []
    for label, payload in (("plain text", PLAIN), ("with HTML", HTML)):
        body = msgspec.json.encode(payload)
        assert decoder.decode(body) is not None
        assert PydanticExecute.model_validate_json(body).message == nh3.clean(payload["message"], tags=set())
        print(f"payload {label}: {len(body)} bytes")
        rows += [
            (f"  bare ASGI app (harness floor)       [{label}]", through(_noop_app, body)),
            (f"  ValidationMiddleware + app          [{label}]", through(middleware, body)),
            (f"  msgspec decode only                 [{label}]", per_call(lambda b=body: decoder.decode(b))),
            (f"  msgspec decode + sanitise           [{label}]", per_call(lambda b=body: cleaner(decoder.decode(b)))),
            (f"  pydantic v2 (same rules + sanitise) [{label}]", per_call(lambda b=body: pydantic(b))),
        ]
        for name, micros in rows[-5:]:
            print(f"{name}: {micros:7.2f} µs")

    print("depth cap strategies (1 KiB payload / 200 KB bracket bomb):")
    body = msgspec.json.encode(PLAIN)
    bomb = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    wide = msgspec.json.encode({"k": [[i, [i]] for i in range(100)]})
    print(f"  too_deep (count, fast path), 1 KiB:   {per_call(lambda: too_deep(body, 32)):8.2f} µs")
    print(f"  nesting_depth (full scan), 1 KiB:     {per_call(lambda: nesting_depth(body)):8.2f} µs")
    print(f"  decode untyped + walk, 1 KiB:         {per_call(lambda: walk_depth(msgspec.json.decode(body))):8.2f} µs")
    print(f"  nesting_depth, {len(wide)} B with 201 arrays: {per_call(lambda: nesting_depth(wide)):6.2f} µs")
    print(f"  decode untyped + walk, same:          {per_call(lambda: walk_depth(msgspec.json.decode(wide))):8.2f} µs")
    print(f"  nesting_depth (full scan), bomb:      {per_call(lambda: nesting_depth(bomb), 3, 20):8.1f} µs")
    print(f"  too_deep (stops past the limit), bomb:{per_call(lambda: too_deep(bomb, 32), 3, 20):8.1f} µs")
    print("  decode untyped + walk, bomb:          RecursionError (msgspec cannot decode it at all)")


if __name__ == "__main__":
    main()
