"""Client address resolution behind trusted proxies (X-Forwarded-For and RFC 7239 Forwarded)."""

from __future__ import annotations

import ipaddress
import re

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar import Litestar, get
from litestar import Request as LitestarRequest
from litestar.middleware import DefineMiddleware
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from uvicorn.middleware.proxy_headers import _TrustedHosts

from asgi_guard.clientip import ClientIPConfig, ClientIPMiddleware
from asgi_guard.compose import guard
from asgi_guard.context import GuardContext, client_host, get_context
from asgi_guard.errors import ConfigurationError
from asgi_guard.testing import call, make_scope

pytestmark = pytest.mark.anyio

PROXIES = ("10.0.0.0/8", "2001:db8:ffff::/48", "127.0.0.1")
PROXY = "10.0.0.1"


async def _seen(app_config: ClientIPConfig, scope: dict[str, object]) -> str:
    """Run the middleware on ``scope`` and return what the app saw as the client ip."""
    seen: list[str] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(get_context(scope).client_ip)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    await call(ClientIPMiddleware(app, app_config), scope)
    return seen[0]


XFF_CASES = [
    # (peer, X-Forwarded-For, expected)
    pytest.param("203.0.113.9", "198.51.100.7", "203.0.113.9", id="untrusted-peer-header-ignored"),
    pytest.param(PROXY, "198.51.100.7", "198.51.100.7", id="one-proxy"),
    pytest.param(PROXY, "6.6.6.6, 198.51.100.7, 10.1.2.3", "198.51.100.7", id="walk-right-to-left"),
    pytest.param(PROXY, "198.51.100.7:5555", "198.51.100.7", id="ipv4-with-port"),
    pytest.param(PROXY, "[2001:db8:1:2:3::4]:443", "2001:db8:1:2::", id="bracketed-ipv6-port-masked"),
    pytest.param(PROXY, "2001:db8:1:2:3::4", "2001:db8:1:2::", id="bare-ipv6-masked"),
    pytest.param(PROXY, "::ffff:198.51.100.7", "198.51.100.7", id="ipv4-mapped"),
    pytest.param(PROXY, "10.2.2.2, 10.3.3.3", "10.2.2.2", id="all-trusted-leftmost"),
    pytest.param(PROXY, "198.51.100.7, garbage", PROXY, id="malformed-stops-at-nearest-trusted"),
    pytest.param(PROXY, "198.51.100.7, 10.3.3.3, unknown", PROXY, id="unknown-stops"),
    pytest.param(PROXY, "198.51.100.7, 10.3.3.3, [::1", PROXY, id="unclosed-bracket"),
    pytest.param(PROXY, "198.51.100.7, 10.3.3.3:99x", PROXY, id="bad-port"),
    pytest.param(PROXY, "1.2.3.4, 10.3.3.3, junk", PROXY, id="junk-after-trusted"),
    pytest.param(PROXY, "1.2.3.4, junk, 10.3.3.3", "10.3.3.3", id="junk-behind-trusted-hop"),
    pytest.param(PROXY, "", PROXY, id="empty-header"),
    pytest.param(PROXY, "198.51.100.7, ", PROXY, id="trailing-comma"),
    pytest.param(PROXY, "x" * 500, PROXY, id="overlong-hop"),
    pytest.param(PROXY, "198.51.100.7, fe80::1%\nforged", PROXY, id="zone-id-refused"),
    pytest.param("::ffff:10.0.0.1", "198.51.100.7", "198.51.100.7", id="mapped-peer-trusted"),
    pytest.param("2001:db8:ffff::1", "198.51.100.7", "198.51.100.7", id="ipv6-proxy"),
]


@pytest.mark.parametrize(("peer", "header", "expected"), XFF_CASES)
async def test_x_forwarded_for(peer: str, header: str, expected: str) -> None:
    """X-Forwarded-For is walked right to left from a trusted peer and ignored from others."""
    scope = make_scope(headers={"x-forwarded-for": header}, client=(peer, 1234))
    assert await _seen(ClientIPConfig(trusted_proxies=PROXIES), scope) == expected


