"""Raw header access on scope["headers"] and header edits on response start messages."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_guard._headers import (
    add_missing_headers,
    append_headers,
    get_all,
    get_header,
    get_unique,
    has_header,
    is_preflight,
)
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.testing import make_scope

RAW = [(b"Authorization", b"Bearer a"), (b"x-a", b"1"), (b"X-A", b"2"), (b"x-ab", b"3")]


def test_get_header_is_case_insensitive_and_returns_the_first() -> None:
    """get_header matches names case-insensitively and returns the first value."""
    scope = {"headers": RAW}
    assert get_header(scope, b"authorization") == b"Bearer a"
    assert get_header(scope, b"x-a") == b"1"
    assert get_header(scope, b"x-b") is None


def test_get_all_keeps_order_and_ignores_prefixes() -> None:
    """get_all returns every value of exactly that name, in order."""
    assert get_all({"headers": RAW}, b"x-a") == [b"1", b"2"]
    assert get_all({"headers": RAW}, b"x") == []


def test_missing_headers_key_is_empty() -> None:
    """A scope without a headers list behaves as one with no headers."""
    assert get_header({}, b"x-a") is None
    assert get_all({}, b"x-a") == []
    assert get_unique({"headers": None}, b"x-a") is None


def test_get_unique_refuses_duplicates_in_any_case() -> None:
    """A security header sent twice (any case) is a malformed_request naming the header in the reason."""
    assert get_unique({"headers": RAW}, b"authorization") == b"Bearer a"
    with pytest.raises(GuardError) as raised:
        get_unique({"headers": RAW}, b"x-a")
    assert raised.value.code is ErrorCode.MALFORMED_REQUEST
    assert raised.value.status == 400
    assert raised.value.reason == "duplicate_header:x-a"


def test_has_header() -> None:
    """has_header finds a name in any case."""
    assert has_header(RAW, b"authorization")
    assert not has_header(RAW, b"cookie")


@pytest.mark.parametrize("initial", [None, [], ((b"a", b"1"),)])
def test_append_headers_copies_into_a_list(initial: object) -> None:
    """append_headers works on missing, empty and tuple header collections and returns a new list."""
    message: dict[str, object] = {"type": "http.response.start", "status": 200}
    if initial is not None:
        message["headers"] = initial
    append_headers(message, [(b"x-b", b"2")])
    expected = [*(initial or ()), (b"x-b", b"2")]
    assert message["headers"] == expected
    assert isinstance(message["headers"], list)


def test_add_missing_headers_keeps_the_apps_values() -> None:
    """Defaults are added only for names the app did not send, whatever its case."""
    message: dict[str, object] = {"headers": ((b"Cache-Control", b"max-age=1"),)}
    add_missing_headers(message, [(b"cache-control", b"no-store"), (b"x-frame-options", b"DENY")])
    assert message["headers"] == [(b"Cache-Control", b"max-age=1"), (b"x-frame-options", b"DENY")]


def test_add_missing_headers_without_anything_missing_leaves_the_message() -> None:
    """When the app set every default, the header collection is left as the app sent it."""
    original = ((b"x-frame-options", b"SAMEORIGIN"),)
    message: dict[str, object] = {"headers": original}
    add_missing_headers(message, [(b"x-frame-options", b"DENY")])
    assert message["headers"] is original


def test_add_missing_headers_on_an_empty_message() -> None:
    """A start message without headers gets all defaults."""
    message: dict[str, object] = {}
    add_missing_headers(message, ((b"a", b"1"),))
    assert message["headers"] == [(b"a", b"1")]


HEADER_LISTS = st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=40)), max_size=8)


@settings(max_examples=300, deadline=None)
@given(headers=HEADER_LISTS, name=st.binary(min_size=1, max_size=20))
def test_no_byte_string_makes_lookups_raise(headers: list[tuple[bytes, bytes]], name: bytes) -> None:
    """For any header bytes, lookups agree with each other and only get_unique raises, and only GuardError."""
    scope = {"headers": headers}
    lowered = name.lower()
    values = get_all(scope, lowered)
    assert get_header(scope, lowered) == (values[0] if values else None)
    assert has_header(headers, lowered) is bool(values)
    if len(values) > 1:
        with pytest.raises(GuardError):
            get_unique(scope, lowered)
    else:
        assert get_unique(scope, lowered) == (values[0] if values else None)


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [
        ("OPTIONS", {"origin": "https://a.example", "access-control-request-method": "POST"}, True),
        ("OPTIONS", {"access-control-request-method": "POST"}, False),
        ("OPTIONS", {"origin": "https://a.example"}, False),
        ("GET", {"origin": "https://a.example", "access-control-request-method": "POST"}, False),
    ],
)
def test_is_preflight_needs_options_origin_and_request_method(
    method: str, headers: dict[str, str], expected: bool
) -> None:
    """Only OPTIONS with both Origin and Access-Control-Request-Method is a CORS preflight."""
    assert is_preflight(make_scope(method, "/x", headers=headers)) is expected
