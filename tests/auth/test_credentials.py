"""Reading credentials: RFC 6750 bearer parsing, API-key header, duplicates and ambiguity."""

from __future__ import annotations

import pytest

from asgi_guard.auth import credentials
from asgi_guard.auth.credentials import MEMO_LIMIT, MEMO_MAX_VALUE, parse_authorization, read_credentials
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.testing import make_scope

KEY = "wa-" + "a" * 64


def _read(headers: list[tuple[str, str]] | list[tuple[bytes, bytes]], prefix: str | None = "wa"):  # type: ignore[no-untyped-def]
    return read_credentials(make_scope(headers=headers), b"x-api-key", prefix)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"Bearer abc.def.ghi", ("bearer", "abc.def.ghi")),
        (b"bearer abc", ("bearer", "abc")),
        (b"BEARER  abc==", ("bearer", "abc==")),
        (b"Bearer a-b_c~d+e/f", ("bearer", "a-b_c~d+e/f")),
        (b"Basic dXNlcjpwYXNz", ("basic", None)),
    ],
)
def test_authorization_parsing(value: bytes, expected: tuple[str, str | None]) -> None:
    """The scheme is case-insensitive and the token is one b64token (RFC 6750 §2.1)."""
    assert parse_authorization(value) == expected


@pytest.mark.parametrize(
    "value",
    [b"Bearer", b"Bearer ", b"Bearer a b", b"Bearer a=b", b"Bearer \xff", b"Bearer a,b", b"Bearer " + b"a" * 9000],
)
def test_malformed_bearer_is_invalid_token(value: bytes) -> None:
    """An empty, multi-part, non-ASCII, oversized or non-b64token bearer value is an invalid token."""
    with pytest.raises(GuardError) as info:
        parse_authorization(value)
    assert info.value.code is ErrorCode.INVALID_TOKEN


def test_parsed_values_are_remembered_within_bounds() -> None:
    """Parsed values are memoised, refusals and long values never, and the memo stays bounded."""
    credentials._PARSED.clear()
    assert parse_authorization(b"Bearer memo.a") == parse_authorization(b"Bearer memo.a") == ("bearer", "memo.a")
    assert b"Bearer memo.a" in credentials._PARSED
    with pytest.raises(GuardError):
        parse_authorization(b"Bearer a b")
    assert b"Bearer a b" not in credentials._PARSED
    long = b"Bearer " + b"t" * MEMO_MAX_VALUE
    assert parse_authorization(long) == ("bearer", "t" * MEMO_MAX_VALUE)
    assert long not in credentials._PARSED
    assert parse_authorization(bytearray(b"Bearer ba")) == ("bearer", "ba")  # unhashable: parsed, not remembered
    for index in range(MEMO_LIMIT + 5):
        assert parse_authorization(b"Bearer fill%d" % index) == ("bearer", f"fill{index}")
        assert len(credentials._PARSED) <= MEMO_LIMIT
    credentials._PARSED.clear()


def test_nothing_sent() -> None:
    """Without headers no credential is present."""
    credentials = _read([])
    assert not credentials.present


def test_api_key_header_and_bearer_key() -> None:
    """A key arrives in X-API-Key, or as a bearer value shaped like a key."""
    assert _read([("x-api-key", f" {KEY} ")]).api_key == KEY
    bearer = _read([("authorization", f"Bearer {KEY}")])
    assert bearer.api_key == KEY
    assert bearer.bearer is None
    assert _read([("authorization", f"Bearer {KEY}")], prefix=None).bearer == KEY


def test_same_key_in_both_places_is_not_ambiguous() -> None:
    """One key sent in both headers is one credential."""
    assert _read([("x-api-key", KEY), ("authorization", f"Bearer {KEY}")]).api_key == KEY


@pytest.mark.parametrize(
    "headers",
    [
        [("x-api-key", KEY), ("authorization", "Bearer " + "wa-" + "b" * 64)],
        [("x-api-key", KEY), ("authorization", "Bearer a.b.c")],
        [("x-api-key", KEY), ("authorization", "Basic dXNlcjpwYXNz")],
        [("x-api-key", KEY), ("x-api-key", KEY)],
        [("authorization", "Bearer a.b.c"), ("authorization", "Bearer a.b.c")],
        [("Authorization", "Bearer a.b.c"), ("authorization", "Bearer x.y.z")],
    ],
)
def test_ambiguous_requests_are_malformed(headers: list[tuple[str, str]]) -> None:
    """Two different credentials, or a duplicated credential header, are refused as malformed."""
    with pytest.raises(GuardError) as info:
        _read(headers)
    assert info.value.code is ErrorCode.MALFORMED_REQUEST


@pytest.mark.parametrize("value", [b"", b"   ", b"\xffkey", b"a" * 9000])
def test_unreadable_api_key_is_invalid(value: bytes) -> None:
    """An empty, non-ASCII or oversized key header is an invalid key."""
    with pytest.raises(GuardError) as info:
        _read([(b"x-api-key", value)])
    assert info.value.code is ErrorCode.INVALID_API_KEY


def test_other_scheme_is_reported() -> None:
    """A non-Bearer Authorization scheme is reported for user authenticators."""
    credentials = _read([("authorization", "Basic dXNlcjpwYXNz")])
    assert credentials.other_scheme == "basic"
    assert credentials.present


def test_api_keys_off_ignores_the_header() -> None:
    """With API keys disabled the key header is not read."""
    credentials = read_credentials(make_scope(headers=[("x-api-key", KEY)]), None, None)
    assert not credentials.present