async def test_repeated_x_forwarded_for_headers_are_one_list() -> None:
    """Several X-Forwarded-For header lines are read as one comma-separated list, in order."""
    scope = make_scope(
        headers=[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.7, 10.9.9.9")],
        client=(PROXY, 1),
    )
    assert await _seen(ClientIPConfig(trusted_proxies=PROXIES), scope) == "198.51.100.7"


FORWARDED_CASES = [
    pytest.param("for=198.51.100.7", "198.51.100.7", id="plain"),
    pytest.param('For="198.51.100.7:80";proto=https', "198.51.100.7", id="quoted-port-case"),
    pytest.param('for="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::", id="quoted-bracketed-ipv6"),
    pytest.param("for=6.6.6.6, for=198.51.100.7;by=10.0.0.1, for=10.4.4.4", "198.51.100.7", id="chain"),
    pytest.param('for="1.1.1.1, x";proto=http, for=198.51.100.7', "198.51.100.7", id="comma-inside-quotes"),
    pytest.param("for=unknown", PROXY, id="unknown"),
    pytest.param("for=_hidden", PROXY, id="obfuscated"),
    pytest.param("proto=https", PROXY, id="element-without-for"),
    pytest.param("for=1.1.1.1;for=2.2.2.2", PROXY, id="repeated-for"),
    pytest.param('for="1.1.1.1', PROXY, id="unterminated-quote"),
    pytest.param('for="1.1"1.1"', PROXY, id="quote-inside-quoted"),
    pytest.param('for="1.1.1.1\\', PROXY, id="dangling-escape"),
    pytest.param('for="1.1.1.1\\"', PROXY, id="escaped-closing-quote"),
    pytest.param('for="\\1.1.1.1"', "1.1.1.1", id="escaped-char"),
    pytest.param("for=", PROXY, id="empty-value"),
    pytest.param("garbage", PROXY, id="not-a-pair"),
    pytest.param('for=1.2.3.4;by=""', "1.2.3.4", id="empty-quoted-other-param"),
    pytest.param("for=1.2.3.4; ;proto=http", "1.2.3.4", id="empty-pair-tolerated"),
]


@pytest.mark.parametrize(("header", "expected"), FORWARDED_CASES)
async def test_forwarded(header: str, expected: str) -> None:
    """RFC 7239 Forwarded elements are parsed with quoting and walked right to left."""
    config = ClientIPConfig(trusted_proxies=PROXIES, header="forwarded")
    scope = make_scope(headers={"forwarded": header}, client=(PROXY, 1))
    assert await _seen(config, scope) == expected


async def test_only_the_configured_header_is_read() -> None:
    """With header="forwarded", an X-Forwarded-For header (which a proxy may pass through) is ignored."""
    config = ClientIPConfig(trusted_proxies=PROXIES, header="forwarded")
    scope = make_scope(headers={"x-forwarded-for": "198.51.100.7"}, client=(PROXY, 1))
    assert await _seen(config, scope) == PROXY


async def test_empty_trusted_proxies_trusts_nobody() -> None:
    """An empty trusted_proxies tuple means the peer address is always the client."""
    scope = make_scope(headers={"x-forwarded-for": "198.51.100.7"}, client=("127.0.0.1", 1))
    assert await _seen(ClientIPConfig(trusted_proxies=()), scope) == "127.0.0.1"


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [(None, "2001:db8:1:2:3:4:5:6"), (128, "2001:db8:1:2:3:4:5:6"), (48, "2001:db8:1::"), (64, "2001:db8:1:2::")],
)
async def test_ipv6_prefix_masks_for_keying(prefix: int | None, expected: str) -> None:
    """IPv6 clients are masked to ipv6_prefix (None or 128 keep the full address); IPv4 never is."""
    config = ClientIPConfig(trusted_proxies=(), ipv6_prefix=prefix)
    assert await _seen(config, make_scope(client=("2001:db8:1:2:3:4:5:6", 1))) == expected
    assert await _seen(config, make_scope(client=("198.51.100.7", 1))) == "198.51.100.7"


@pytest.mark.parametrize(
    ("client", "expected"),
    [(None, ""), (("/run/app.sock", 0), "invalid"), (("testclient", 50000), "invalid")],
)
async def test_peer_that_is_not_an_address_is_never_trusted(client: tuple[str, int] | None, expected: str) -> None:
    """A missing peer gives "" and a non-IP peer (unix socket, test client) the placeholder, never trusted."""
    scope = make_scope(headers={"x-forwarded-for": "198.51.100.7"}, client=client)
    assert await _seen(ClientIPConfig(trusted_proxies=("0.0.0.0/0",)), scope) == expected


async def test_websocket_scope_gets_client_ip_and_lifespan_passes_untouched() -> None:
    """Websocket scopes are resolved like HTTP; lifespan scopes reach the app with no context added."""
    config = ClientIPConfig(trusted_proxies=PROXIES)
    seen: list[dict[str, object]] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(dict(scope))

    middleware = ClientIPMiddleware(app, config)
    ws = make_scope(type="websocket", headers={"x-forwarded-for": "198.51.100.7"}, client=(PROXY, 1))
    await middleware(ws, None, None)  # type: ignore[arg-type]
    assert client_host(ws) == "198.51.100.7"
    lifespan = {"type": "lifespan", "asgi": {"version": "3.0"}}

    async def receive() -> dict[str, str]:
        return {"type": "lifespan.startup"}

    async def send(message: object) -> None:
        raise AssertionError("nothing to send")

    await middleware(lifespan, receive, send)
    assert seen[-1] == {"type": "lifespan", "asgi": {"version": "3.0"}}


def test_resolve_does_not_modify_the_scope() -> None:
    """resolve() reports the client without rewriting scope["client"]."""
    middleware = ClientIPMiddleware(lambda *_: None, ClientIPConfig(trusted_proxies=PROXIES))  # type: ignore[arg-type,return-value]
    scope = make_scope(headers={"x-forwarded-for": "198.51.100.7"}, client=(PROXY, 1))
    assert middleware.resolve(scope) == "198.51.100.7"
    assert scope["client"] == (PROXY, 1)
    assert GuardContext.from_scope(scope).client_ip == ""


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"trusted_proxies": "10.0.0.0/8"}, "trusted_proxies"),
        ({"trusted_proxies": None}, "trusted_proxies"),
        ({"trusted_proxies": ("10.0.0.1/8",)}, "trusted_proxies[0]"),
        ({"trusted_proxies": ("not-an-ip",)}, "trusted_proxies[0]"),
        ({"trusted_proxies": (10,)}, "trusted_proxies[0]"),
        ({"trusted_proxies": (), "header": "x-real-ip"}, "header"),
        ({"trusted_proxies": (), "ipv6_prefix": 0}, "ipv6_prefix"),
        ({"trusted_proxies": (), "ipv6_prefix": 129}, "ipv6_prefix"),
        ({"trusted_proxies": (), "ipv6_prefix": True}, "ipv6_prefix"),
        ({"trusted_proxies": (), "ipv6_prefix": "64"}, "ipv6_prefix"),
    ],
)
def test_config_errors_name_the_field(kwargs: dict[str, object], where: str) -> None:
    """Bad configs raise ConfigurationError naming the offending field."""
    with pytest.raises(ConfigurationError, match=re.escape(f"- at `ClientIPConfig.{where}`")):
        ClientIPConfig(**kwargs)  # type: ignore[arg-type]


