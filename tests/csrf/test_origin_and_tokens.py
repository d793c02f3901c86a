"""Origin normalisation, the request's own origin behind trusted proxies, and the signed tokens."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_guard.context import GuardContext
from asgi_guard.csrf import CSRFTokens, session_binding
from asgi_guard.csrf.origin import normalize_origin, request_origin
from asgi_guard.errors import GuardError
from asgi_guard.principal import Principal
from asgi_guard.testing import make_scope


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("https://Example.COM", "https://example.com"),
        ("https://example.com:443", "https://example.com"),
        ("http://example.com:80", "http://example.com"),
        ("http://example.com:8080", "http://example.com:8080"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("null", None),
        ("", None),
        ("ftp://example.com", None),
        ("https://user@example.com", None),
        ("https://example.com/", None),
        ("https://example.com?", None),
        ("https://example.com:99999", None),
        ("https://example.com:", None),
        ("https://exa\tmple.com", None),
        ("https://exämple.com", None),
        ("https://", None),
    ],
)
def test_normalize_origin(text: str, origin: str | None) -> None:
    """Serialised origins compare equal however they are spelled; anything else is None."""
    assert normalize_origin(text) == origin


def test_referer_keeps_only_the_origin() -> None:
    """A Referer URL reduces to its origin."""
    assert normalize_origin("https://example.com:443/a/b?c#d", allow_path=True) == "https://example.com"


@given(st.text(max_size=120))
def test_normalize_origin_is_total(text: str) -> None:
    """Any text gives an origin or None; an origin is stable under normalisation."""
    for allow_path in (False, True):
        found = normalize_origin(text, allow_path=allow_path)
        if found is not None:
            assert normalize_origin(found) == found


def _scope(headers: list[tuple[str, str]], *, proxy: str | None = None, scheme: str = "http") -> dict[str, object]:
    scope = make_scope(headers=headers, scheme=scheme)
    GuardContext.from_scope(scope).proxy_header = proxy
    return scope


def test_request_origin_direct() -> None:
    """Scheme from the scope, host from Host; forwarded headers from an untrusted peer are ignored."""
    assert request_origin(_scope([("host", "app.test:8000")])) == "http://app.test:8000"
    assert request_origin(_scope([("host", "app.test")], scheme="https")) == "https://app.test"
    spoofed = [("host", "app.test"), ("x-forwarded-proto", "https"), ("x-forwarded-host", "evil.test")]
    assert request_origin(_scope(spoofed)) == "http://app.test"
    assert request_origin(_scope([])) == "http://127.0.0.1:8000"  # no Host: the server address
    ws = make_scope(headers=[("host", "app.test")], type="websocket", scheme="https")
    assert request_origin(ws) == "https://app.test"


def test_request_origin_edge_cases() -> None:
    """No Host and no server, a bad Host, an unknown scheme: None; a duplicated Host is refused."""
    scope = make_scope()
    scope["server"] = None
    assert request_origin(scope) is None
    assert request_origin(_scope([("host", "a b")])) is None
    odd = make_scope(headers=[("host", "app.test")])
    odd["scheme"] = "gopher"
    assert request_origin(odd) is None
    v6 = make_scope()
    v6["server"] = ("::1", 8000)
    assert request_origin(v6) == "http://[::1]:8000"
    with pytest.raises(GuardError, match="malformed_request"):
        request_origin(_scope([("host", "a.test"), ("host", "b.test")]))


def test_request_origin_behind_a_trusted_proxy() -> None:
    """The trusted proxy's X-Forwarded-Proto/Host (rightmost) or Forwarded proto/host decide."""
    xff = [("host", "internal:8000"), ("x-forwarded-proto", "http, https"), ("x-forwarded-host", "app.example")]
    assert request_origin(_scope(xff, proxy="x-forwarded-for")) == "https://app.example"
    only_proto = [("host", "app.example"), ("x-forwarded-proto", "https")]
    assert request_origin(_scope(only_proto, proxy="x-forwarded-for")) == "https://app.example"
    forwarded = [("host", "internal"), ("forwarded", 'for=1.2.3.4;proto=https;host="app.example:8443"')]
    assert request_origin(_scope(forwarded, proxy="forwarded")) == "https://app.example:8443"
    none_sent = [("host", "app.example")]
    assert request_origin(_scope(none_sent, proxy="forwarded")) == "http://app.example"
    bad_proto = [("host", "app.example"), ("x-forwarded-proto", "gopher")]
    assert request_origin(_scope(bad_proto, proxy="x-forwarded-for")) is None


def test_tokens_bind_to_the_session() -> None:
    """A token verifies for its session only; tampering, other keys and junk fail; rotation keeps old tokens."""
    signer = CSRFTokens((b"a" * 32,))
    token = signer.issue("user-1\x00fam-1")
    assert signer.verify(token, "user-1\x00fam-1")
    assert not signer.verify(token, "user-1\x00fam-2")
    assert not signer.verify(token, "user-2\x00fam-1")
    assert signer.issue("s") != signer.issue("s")  # a fresh nonce per token
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert not signer.verify(tampered, "user-1\x00fam-1")
    assert not CSRFTokens((b"b" * 32,)).verify(token, "user-1\x00fam-1")
    rotated = CSRFTokens((b"b" * 32, b"a" * 32))
    assert rotated.verify(token, "user-1\x00fam-1")
    assert not signer.verify("v1." + "x" * 200, "s")
    assert "a" * 32 not in repr(signer)


@given(st.text(max_size=100))
def test_token_verify_is_total(text: str) -> None:
    """Any presented text is simply not valid: never an exception."""
    assert CSRFTokens((b"a" * 32,)).verify(text, "s") is False


def test_session_binding() -> None:
    """sid, then the token family, then the jti; nothing to bind to gives None."""
    assert session_binding(Principal("u", claims={"sid": "s", "fam": "f"}, token_id="j")) == "u\x00s"
    assert session_binding(Principal("u", claims={"fam": "f"}, token_id="j")) == "u\x00f"
    assert session_binding(Principal("u", token_id="j")) == "u\x00j"
    assert session_binding(Principal("u")) is None
    assert session_binding(None) is None
