"""The body pipeline: content type, cap, depth, decode, sanitise, hand over, replay; and pass-through."""

from __future__ import annotations

import sys
from typing import Any

import msgspec
import pytest

from asgi_guard._body import read_body
from asgi_guard.context import GuardContext
from asgi_guard.events import EventsConfig, EventsMiddleware, SecurityEvent
from asgi_guard.testing import MessageRecorder, call, make_scope, receive_body
from asgi_guard.types import Message, Receive, Scope, Send
from asgi_guard.validation import ExecuteAction, RouteSchema, SanitizedStr, ValidationConfig, ValidationMiddleware
from tests.validation.apps import JSON, echo, post

pytestmark = pytest.mark.anyio

EXECUTE = "/api/v1/action/execute"
GOOD = b'{"user_id": "twitch:42", "command": "so", "args": ["x"], "message": "<b>hi</b> there"}'


class Item(msgspec.Struct, forbid_unknown_fields=True):
    name: str


class Order(msgspec.Struct, forbid_unknown_fields=True):
    items: list[Item]
    meta: dict[str, Any] = {}


class Note(msgspec.Struct, forbid_unknown_fields=True):
    text: SanitizedStr


def middleware(app: Any = echo, **options: Any) -> ValidationMiddleware:
    routes = {
        ("POST", EXECUTE): ExecuteAction,
        ("POST", "/orders"): Order,
        ("PUT", "/small"): RouteSchema(body=Note, max_body_bytes=16),
    }
    return ValidationMiddleware(app, ValidationConfig(routes=routes, **options))


async def test_valid_body_is_decoded_sanitised_and_replayed() -> None:
    """The app gets the decoded, sanitised payload in the context and the untouched raw body."""
    response = await call(middleware(), post(EXECUTE), GOOD)
    assert response.status == 200
    out = response.json()
    assert out["payload"] == {"user_id": "twitch:42", "command": "so", "args": ["x"], "message": "hi there"}
    assert out["raw"] == GOOD.decode()


async def test_chunked_body_is_joined_and_replayed() -> None:
    """A body streamed in chunks is validated whole and replayed as one message."""
    response = await call(middleware(), post("/orders"), [b'{"items": [{"na', b'me": "a"}]', b"}"])
    assert response.status == 200
    assert response.json()["payload"] == {"items": [{"name": "a"}], "meta": {}}


async def test_replay_falls_through_to_the_real_receive() -> None:
    """After the replayed body the app still sees the server's http.disconnect."""
    seen: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(await receive())
        seen.append(await receive())

    guarded = ValidationMiddleware(app, ValidationConfig(routes={("POST", "/orders"): Order}))
    await guarded(post("/orders"), receive_body([b'{"items": []}']), MessageRecorder())
    assert seen == [
        {"type": "http.request", "body": b'{"items": []}', "more_body": False},
        {"type": "http.disconnect"},
    ]


async def test_body_read_by_an_outer_layer_is_not_read_again() -> None:
    """A body already buffered in the context (e.g. by the webhook layer) is reused, not re-read."""

    async def outer(scope: Scope, receive: Receive, send: Send) -> None:
        _, replayed = await read_body(scope, receive, 1024)
        await inner(scope, replayed, send)

    inner = middleware()
    response = await call(outer, post("/orders"), b'{"items": [{"name": "w"}]}')
    assert response.json() == {"raw": '{"items": [{"name": "w"}]}', "payload": {"items": [{"name": "w"}], "meta": {}}}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"items": [], "extra": 1}', "Object contains unknown field `extra` - at `$`"),
        (b'{"items": [{"name": "a", "price": 1}]}', "Object contains unknown field `price` - at `$.items[0]`"),
        (b'{"items": [{"name": 1}]}', "Expected `str`, got `int` - at `$.items[0].name`"),
        (b'{"meta": {}}', "Object missing required field `items` - at `$`"),
        (b"[]", "Expected `object`, got `array` - at `$`"),
    ],
)
async def test_schema_violations_name_the_field_path(body: bytes, detail: str) -> None:
    """Unknown fields, nested wrong types and missing fields are 400 validation_error with the path."""
    response = await call(middleware(), post("/orders"), body)
    assert response.status == 400
    assert response.json() == {"error": "validation_error", "detail": detail}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"", "The body is not valid JSON: Input data was truncated"),
        (b'{"items": [}', "The body is not valid JSON: JSON is malformed: invalid character (byte 11)"),
        (b'{"items": []} trailing', "The body is not valid JSON: JSON is malformed: trailing characters (byte 15)"),
        (b'{"items": [{"name": "\xff\xfe"}]}', "The body is not valid UTF-8."),
        (b'{"items": [{"name": "\xed\xa0\x80"}]}', "The body is not valid UTF-8."),
        (b'{"items": [{"name": "\\ud800"}]}', "The body is not valid JSON: Input data was truncated"),
        (b'{"items": [], "meta": {"a": ' + b"[" * 40 + b"]" * 40 + b"}}", "The JSON nests deeper than 32 levels."),
        (b"[" * 200_000, "The JSON nests deeper than 32 levels."),
    ],
)
async def test_malformed_bodies_are_malformed_request(body: bytes, detail: str) -> None:
    """Not JSON, not UTF-8, or nested past the limit: 400 malformed_request, never a 500."""
    response = await call(middleware(max_body_bytes=1_000_000), post("/orders"), body)
    assert response.status == 400
    assert response.json() == {"error": "malformed_request", "detail": detail}


