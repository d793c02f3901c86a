"""CSRFMiddleware beyond the decision table: form bodies, websockets, proxies, webhooks, helpers, config."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_guard import guard
from asgi_guard.auth import AuthConfig
from asgi_guard.context import GuardContext
from asgi_guard.csrf import (
    CSRFConfig,
    CSRFMiddleware,
    csrf_headers,
    csrf_input,
    csrf_meta,
    csrf_token,
)
from asgi_guard.errors import ConfigurationError, MissingGuardContext
from asgi_guard.principal import Principal
from asgi_guard.testing import MessageRecorder, call, make_scope
from asgi_guard.types import Message
from asgi_guard.webhooks.verified import VerifiedWebhook
from tests.sessions.stack import CSRF_SECRET, Recorder, build

pytestmark = pytest.mark.anyio

CONFIG = CSRFConfig(secrets=(CSRF_SECRET,))


async def _session(stack: Any) -> tuple[str, str]:
    """A login's access cookie and a CSRF token issued for that session by the page helpers."""
    pair = stack.tokens.issue_pair("user-1")
    cookie = f"__Host-session={pair.access_token}"
    page = (await call(stack.app, make_scope(path="/page", headers=[("cookie", cookie)]))).json()
    assert page["input"].startswith('<input type="hidden" name="csrf_token" value="v1.')
    assert page["meta"].startswith('<meta name="csrf-token" content="v1.')
    assert page["headers"]["x-csrf-token"].startswith("v1.")
    return cookie, page["token"]


async def test_helpers_issue_tokens_the_middleware_accepts() -> None:
    """A token from csrf_token/csrf_input passes as header or form field with no Origin/Referer."""
    stack = build(csrf=CONFIG)
    cookie, token = await _session(stack)
    header = make_scope("POST", "/a", headers=[("cookie", cookie), ("x-csrf-token", token)])
    assert (await call(stack.app, header)).status == 200
    body = f"csrf_token={token}&x=1".encode()
    form = make_scope("POST", "/a", headers=[("cookie", cookie), ("content-type", "application/x-www-form-urlencoded")])
    assert (await call(stack.app, form, [body[:5], body[5:]])).status == 200
    assert stack.inner.calls[-1]["body"] == body


def scope_event(scope: dict[str, Any]) -> Any:
    """The last event recorded on a scope, or None."""
    ctx = scope.get("asgi_guard")
    return ctx.events[-1] if ctx is not None and ctx.events else None


async def test_multipart_form_token() -> None:
    """The token is found in a multipart/form-data field; the body reaches the app intact."""
    stack = build(csrf=CONFIG)
    cookie, token = await _session(stack)
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n' + token.encode() + b"\r\n--XyZ--\r\n"
    )
    headers = [("cookie", cookie), ("content-type", "multipart/form-data; boundary=XyZ")]
    assert (await call(stack.app, make_scope("POST", "/upload", headers=headers), body)).status == 200
    assert stack.inner.calls[-1]["body"] == body
    twice = body.replace(b"--XyZ--", b'--XyZ\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\nx\r\n--XyZ--')
    refused = await call(stack.app, make_scope("POST", "/upload", headers=headers), twice)
    assert refused.status == 403
    broken = await call(stack.app, make_scope("POST", "/upload", headers=headers), b"not multipart at all")
    assert broken.status == 403


async def test_deeply_nested_multipart_is_refused_not_a_crash() -> None:
    """A form nesting multipart parts a thousand deep (the stdlib parser recurses per level: seconds
    of CPU, then RecursionError), or with more parts than Starlette allows, is a 403 csrf_failed
    before it is parsed; a form with a nested part or two still gives its token."""
    stack = build(csrf=CONFIG)
    cookie, token = await _session(stack)
    headers = [("cookie", cookie), ("content-type", "multipart/form-data; boundary=b0")]
    nested = b"".join(
        b"--b%d\r\ncontent-type: multipart/form-data; boundary=b%d\r\n\r\n" % (i, i + 1) for i in range(1500)
    )
    refused = await call(stack.app, make_scope("POST", "/upload", headers=headers), nested)
    assert refused.status == 403
    assert refused.json()["error"] == "csrf_failed"
    assert stack.inner.calls == []
    shallow = (
        b"--b0\r\ncontent-type: multipart/mixed; boundary=b1\r\n"
        b'content-disposition: form-data; name="files"\r\n\r\n'
        b"--b1\r\ncontent-type: text/plain\r\n\r\nhello\r\n--b1--\r\n"
        b'--b0\r\ncontent-disposition: form-data; name="csrf_token"\r\n\r\n' + token.encode() + b"\r\n--b0--\r\n"
    )
    assert (await call(stack.app, make_scope("POST", "/upload", headers=headers), shallow)).status == 200
    part = b'--b0\r\ncontent-disposition: form-data; name="x"\r\n\r\nv\r\n'
    many = part * 1001 + b'--b0\r\ncontent-disposition: form-data; name="csrf_token"\r\n\r\n' + token.encode()
    flood = await call(stack.app, make_scope("POST", "/upload", headers=headers), many + b"\r\n--b0--\r\n")
    assert flood.status == 403  # refused unparsed: a megabyte of tiny parts costs the parser seconds
    assert len(stack.inner.calls) == 1