def test_trusted_proxies_is_required() -> None:
    """There is no default trusted-proxy list: it must be given explicitly."""
    with pytest.raises(TypeError, match="trusted_proxies"):
        ClientIPConfig()  # type: ignore[call-arg]


HEADER_BYTES = st.binary(max_size=200) | st.lists(
    st.sampled_from([b"for=", b'"', b"[", b"]", b":", b",", b";", b"\\", b"1.2.3.4", b"::1", b"10.0.0.2", b" "]),
    max_size=30,
).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(value=HEADER_BYTES, forwarded=st.booleans(), peer=st.sampled_from([PROXY, "8.8.8.8", "::1", "junk"]))
def test_no_header_bytes_make_resolution_raise(value: bytes, forwarded: bool, peer: str) -> None:
    """For any header bytes the resolver returns the peer or a valid address, and never raises."""
    header = "forwarded" if forwarded else "x-forwarded-for"
    config = ClientIPConfig(trusted_proxies=(*PROXIES, "::1"), header=header, ipv6_prefix=None)
    middleware = ClientIPMiddleware(lambda *_: None, config)  # type: ignore[arg-type,return-value]
    scope = make_scope(headers=[(header.encode(), value)], client=(peer, 1))
    result = middleware.resolve(scope)
    assert result == "invalid" if peer == "junk" else ipaddress.ip_address(result)
    assert result.isprintable()