async def test_nesting_within_the_limit_is_accepted() -> None:
    """Nesting up to max_depth decodes normally (the object and its list count as two levels)."""
    body = b'{"items": [], "meta": {"a": ' + b"[" * 6 + b"]" * 6 + b"}}"
    response = await call(middleware(max_depth=8), post("/orders"), body)
    assert response.status == 200
    response = await call(middleware(max_depth=7), post("/orders"), body)
    assert response.json()["error"] == "malformed_request"


async def test_recursion_error_behind_the_depth_check_is_a_400() -> None:
    """If msgspec still runs out of stack, the request gets a 400, not a 500."""
    guarded = middleware(max_depth=512)
    body = b'{"items": [], "meta": {"a": ' + b"[" * 500 + b"]" * 500 + b"}}"
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        response = await call(guarded, post("/orders"), body)
    finally:
        sys.setrecursionlimit(limit)
    assert response.json() == {"error": "malformed_request", "detail": "The JSON nests too deeply."}


@pytest.mark.parametrize(
    ("headers", "chunks"),
    [
        ({"content-type": "application/json", "content-length": "17"}, [b"{}"]),
        (JSON, [b'{"text": "', b"x" * 20, b'"}']),
    ],
)
async def test_bodies_over_the_cap_are_413(headers: dict[str, str], chunks: list[bytes]) -> None:
    """Content-Length or the streamed size beyond the route's cap is 413 payload_too_large."""
    response = await call(middleware(), make_scope("PUT", "/small", headers=headers), chunks)
    assert response.status == 413
    assert response.json()["error"] == "payload_too_large"


async def test_global_cap_applies_without_a_route_override() -> None:
    """max_body_bytes bounds routes that do not set their own cap."""
    response = await call(middleware(max_body_bytes=64), post(EXECUTE), b'{"user_id": "' + b"a" * 100 + b'"}')
    assert response.status == 413


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin-1",
        "multipart/form-data",
        "application/jsonx",
    ],
)
async def test_non_json_content_types_are_415(content_type: str | None) -> None:
    """A missing or non-JSON content type, or a non-UTF-8 charset, is 415 unsupported_media_type."""
    headers = {} if content_type is None else {"content-type": content_type}
    response = await call(middleware(), post("/orders", headers=headers), b'{"items": []}')
    assert response.status == 415
    assert response.json()["error"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=UTF-8",
        'application/json;charset="utf8"',
        "application/merge-patch+json",
        "application/json; foo=bar",
    ],
)
async def test_json_content_types_are_accepted(content_type: str) -> None:
    """JSON media types, case-insensitively, with UTF-8 or no charset, and +json types are accepted."""
    response = await call(middleware(), post("/orders", headers={"content-type": content_type}), b'{"items": []}')
    assert response.status == 200


async def test_json_suffix_types_can_be_refused() -> None:
    """accept_json_suffix=False accepts only the listed media types."""
    scope = post("/orders", headers={"content-type": "application/merge-patch+json"})
    response = await call(middleware(accept_json_suffix=False), scope, b'{"items": []}')
    assert response.status == 415


async def test_duplicate_content_type_is_malformed() -> None:
    """Two Content-Type headers are ambiguous: 400 malformed_request."""
    scope = post("/orders", headers=[("content-type", "application/json"), ("content-type", "text/plain")])
    response = await call(middleware(), scope, b'{"items": []}')
    assert response.json()["error"] == "malformed_request"


