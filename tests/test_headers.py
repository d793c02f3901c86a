"""Security response headers, their presets, and security.txt (RFC 9116)."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from litestar import Litestar, get
from litestar.middleware import DefineMiddleware
from litestar.testing import AsyncTestClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from asgi_guard.compose import guard
from asgi_guard.errors import ConfigurationError
from asgi_guard.headers import (
    HSTS_TWO_YEARS,
    SECURITY_TXT_PATH,
    SecurityHeadersConfig,
    SecurityHeadersMiddleware,
    SecurityTxt,
)
from asgi_guard.testing import MessageRecorder, call, make_scope

pytestmark = pytest.mark.anyio

TXT = SecurityTxt(
    contact=("mailto:security@example.org", "https://example.org/report"),
    expires="2027-01-01T00:00:00Z",
    encryption=("https://example.org/pgp.asc",),
    acknowledgments=("https://example.org/thanks",),
    preferred_languages=("en", "fr"),
    canonical=("https://example.org/.well-known/security.txt",),
    policy=("https://example.org/policy",),
    hiring=("https://example.org/jobs",),
)


async def plain_app(scope, receive, send):  # type: ignore[no-untyped-def]
    """A raw app answering 200 with a tuple of headers (apps may send tuples)."""
    await send({"type": "http.response.start", "status": 200, "headers": ((b"content-type", b"text/plain"),)})
    await send({"type": "http.response.body", "body": b"hi"})


async def test_strict_api_preset_sets_every_header_over_https() -> None:
    """The strict API preset sends CSP, HSTS, nosniff, DENY, no-referrer, Permissions-Policy and no-store."""
    app = SecurityHeadersMiddleware(plain_app, SecurityHeadersConfig.strict_api())
    response = await call(app, make_scope(scheme="https"))
    headers = response.headers
    assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert headers["strict-transport-security"] == HSTS_TWO_YEARS
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in headers["permissions-policy"]
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["cross-origin-resource-policy"] == "same-origin"
    assert headers["cache-control"] == "no-store"
    assert headers["content-type"] == "text/plain"
    assert response.body == b"hi"


async def test_web_app_preset_allows_self_and_caching() -> None:
    """The web app preset allows same-origin resources, SAMEORIGIN framing, and sets no Cache-Control."""
    app = SecurityHeadersMiddleware(plain_app, SecurityHeadersConfig.web_app())
    headers = (await call(app, make_scope(scheme="https"))).headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "SAMEORIGIN"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "cache-control" not in headers


async def test_presets_take_overrides() -> None:
    """Preset constructors accept field overrides, including None to drop a header."""
    config = SecurityHeadersConfig.strict_api(x_frame_options=None, cache_control="no-cache")
    headers = (await call(SecurityHeadersMiddleware(plain_app, config), make_scope(scheme="https"))).headers
    assert "x-frame-options" not in headers
    assert headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    ("scheme", "hsts_on_http", "sent"),
    [("https", False, True), ("http", False, False), ("http", True, True)],
)
async def test_hsts_only_over_https_unless_asked(scheme: str, hsts_on_http: bool, sent: bool) -> None:
    """HSTS is sent on https only (RFC 6797 §7.2), or on http too when hsts_on_http is set."""
    config = SecurityHeadersConfig.strict_api(hsts_on_http=hsts_on_http)
    headers = (await call(SecurityHeadersMiddleware(plain_app, config), make_scope(scheme=scheme))).headers
    assert ("strict-transport-security" in headers) is sent
    assert headers["x-content-type-options"] == "nosniff"


async def test_the_apps_own_headers_win() -> None:
    """A header the app set itself (any case) is kept and not duplicated."""

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        headers = [(b"Cache-Control", b"max-age=60"), (b"content-security-policy", b"default-src 'self'")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    response = await call(SecurityHeadersMiddleware(app, SecurityHeadersConfig.strict_api()), make_scope())
    assert response.header_list("cache-control") == ["max-age=60"]
    assert response.header_list("content-security-policy") == ["default-src 'self'"]
    assert response.header_list("x-frame-options") == ["DENY"]


async def test_response_without_headers_gets_defaults_and_other_messages_pass_unchanged() -> None:
    """A start message without headers gets the defaults; body and unknown messages are forwarded as is."""
    trailer = {"type": "http.response.trailers", "headers": [], "more_trailers": False}

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await send(trailer)

    response = await call(SecurityHeadersMiddleware(app, SecurityHeadersConfig()), make_scope())
    assert response.headers == {"x-content-type-options": "nosniff"}
    assert response.messages[1:] == [{"type": "http.response.body", "body": b"", "more_body": True}, trailer]


async def test_extra_headers_are_sent_lower_cased() -> None:
    """extra_headers pairs are sent like the named ones."""
    config = SecurityHeadersConfig(extra_headers=(("X-Permitted-Cross-Domain-Policies", "none"),))
    headers = (await call(SecurityHeadersMiddleware(plain_app, config), make_scope())).headers
    assert headers["x-permitted-cross-domain-policies"] == "none"


async def test_security_txt_is_served_with_headers() -> None:
    """GET /.well-known/security.txt returns the RFC 9116 fields as text/plain, with the security headers."""
    config = SecurityHeadersConfig.strict_api(security_txt=TXT)
    response = await call(SecurityHeadersMiddleware(plain_app, config), make_scope(path=SECURITY_TXT_PATH))
    assert response.status == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["cache-control"] == "max-age=86400"  # its own Cache-Control beats no-store
    assert response.headers["x-content-type-options"] == "nosniff"
    text = response.body.decode()
    assert text.splitlines() == [
        "Contact: mailto:security@example.org",
        "Contact: https://example.org/report",
        "Expires: 2027-01-01T00:00:00Z",
        "Encryption: https://example.org/pgp.asc",
        "Acknowledgments: https://example.org/thanks",
        "Preferred-Languages: en, fr",
        "Canonical: https://example.org/.well-known/security.txt",
        "Policy: https://example.org/policy",
        "Hiring: https://example.org/jobs",
    ]
    assert int(response.headers["content-length"]) == len(response.body)


async def test_security_txt_head_and_mounts() -> None:
    """HEAD gets headers without a body, and the path is matched below root_path."""
    config = SecurityHeadersConfig(
        security_txt=SecurityTxt(contact=("tel:+1-201-555-0123",), expires="2027-01-01T00:00:00+01:00")
    )
    app = SecurityHeadersMiddleware(plain_app, config)
    head = await call(app, make_scope("HEAD", SECURITY_TXT_PATH, root_path="/api"))
    assert head.status == 200
    assert head.body == b""
    assert int(head.headers["content-length"]) > 0


async def test_security_txt_other_methods_and_paths_reach_the_app() -> None:
    """POST to security.txt, other paths, and configs without security.txt all reach the app."""
    with_txt = SecurityHeadersMiddleware(plain_app, SecurityHeadersConfig(security_txt=TXT))
    without = SecurityHeadersMiddleware(plain_app, SecurityHeadersConfig())
    assert (await call(with_txt, make_scope("POST", SECURITY_TXT_PATH))).body == b"hi"
    assert (await call(with_txt, make_scope("GET", "/security.txt"))).body == b"hi"
    assert (await call(without, make_scope("GET", SECURITY_TXT_PATH))).body == b"hi"


async def test_websocket_and_lifespan_pass_straight_through() -> None:
    """Websocket and lifespan scopes reach the app with the original send, untouched."""
    seen: list[tuple[str, object]] = []
    recorder = MessageRecorder()

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append((scope["type"], send))
        await send({"type": f"{scope['type']}.probe"})

    middleware = SecurityHeadersMiddleware(app, SecurityHeadersConfig.strict_api(security_txt=TXT))
    ws = make_scope(type="websocket", path=SECURITY_TXT_PATH)
    await middleware(ws, None, recorder)  # type: ignore[arg-type]
    await middleware({"type": "lifespan"}, None, recorder)  # type: ignore[arg-type]
    assert seen == [("websocket", recorder), ("lifespan", recorder)]
    assert recorder.messages == [{"type": "websocket.probe"}, {"type": "lifespan.probe"}]
    assert "asgi_guard" not in ws


CONFIG_ERRORS = [
    ({"content_security_policy": "default-src 'self'\r\nSet-Cookie: x=1"}, "content_security_policy"),
    ({"content_security_policy": ""}, "content_security_policy"),
    ({"referrer_policy": "\u20ac"}, "referrer_policy"),
    ({"strict_transport_security": "includeSubDomains"}, "strict_transport_security"),
    ({"x_content_type_options": "sniff"}, "x_content_type_options"),
    ({"x_frame_options": "ALLOW-FROM https://x"}, "x_frame_options"),
    ({"referrer_policy": "no-referrer, bogus"}, "referrer_policy"),
    ({"extra_headers": "x-a: b"}, "extra_headers"),
    ({"extra_headers": (("x-a",),)}, "extra_headers[0]"),
    ({"extra_headers": (("bad name", "v"),)}, "extra_headers[0]"),
    ({"extra_headers": (("X-Frame-Options", "DENY"),)}, "extra_headers[0]"),
    ({"extra_headers": (("x-a", "b\n"),)}, "extra_headers[0]"),
    ({"security_txt": "Contact: x"}, "security_txt"),
]


@pytest.mark.parametrize(("kwargs", "where"), CONFIG_ERRORS)
def test_header_config_errors_name_the_field(kwargs: dict[str, object], where: str) -> None:
    """Injected CR/LF, empty values, malformed HSTS/XFO/Referrer-Policy and bad extras are refused at construction."""
    with pytest.raises(ConfigurationError, match=re.escape(f"- at `SecurityHeadersConfig.{where}`")):
        SecurityHeadersConfig(**kwargs)  # type: ignore[arg-type]


def test_hsts_accepts_quoted_max_age_and_any_directive_order() -> None:
    """HSTS with directives in any order and a quoted max-age is accepted."""
    config = SecurityHeadersConfig(strict_transport_security='includeSubDomains; max-age="31536000"; preload')
    assert config.strict_transport_security is not None


TXT_ERRORS = [
    ({"contact": (), "expires": "2027-01-01T00:00:00Z"}, "contact"),
    ({"contact": "mailto:a@b", "expires": "2027-01-01T00:00:00Z"}, "contact"),
    ({"contact": ("http://insecure.example",), "expires": "2027-01-01T00:00:00Z"}, "contact[0]"),
    ({"contact": ("mailto:a@b\r\nContact: x",), "expires": "2027-01-01T00:00:00Z"}, "contact[0]"),
    ({"contact": ("mailto:a@b",), "expires": "2027-01-01"}, "expires"),
    ({"contact": ("mailto:a@b",), "expires": "next year"}, "expires"),
    ({"contact": ("mailto:a@b",), "expires": ""}, "expires"),
    ({"contact": ("mailto:a@b",), "expires": "2027-01-01T00:00:00Z", "policy": ("mailto:a@b",)}, "policy[0]"),
    (
        {"contact": ("mailto:a@b",), "expires": "2027-01-01T00:00:00Z", "preferred_languages": "en"},
        "preferred_languages",
    ),
    (
        {"contact": ("mailto:a@b",), "expires": "2027-01-01T00:00:00Z", "preferred_languages": ("en, fr",)},
        "preferred_languages[0]",
    ),
]


@pytest.mark.parametrize(("kwargs", "where"), TXT_ERRORS)
def test_security_txt_errors_name_the_field(kwargs: dict[str, object], where: str) -> None:
    """Missing contact, bad URIs, a zone-less or malformed Expires and bad language tags are refused."""
    with pytest.raises(ConfigurationError, match=re.escape(f"- at `SecurityTxt.{where}`")):
        SecurityTxt(**kwargs)  # type: ignore[arg-type]


async def test_guard_and_starlette_middleware() -> None:
    """guard(...) and Starlette's Middleware(...) both install the layer around a real app."""

    async def home(request):  # type: ignore[no-untyped-def]
        return JSONResponse({"ok": True})

    starlette_app = Starlette(
        routes=[Route("/", home)],
        middleware=[Middleware(SecurityHeadersMiddleware, config=SecurityHeadersConfig.strict_api())],
    )
    guarded = guard(PlainTextResponse("x"), SecurityHeadersConfig.web_app())
    for app, expected in ((starlette_app, "DENY"), (guarded, "SAMEORIGIN")):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
            response = await client.get("/")
        assert response.headers["x-frame-options"] == expected
        assert response.headers["strict-transport-security"] == HSTS_TWO_YEARS


async def test_fastapi_add_middleware() -> None:
    """FastAPI's add_middleware installs the layer; FastAPI's own responses get the headers."""
    app = FastAPI()

    @app.get("/items")
    async def items() -> dict[str, int]:
        return {"n": 1}

    app.add_middleware(SecurityHeadersMiddleware, config=SecurityHeadersConfig.strict_api(security_txt=TXT))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        items_response = await client.get("/items")
        txt = await client.get(SECURITY_TXT_PATH)
    assert items_response.json() == {"n": 1}
    assert items_response.headers["cache-control"] == "no-store"
    assert txt.text.startswith("Contact: mailto:security@example.org\n")


async def test_litestar_define_middleware() -> None:
    """Litestar's DefineMiddleware (which passes app by keyword) installs the layer."""

    @get("/")
    async def index() -> dict[str, str]:
        return {"ok": "yes"}

    app = Litestar(
        route_handlers=[index],
        logging_config=None,
        middleware=[DefineMiddleware(SecurityHeadersMiddleware, config=SecurityHeadersConfig.strict_api())],
    )
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/")
    assert response.json() == {"ok": "yes"}
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["permissions-policy"].startswith("accelerometer=()")