async def test_form_edge_cases() -> None:
    """No or duplicated Content-Type, JSON bodies: no form token (403); an oversized form: 413."""
    stack = build(csrf=CSRFConfig(secrets=(CSRF_SECRET,), max_form_bytes=64))
    cookie, token = await _session(stack)
    for headers in (
        [("cookie", cookie)],
        [("cookie", cookie), ("content-type", "application/json")],
        [("cookie", cookie), ("content-type", "text/plain"), ("content-type", "text/plain")],
    ):
        response = await call(stack.app, make_scope("POST", "/a", headers=headers), f"csrf_token={token}".encode())
        assert response.status == 403
    form = [("cookie", cookie), ("content-type", "application/x-www-form-urlencoded")]
    big = await call(stack.app, make_scope("POST", "/a", headers=form), b"csrf_token=" + b"x" * 100)
    assert (big.status, big.json()["error"]) == (413, "payload_too_large")
    big_scope = make_scope("POST", "/a", headers=form)
    await call(stack.app, big_scope, b"x" * 100)
    assert big_scope["asgi_guard"].events[-1].extra["check"] == "form"
    roomy = build(csrf=CONFIG)
    cookie, token = await _session(roomy)
    form = [("cookie", cookie), ("content-type", "application/x-www-form-urlencoded")]
    dup = await call(roomy.app, make_scope("POST", "/a", headers=form), f"csrf_token={token}&csrf_token=x".encode())
    assert dup.status == 403


async def test_client_disconnect_while_reading_the_form() -> None:
    """The client leaving mid-body gets no response and the app is not called."""
    stack = build(csrf=CONFIG)
    cookie, _ = await _session(stack)
    scope = make_scope(
        "POST", "/a", headers=[("cookie", cookie), ("content-type", "application/x-www-form-urlencoded")]
    )

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    recorder = MessageRecorder()
    before = len(stack.inner.calls)
    await stack.app(scope, receive, recorder)
    assert recorder.messages == []
    assert len(stack.inner.calls) == before


async def test_trusted_proxy_reports_the_public_origin() -> None:
    """Behind a trusted proxy the public https origin matches; from an untrusted peer the same headers do not."""
    stack = build(csrf=CONFIG, trusted_proxies=("10.0.0.0/8",))
    pair = stack.tokens.issue_pair("user-1")
    headers = [
        ("host", "app-internal:8000"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example"),
        ("origin", "https://app.example"),
        ("cookie", f"__Host-session={pair.access_token}"),
    ]
    via_proxy = make_scope("POST", "/a", headers=headers, client=("10.1.2.3", 4000))
    assert (await call(stack.app, via_proxy)).status == 200
    direct = make_scope("POST", "/a", headers=headers, client=("203.0.113.9", 4000))
    assert (await call(stack.app, direct)).status == 403
    # The proxy says http on port 8000 while the page is https (mismatched scheme): refused.
    plain = [*headers[:1], ("x-forwarded-proto", "http"), *headers[2:]]
    assert (await call(stack.app, make_scope("POST", "/a", headers=plain, client=("10.1.2.3", 4000)))).status == 403


async def test_forwarded_header_proxy() -> None:
    """RFC 7239 Forwarded proto/host from a trusted proxy."""
    stack = build(csrf=CONFIG, trusted_proxies=("10.0.0.0/8",), proxy_header="forwarded")
    pair = stack.tokens.issue_pair("user-1")
    headers = [
        ("host", "internal"),
        ("forwarded", "for=198.51.100.7;proto=https;host=app.example"),
        ("origin", "https://app.example"),
        ("cookie", f"__Host-session={pair.access_token}"),
    ]
    assert (await call(stack.app, make_scope("POST", "/a", headers=headers, client=("10.0.0.1", 1)))).status == 200


async def test_websocket_handshake_origin() -> None:
    """A cookie-authenticated websocket must come from the own (or a trusted) origin; non-browsers pass."""
    stack = build(csrf=CSRFConfig(secrets=(CSRF_SECRET,), trusted_origins=("https://partner.example",)))
    pair = stack.tokens.issue_pair("user-1")
    cookie = ("cookie", f"__Host-session={pair.access_token}")
    for origin, accepted in (
        ("http://app.test", True),
        ("https://partner.example", True),
        ("http://evil.test", False),
        ("null", False),
        (None, True),
    ):
        headers = [("host", "app.test"), cookie] + ([("origin", origin)] if origin else [])
        recorder = await call(stack.app, make_scope(path="/ws", headers=headers, type="websocket"))
        kinds = [message["type"] for message in recorder.messages]
        assert kinds == (["websocket.accept"] if accepted else ["websocket.close"]), origin


async def test_verified_webhooks_and_other_scopes_pass() -> None:
    """A verified webhook is never checked; lifespan passes through untouched."""
    inner = Recorder()
    middleware = CSRFMiddleware(inner, CONFIG)
    scope = make_scope("POST", "/hook", headers=[("origin", "http://evil.test")])
    GuardContext.from_scope(scope).principal = Principal("u", ambient=True, token_id="j")
    GuardContext.from_scope(scope).webhook = VerifiedWebhook(provider="generic", message_id="", route="/hook")
    assert (await call(middleware, scope)).status == 200
    GuardContext.from_scope(scope).webhook = None
    assert (await call(middleware, scope)).status == 403
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await CSRFMiddleware(app, CONFIG)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


async def test_problem_format() -> None:
    """error_format='problem' gives RFC 9457 bodies."""
    stack = build(csrf=CSRFConfig(secrets=(CSRF_SECRET,), error_format="problem"))
    pair = stack.tokens.issue_pair("user-1")
    scope = make_scope("POST", "/a", headers=[("cookie", f"__Host-session={pair.access_token}")])
    response = await call(stack.app, scope)
    assert response.status == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "csrf_failed"


def test_helpers_without_the_middleware_or_a_session() -> None:
    """Helpers name the missing middleware; without a session they give empty values."""
    with pytest.raises(MissingGuardContext, match="CSRFMiddleware"):
        csrf_token(make_scope())
    with pytest.raises(MissingGuardContext):
        csrf_input(object())
    scope = make_scope()
    GuardContext.from_scope(scope).csrf = CSRFMiddleware(Recorder(), CONFIG)._state
    assert (csrf_token(scope), csrf_input(scope), csrf_meta(scope), csrf_headers(scope)) == ("", "", "", {})


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"secrets": ()}, "secrets"),
        ({"secrets": "x" * 40}, "secrets"),
        ({"secrets": ("short",)}, "secrets[0]"),
        ({"secrets": (CSRF_SECRET,), "trusted_origins": ("null",)}, "trusted_origins[0]"),
        ({"secrets": (CSRF_SECRET,), "trusted_origins": ("https://a.example/path",)}, "trusted_origins[0]"),
        ({"secrets": (CSRF_SECRET,), "header": "X-CSRF"}, "header"),
        ({"secrets": (CSRF_SECRET,), "form_field": "a b"}, "form_field"),
        ({"secrets": (CSRF_SECRET,), "max_form_bytes": 0}, "max_form_bytes"),
        ({"secrets": (CSRF_SECRET,), "error_format": "xml"}, "error_format"),
    ],
)
def test_misconfiguration(kwargs: dict[str, Any], where: str) -> None:
    """Bad configs fail at construction, naming the field and never echoing a secret."""
    with pytest.raises(ConfigurationError, match=re.escape(where)) as raised:
        CSRFConfig(**kwargs)
    assert "x" * 40 not in str(raised.value)