async def test_client_disconnect_mid_body_ends_quietly() -> None:
    """A client that leaves mid-body gets no response and the app is not called."""
    messages: list[Message] = [
        {"type": "http.request", "body": b'{"items"', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def leaving() -> Message:
        return messages.pop(0)

    recorder = MessageRecorder()
    await middleware()(post("/orders"), leaving, recorder)
    assert recorder.messages == []
    assert messages == []


async def test_unlisted_routes_and_methods_pass_through_untouched() -> None:
    """Routes and methods without a schema reach the app with the body unread and no payload."""
    for scope in (post("/elsewhere"), make_scope("GET", "/orders"), post("/orders/extra")):
        response = await call(middleware(), scope, b"not json at all")
        assert response.json() == {"raw": "not json at all"}


async def test_any_method_routes() -> None:
    """A `*` method key validates every method on that path."""
    guarded = ValidationMiddleware(echo, ValidationConfig(routes={("*", "/notes"): Note}))
    for method in ("POST", "PUT", "PATCH"):
        response = await call(guarded, make_scope(method, "/notes", headers=JSON), b'{"text": "<b>a</b>"}')
        assert response.json()["payload"] == {"text": "a"}


async def test_routes_match_below_root_path() -> None:
    """Matching uses the path minus root_path, as the app routes it."""
    response = await call(middleware(), post("/orders", root_path="/mounted"), b'{"items": 5}')
    assert response.json()["detail"] == "Expected `array`, got `int` - at `$.items`"


@pytest.mark.parametrize("kind", ["lifespan", "websocket"])
async def test_non_http_scopes_pass_through(kind: str) -> None:
    """Lifespan and websocket scopes reach the app as they are."""
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    scope: Scope = {"type": "lifespan"} if kind == "lifespan" else make_scope(path="/orders", type="websocket")
    await middleware(app)(scope, receive_body(), MessageRecorder())
    assert seen == [kind]


async def test_problem_format() -> None:
    """error_format='problem' answers RFC 9457 with the field path in the detail."""
    response = await call(middleware(error_format="problem"), post("/orders"), b'{"items": 1}')
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "urn:asgi-guard:error:validation_error",
        "title": "Bad Request",
        "status": 400,
        "detail": "Expected `array`, got `int` - at `$.items`",
        "code": "validation_error",
    }


async def test_echoed_input_is_capped_and_cleaned() -> None:
    """A huge or control-character field name is cut to max_detail_chars and neutralised in the detail."""
    name = "k\r\n" + "x" * 5000
    response = await call(middleware(max_detail_chars=40), post("/orders"), msgspec.json.encode({"items": [], name: 1}))
    detail = response.json()["detail"]
    assert len(detail) < 100
    assert "\r" not in detail
    assert "\n" not in detail
    assert detail.startswith("Object contains unknown field `k\ufffd\ufffdxxx")
    assert detail.endswith("… - at `$`")


async def test_denials_are_security_events_with_the_path() -> None:
    """Each refusal is logged as a validation_failure event whose reason names the field path."""
    events: list[SecurityEvent] = []
    app = EventsMiddleware(middleware(), EventsConfig(sinks=(events.append,)))
    await call(app, post("/orders"), b'{"items": [{"name": 2}]}')
    await call(app, post("/orders", headers={"content-type": "text/html"}), b"<p>")
    assert [(e.type, e.result, e.reason) for e in events] == [
        ("validation_failure", "deny", "validation_error at $.items[0].name"),
        ("validation_failure", "deny", "content_type:text/html"),
    ]


async def test_app_exceptions_propagate() -> None:
    """An error raised by the app after validation is never swallowed."""

    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("app bug")

    guarded = ValidationMiddleware(broken, ValidationConfig(routes={("POST", "/orders"): Order}))
    with pytest.raises(RuntimeError, match="app bug"):
        await call(guarded, post("/orders"), b'{"items": []}')


async def test_instance_holds_no_request_state() -> None:
    """Concurrent-style reuse: one instance validates different requests independently."""
    guarded = middleware()
    first = await call(guarded, post("/orders"), b'{"items": [{"name": "1"}]}')
    second = await call(guarded, post("/orders"), b'{"items": [{"name": "2"}]}')
    assert first.json()["payload"]["items"] == [{"name": "1"}]
    assert second.json()["payload"]["items"] == [{"name": "2"}]
    scope = post("/orders")
    await call(guarded, scope, b'{"items": []}')
    assert isinstance(GuardContext.from_scope(scope).payload, Order)


async def test_escaped_quote_flood_is_refused_quickly() -> None:
    """Brackets then a quote and ~1 MB of escaped quotes (a quadratic scan before) is a plain 400 nesting refusal."""
    body = b"[" * 40 + b'"' + b'\\"' * 340_000
    response = await call(middleware(), post("/orders"), body)
    assert response.status == 400
    assert response.json()["error"] == "malformed_request"
