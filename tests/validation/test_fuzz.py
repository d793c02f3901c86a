"""Hypothesis-generated requests: never a 500, and a 200 exactly when the payload really is valid."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_guard.testing import call, make_scope
from asgi_guard.validation import ExecuteAction, ModerationAction, RouteSchema, ValidationConfig, ValidationMiddleware
from asgi_guard.validation._depth import nesting_depth
from tests.validation.apps import echo, post
from tests.validation.test_query_path import CommunityPath, Listing

pytestmark = pytest.mark.anyio

EXECUTE = "/api/v1/action/execute"
MODERATE = "/api/v1/moderation"
MAX_DEPTH = 8
APP = ValidationMiddleware(
    echo,
    ValidationConfig(
        routes={
            ("POST", EXECUTE): ExecuteAction,
            ("POST", MODERATE): ModerationAction,
            ("GET", "/c/{community_id}/posts"): RouteSchema(query=Listing, path=CommunityPath),
        },
        max_depth=MAX_DEPTH,
        max_body_bytes=4096,
    ),
)
SCHEMAS: dict[str, Any] = {EXECUTE: ExecuteAction, MODERATE: ModerationAction}

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
near_valid = st.fixed_dictionaries(
    {
        "user_id": st.from_regex(r"\A[a-z]{1,4}:[0-9]{1,4}\Z") | st.text(max_size=10),
        "command": st.from_regex(r"\A[a-zA-Z0-9_-]{1,6}\Z") | st.text(max_size=10),
    },
    optional={
        "args": st.lists(st.text(max_size=5), max_size=3) | json_values,
        "message": st.text(alphabet=st.sampled_from("ab<>/&\"' i"), max_size=30) | json_values,
        "action": st.sampled_from(["warn", "timeout", "ban", "nuke"]),
        "target_user_id": st.just("twitch:1"),
        "duration_seconds": st.integers(-5, 2_000_000),
        "unexpected": json_values,
    },
)


def expected_ok(path: str, body: bytes) -> bool:
    """The oracle: the body decodes strictly into the route's type within the depth limit."""
    try:
        msgspec.json.decode(body, type=SCHEMAS[path])
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return False
    return nesting_depth(body) <= MAX_DEPTH


async def check(path: str, body: bytes) -> None:
    response = await call(APP, post(path), body)
    assert response.status in (200, 400, 413)
    if len(body) <= 4096:
        assert (response.status == 200) == expected_ok(path, body)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from([EXECUTE, MODERATE]), value=json_values)
async def test_any_json_value(path: str, value: Any) -> None:
    """Arbitrary JSON documents are answered 200 or 400, matching a strict decode."""
    await check(path, msgspec.json.encode(value))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from([EXECUTE, MODERATE]), value=near_valid)
async def test_near_valid_payloads(path: str, value: dict[str, Any]) -> None:
    """Payloads close to the schema are accepted exactly when every rule holds."""
    await check(path, msgspec.json.encode(value))


@settings(max_examples=200)
@given(
    body=st.binary(max_size=200)
    | st.text(alphabet=st.sampled_from('{}[]":,01 ae\\\xff'), max_size=60).map(
        lambda t: t.encode("utf-8", "surrogatepass")
    )
)
async def test_arbitrary_bytes(body: bytes) -> None:
    """Random bytes, invalid UTF-8 and broken JSON never produce a 500."""
    await check(EXECUTE, body)


@settings(max_examples=200)
@given(
    content_type=st.none()
    | st.text(max_size=40).map(lambda t: t.encode("utf-8"))
    | st.sampled_from([b"application/json; charset=\xff", b";;;"]),
    query=st.binary(max_size=60),
    segment=st.text(alphabet=st.sampled_from("0123456789ax%-"), min_size=1, max_size=6),
)
async def test_hostile_headers_query_and_path(content_type: bytes | None, query: bytes, segment: str) -> None:
    """Random content types, query strings and path segments are answered below 500."""
    headers = [] if content_type is None else [(b"content-type", content_type)]
    response = await call(APP, make_scope("POST", EXECUTE, headers=headers), b'{"user_id": "a:1", "command": "c"}')
    assert response.status in (200, 400, 415)
    response = await call(APP, make_scope("GET", f"/c/{segment}/posts", query_string=query))
    assert response.status in (200, 400)