async def test_guard_layer_composes_and_serves_through_httpx() -> None:
    """guard(app, ClientIPConfig(...)) installs the layer and the app sees the resolved client."""

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        body = get_context(scope).client_ip.encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    wrapped = guard(app, ClientIPConfig(trusted_proxies=("10.0.0.0/8",)))
    transport = httpx.ASGITransport(app=wrapped, client=(PROXY, 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/", headers={"x-forwarded-for": "198.51.100.7"})
    assert response.text == "198.51.100.7"


async def test_starlette_fastapi_and_litestar_integration() -> None:
    """Starlette Middleware, FastAPI add_middleware and Litestar DefineMiddleware all install the layer."""
    config = ClientIPConfig(trusted_proxies=("127.0.0.0/8",))

    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse(client_host(request.scope))

    starlette_app = Starlette(routes=[Route("/", home)], middleware=[Middleware(ClientIPMiddleware, config=config)])
    fastapi_app = FastAPI()
    fastapi_app.add_api_route("/", home)
    fastapi_app.add_middleware(ClientIPMiddleware, config=config)
    answers = []
    for app in (starlette_app, fastapi_app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers.append((await client.get("/", headers={"x-forwarded-for": "198.51.100.7"})).text)

    @get("/")
    async def index(request: LitestarRequest) -> str:  # type: ignore[type-arg]
        return client_host(request.scope)

    litestar_app = Litestar(
        route_handlers=[index], logging_config=None, middleware=[DefineMiddleware(ClientIPMiddleware, config=config)]
    )
    # Litestar's own test client connects as "testclient", not an address: use a loopback peer instead.
    transport = httpx.ASGITransport(app=litestar_app, client=("127.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answers.append((await client.get("/", headers={"x-forwarded-for": "198.51.100.8"})).text)
    assert answers == ["198.51.100.7", "198.51.100.7", "198.51.100.8"]


async def test_ipv4_mapped_proxy_entries_match_ipv4_peers() -> None:
    """A trusted proxy written as ::ffff:a.b.c.d (or a mapped /104) trusts that IPv4 peer, however it is spelled."""
    config = ClientIPConfig(trusted_proxies=("::ffff:10.0.0.0/104", "::ffff:192.0.2.1"))
    for peer in ("10.1.2.3", "::ffff:10.1.2.3", "192.0.2.1"):
        scope = make_scope(headers={"x-forwarded-for": "198.51.100.7"}, client=(peer, 1))
        assert await _seen(config, scope) == "198.51.100.7"
    scope = make_scope(headers={"x-forwarded-for": "198.51.100.7"}, client=("192.0.2.2", 1))
    assert await _seen(config, scope) == "192.0.2.2"


# Differential oracle: uvicorn's own trusted-proxy walk (uvicorn.middleware.proxy_headers._TrustedHosts).
# For well-formed hops our answer must be the same; we differ on purpose only for malformed hops
# (uvicorn returns the junk text, we stop at the nearest trusted hop) and on IPv4-mapped spellings.
UVICORN_TRUSTED = ["10.0.0.0/8", "127.0.0.1", "2001:db8:abcd:12::/64"]
HOP_POOL = st.sampled_from(
    ["10.0.0.1", "10.200.3.4", "127.0.0.1", "127.0.0.2", "198.51.100.7", "203.0.113.9", "2001:db8:abcd:12::9", "::1"]
)


@settings(max_examples=300, deadline=None)
@given(peer=HOP_POOL, hops=st.lists(HOP_POOL, min_size=1, max_size=6))
def test_walk_agrees_with_uvicorn(peer: str, hops: list[str]) -> None:
    """For well-formed X-Forwarded-For chains the resolved client equals uvicorn's trusted-host walk."""
    oracle = _TrustedHosts(UVICORN_TRUSTED)
    expected = oracle.get_trusted_client_address(", ".join(hops))[0] if peer in oracle else peer
    config = ClientIPConfig(trusted_proxies=tuple(UVICORN_TRUSTED), ipv6_prefix=None)
    middleware = ClientIPMiddleware(lambda *_: None, config)  # type: ignore[arg-type,return-value]
    scope = make_scope(headers={"x-forwarded-for": ", ".join(hops)}, client=(peer, 1))
    assert middleware.resolve(scope) == expected


async def test_invalid_peer_becomes_a_placeholder_with_a_security_event() -> None:
    """Issue 11 item 1: a peer that is not an IP address (a server let a header rewrite it) is never
    used or logged as it is: the context gets "invalid" and a client_ip_invalid event fingerprints it."""
    from asgi_guard.events.emit import fingerprint

    text = "attacker-chosen text\r\nforged: line"
    scope = make_scope(client=(text, 0))
    assert await _seen(ClientIPConfig(trusted_proxies=()), scope) == "invalid"
    [event] = get_context(scope).events
    assert (event.type, event.result, event.reason) == ("client_ip_invalid", "alert", "peer_not_an_ip_address")
    assert event.client_ip == "invalid"
    assert event.extra == {"peer_fingerprint": fingerprint(text)}
    assert "attacker" not in repr(event)


async def test_without_the_layer_a_non_address_peer_is_one_placeholder_key_and_log_field() -> None:
    """Without ClientIPConfig the rate limiter and the security log read the peer directly: a non-address
    peer is the placeholder there too, so forged texts share one bucket and never reach the log."""
    from asgi_guard.ratelimit import Limit, RateLimitConfig, RateLimitMiddleware

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    limited = RateLimitMiddleware(app, RateLimitConfig(limits=(Limit(name="ip", rate="1/minute"),)))
    first = make_scope(client=("forged-a", 0))
    second = make_scope(client=("forged-b", 0))
    assert (await call(limited, first)).status == 204
    assert (await call(limited, second)).status == 429
    [event] = get_context(second).events
    assert event.client_ip == "invalid"