def test_repr_hides_secrets_and_guard_needs_authentication() -> None:
    """The config's repr shows no secret; guard() refuses CSRF without authentication."""
    config = CSRFConfig(secrets=("s" * 40,))
    assert "s" * 40 not in repr(config)
    with pytest.raises(ConfigurationError, match="authentication"):
        guard(Recorder(), config)


async def test_custom_ambient_authenticator_is_checked() -> None:
    """A user authenticator that marks its principal ambient (its own cookie scheme) gets CSRF checks too."""

    async def cookie_user(scope: Any) -> Principal | None:
        return Principal("u", ambient=True, claims={"sid": "s1"}) if scope["path"] != "/bearerish" else None

    app = guard(Recorder(), AuthConfig(authenticators=(cookie_user,)), CONFIG)
    refused = await call(app, make_scope("POST", "/a", headers={"sec-fetch-site": "cross-site"}))
    assert (refused.status, refused.json()["error"]) == (403, "csrf_failed")
    allowed = await call(app, make_scope("POST", "/a", headers={"sec-fetch-site": "same-origin"}))
    assert allowed.status == 200


@settings(max_examples=150, deadline=None)
@given(
    proto=st.sampled_from(["http", "https"]),
    host=st.sampled_from(["app.example", "app.example:8443", "internal:8000"]),
    origin=st.sampled_from(
        ["https://app.example", "http://app.example", "https://app.example:8443", "http://internal:8000"]
    ),
    trusted_peer=st.booleans(),
)
async def test_origin_behind_proxy_property(proto: str, host: str, origin: str, trusted_peer: bool) -> None:
    """Origin passes exactly when it equals the proxy-reported origin (trusted peer) or the direct one."""
    stack = _PROXY_STACK
    pair = stack.tokens.issue_pair("user-1")
    headers = [
        ("host", "internal:8000"),
        ("x-forwarded-proto", proto),
        ("x-forwarded-host", host),
        ("origin", origin),
        ("cookie", f"__Host-session={pair.access_token}"),
    ]
    peer = "10.0.0.5" if trusted_peer else "198.51.100.5"
    response = await call(stack.app, make_scope("POST", "/a", headers=headers, client=(peer, 1)))
    public = f"{proto}://{host}".replace("https://app.example:443", "https://app.example")
    own = public if trusted_peer else "http://internal:8000"
    assert response.status == (200 if origin == own else 403)


_PROXY_STACK = build(csrf=CONFIG, trusted_proxies=("10.0.0.0/8",))
