"""SessionCookies: the flags every Set-Cookie carries, config validation, the development mode, parsing."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_guard.errors import ConfigurationError, ErrorCode, GuardError
from asgi_guard.sessions import InsecureSessionWarning, SessionCookies, is_loopback_host, read_cookie
from asgi_guard.testing import make_scope


def test_production_flags() -> None:
    """The access cookie is __Host- (Path=/, Secure, HttpOnly, Lax); the refresh cookie is scoped to its path."""
    cookies = SessionCookies()
    name, value = cookies.access_header("a.b.c", 3600)
    assert name == b"set-cookie"
    assert value == b"__Host-session=a.b.c; Max-Age=3600; Path=/; HttpOnly; Secure; SameSite=Lax"
    _, refresh = cookies.refresh_header("r.s.t")
    assert refresh == b"__Secure-refresh=r.s.t; Max-Age=2592000; Path=/auth; HttpOnly; Secure; SameSite=Lax"
    cleared = [value for _, value in cookies.clear_headers()]
    assert cleared == [
        b"__Host-session=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax",
        b"__Secure-refresh=; Max-Age=0; Path=/auth; HttpOnly; Secure; SameSite=Lax",
    ]


def test_strict_and_custom_names() -> None:
    """Names and SameSite=Strict are configurable."""
    cookies = SessionCookies(access_cookie="__Host-app", refresh_cookie="__Secure-app-r", same_site="strict")
    assert cookies.access_header("x", 5)[1].endswith(b"SameSite=Strict")
    assert cookies.access_header("x", 5)[1].startswith(b"__Host-app=x;")


def test_cookie_values_must_be_tokens() -> None:
    """A value that could inject attributes (`;`, spaces) is refused, never written."""
    with pytest.raises(ValueError, match="JWT"):
        SessionCookies().access_header("x; Domain=evil.example", 5)


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"access_cookie": "bad name"}, "access_cookie"),
        ({"refresh_cookie": ""}, "refresh_cookie"),
        ({"access_cookie": "same", "refresh_cookie": "same"}, "SessionCookies"),
        ({"access_cookie": "__Secure-session"}, "access_cookie"),
        ({"refresh_path": "auth"}, "refresh_path"),
        ({"refresh_path": "/a b"}, "refresh_path"),
        ({"refresh_cookie": "__Host-refresh"}, "refresh_cookie"),
        ({"refresh_max_age": 0}, "refresh_max_age"),
        ({"refresh_max_age": True}, "refresh_max_age"),
        ({"same_site": "none"}, "same_site"),
    ],
)
def test_misconfiguration(kwargs: dict[str, object], where: str) -> None:
    """Every bad combination is a ConfigurationError naming the field."""
    with pytest.raises(ConfigurationError, match=where):
        SessionCookies(**kwargs)  # type: ignore[arg-type]


def test_host_refresh_cookie_allowed_at_root() -> None:
    """A __Host- refresh cookie is fine when its path is / (the prefix's requirement)."""
    assert SessionCookies(refresh_cookie="__Host-refresh", refresh_path="/").refresh_path == "/"


def test_development_mode_is_loud(caplog: pytest.LogCaptureFixture) -> None:
    """Development mode warns at construction and logs a security warning; no Secure, no prefixes."""
    with caplog.at_level(logging.WARNING, logger="asgi_guard.security"), pytest.warns(InsecureSessionWarning):
        cookies = SessionCookies.development()
    assert "insecure development mode" in caplog.text
    assert cookies.access_header("t", 60)[1] == b"session=t; Max-Age=60; Path=/; HttpOnly; SameSite=Lax"
    with pytest.raises(ConfigurationError, match="without __Host-"):
        SessionCookies(insecure_dev=True)


def test_read_cookie() -> None:
    """The named cookie among others, across several Cookie headers; absent -> None."""
    scope = make_scope(headers=[("cookie", "a=1; __Host-session=tok"), ("cookie", "b=2")])
    assert read_cookie(scope, "__Host-session") == "tok"
    assert read_cookie(scope, "missing") is None
    assert read_cookie(make_scope(), "x") is None
    assert read_cookie(make_scope(headers={"cookie": "x-session=1"}), "session") is None


def test_duplicate_cookie_refused() -> None:
    """A second cookie of the same name (shadowing from a sibling domain) is refused, not guessed."""
    scope = make_scope(headers=[("cookie", "session=a"), ("cookie", "session=b")])
    with pytest.raises(GuardError) as raised:
        read_cookie(scope, "session")
    assert raised.value.code is ErrorCode.MALFORMED_REQUEST
    assert raised.value.reason == "duplicate_cookie:session"


def test_oversized_cookie_header_refused() -> None:
    """Cookie headers past the cap are not parsed."""
    with pytest.raises(GuardError, match="malformed_request"):
        read_cookie(make_scope(headers={"cookie": "a=" + "x" * 20000}), "a")


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200))
def test_read_cookie_total(header: str) -> None:
    """Any printable Cookie header gives a value, None, or a malformed_request refusal: never a crash."""
    outcome: object
    try:
        outcome = read_cookie(make_scope(headers={"cookie": header}), "session")
    except GuardError as error:
        outcome = error.code
    assert outcome is None or isinstance(outcome, str)
    if header.count("session=") < 2:
        assert outcome is not ErrorCode.MALFORMED_REQUEST


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost:8000", True),
        ("127.0.0.1", True),
        ("[::1]:8000", True),
        ("LOCALHOST", True),
        ("example.com", False),
        ("127.0.0.1.example.com", False),
        ("localhost.evil:80", False),
        (None, False),
    ],
)
def test_is_loopback_host(host: str | None, loopback: bool) -> None:
    """Only loopback names count, port ignored."""
    headers = {"host": host} if host is not None else None
    assert is_loopback_host(make_scope(headers=headers)) is loopback
