"""A real authorization server per provider (authlib's server components) and our login app, on uvicorn.

One uvicorn server per test module serves, on loopback: the four bundled local providers (Twitch,
Discord, Slack, Google shapes) under ``/idp/<name>``, a few deliberately broken endpoints under
``/faults``, and our login app under ``/auth``. Tests drive the whole flow over real HTTP with httpx
(cookies kept, redirects followed by hand so each hop can be checked).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import httpx2
import msgspec
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from asgi_guard.auth import KeyRing, MemoryRevocationStore, TokenService
from asgi_guard.events import Emitter, EventsConfig, EventsMiddleware, SecurityEvent
from asgi_guard.oauth import (
    DiscoveryDocument,
    JWKSCache,
    OAuthApp,
    OAuthConfig,
    ProviderClient,
    ProviderIdentity,
    ProviderTokens,
    SessionUser,
    generic_oauth2,
    generic_oidc,
)
from asgi_guard.oauth.local import LocalProvider
from asgi_guard.provider_tokens import MemoryProviderTokenStore
from asgi_guard.sealing import SealingKeyRing
from tests.servers import UvicornThread, free_port

CLIENT_ID = "asgi-guard-test-client"
CLIENT_SECRET = "local-test-secret-0123456789"
FLOW_SECRET = b"f" * 32
FLAVORS = ("twitch", "discord", "slack", "google")
FAULTS = ("down500", "slow", "garbage", "deep", "unreachable")
RING = SealingKeyRing({"k1": b"k" * 32}, current="k1")


class TamperingProvider(LocalProvider):
    """A local provider whose id_tokens a test may rewrite (a hostile or broken provider)."""

    tamper: Callable[[str], str] | None = None

    def rewrite_id_token(self, id_token: str) -> str:
        return self.tamper(id_token) if self.tamper is not None else id_token


@dataclass
class Stack:
    """Everything a test needs: URLs, the providers, the login app, recorded events and logins."""

    base: str
    idps: dict[str, TamperingProvider]
    app: OAuthApp
    tokens: TokenService
    provider_tokens: ProviderTokens
    events: list[SecurityEvent] = field(default_factory=list)
    identities: list[ProviderIdentity] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base, timeout=10.0)

    def events_of(self, kind: str) -> list[SecurityEvent]:
        return [event for event in self.events if event.type == kind]

    async def start(self, client: httpx.AsyncClient, provider: str, **params: str) -> str:
        """``/login``: returns the provider's authorization URL (the flow cookie is now in ``client``)."""
        response = await client.get(f"/auth/{provider}/login", params=params)
        assert response.status_code == 302, response.text
        return response.headers["location"]

    async def approve(self, client: httpx.AsyncClient, authorize: str, decision: str = "approve") -> str:
        """At the provider: show the consent page, press the button; returns the callback URL."""
        page = await client.get(authorize)
        assert page.status_code == 200, page.text
        assert 'id="approve"' in page.text
        answer = await client.post(authorize, data={"decision": decision})
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]

    async def login(self, client: httpx.AsyncClient, provider: str = "twitch", **params: str) -> httpx.Response:
        """The whole browser flow; returns the callback's response."""
        callback = await self.approve(client, await self.start(client, provider, **params))
        return await client.get(callback)


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def _faults(base: str) -> Starlette:
    async def down(request: Request) -> Response:
        return PlainTextResponse("upstream error", status_code=500)

    async def slow(request: Request) -> Response:
        await asyncio.sleep(3)
        return PlainTextResponse("late")

    async def garbage(request: Request) -> Response:
        return PlainTextResponse("<html>not json</html>", status_code=200)

    async def deep(request: Request) -> Response:  # JSON nested past every parser's recursion limit
        return Response(b"[" * 100_000, media_type="application/json")

    return Starlette(
        routes=[
            Route("/deep", deep, methods=["GET", "POST"]),
            Route("/500", down, methods=["GET", "POST"]),
            Route("/slow", slow, methods=["GET", "POST"]),
            Route("/garbage", garbage, methods=["GET", "POST"]),
        ]
    )


def build_stack(port: int, **config: Any) -> tuple[Stack, Starlette]:
    base = f"http://127.0.0.1:{port}"
    callbacks = tuple(f"{base}/auth/{name}/callback" for name in (*FLAVORS, *FAULTS, "oidc", "oauth2"))
    idps = {
        name: TamperingProvider(
            name, f"{base}/idp/{name}", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=callbacks
        )
        for name in FLAVORS
    }
    twitch = idps["twitch"].provider()
    dead = f"http://127.0.0.1:{free_port()}"
    broken = (
        msgspec.structs.replace(twitch, name="down500", token_url=f"{base}/faults/500"),
        msgspec.structs.replace(twitch, name="slow", token_url=f"{base}/faults/slow"),
        msgspec.structs.replace(twitch, name="garbage", token_url=f"{base}/faults/garbage"),
        msgspec.structs.replace(twitch, name="deep", token_url=f"{base}/faults/deep"),
        msgspec.structs.replace(twitch, name="unreachable", token_url=f"{dead}/token"),
    )
    google, discord = idps["google"], idps["discord"]
    generic = (
        generic_oauth2(
            "oauth2",
            CLIENT_ID,
            CLIENT_SECRET,
            authorize_url=f"{discord.base_url}/oauth2/authorize",
            token_url=f"{discord.base_url}/api/oauth2/token",
            userinfo_url=f"{discord.base_url}/api/users/@me",
            scopes=("identify", "email"),
            revoke_url=f"{discord.base_url}/api/oauth2/token/revoke",
        ),
        generic_oidc(
            "oidc",
            CLIENT_ID,
            CLIENT_SECRET,
            DiscoveryDocument(
                issuer=google.issuer,
                authorization_endpoint=f"{google.base_url}/o/oauth2/v2/auth",
                token_endpoint=f"{google.base_url}/token",
                jwks_uri=f"{google.base_url}/oauth2/v3/certs",
                userinfo_endpoint=f"{google.base_url}/v1/userinfo",
                code_challenge_methods_supported=["S256"],
                token_endpoint_auth_methods_supported=["client_secret_post"],
                id_token_signing_alg_values_supported=["RS256", "HS256", "none"],
            ),
        ),
    )
    tokens = TokenService(KeyRing.single("s" * 48, kid="t1"), MemoryRevocationStore(), issuer="test", audience="api")
    stack_ref: list[Stack] = []

    async def on_login(identity: ProviderIdentity) -> SessionUser | None:
        stack = stack_ref[0]
        stack.identities.append(identity)
        if identity.subject in stack.refuse:
            return None
        return SessionUser(
            id=f"{identity.provider}:{identity.subject}",
            username=identity.username,
            roles=("user",),
            communities=("42",),
        )

    options: dict[str, Any] = {
        "providers": (*(idp.provider() for idp in idps.values()), *broken, *generic),
        "public_url": f"{base}/auth",
        "flow_secret": FLOW_SECRET,
        "on_login": on_login,
        "tokens": tokens,
        "secure_cookies": False,
        "allowed_next": ("/app", "/profile"),
        "default_next": "/app",
        "timeout": 1.0,
        "provider_tokens": ProviderTokens(MemoryProviderTokenStore(RING)),
    }
    options.update(config)
    login_app = OAuthApp(OAuthConfig(**options))
    stack = Stack(base=base, idps=idps, app=login_app, tokens=tokens, provider_tokens=options["provider_tokens"])
    stack_ref.append(stack)
    stack.provider_tokens.emitter = Emitter((stack.events.append,))
    guarded = EventsMiddleware(login_app, EventsConfig(sinks=(stack.events.append,)))
    routes = [Mount(f"/idp/{name}", app=idp.app) for name, idp in idps.items()]
    routes += [Mount("/faults", app=_faults(base)), Mount("/auth", app=guarded)]
    return stack, Starlette(routes=routes)


@pytest.fixture
async def clients(stack: Stack) -> AsyncIterator[dict[str, ProviderClient]]:
    """Provider clients of the test's own event loop (the login app's belong to the server's loop)."""
    async with httpx2.AsyncClient(timeout=5.0) as http:
        jwks = JWKSCache(http)
        yield {
            name: ProviderClient(client.provider, http=http, jwks=jwks) for name, client in stack.app.clients.items()
        }


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Stack, UvicornThread]]:
    port = free_port()
    stack, app = build_stack(port)
    with UvicornThread(app, port=port) as server:
        yield stack, server


@pytest.fixture
async def stack(served: tuple[Stack, UvicornThread]) -> AsyncIterator[Stack]:
    """The module's stack with fresh event and identity records and no tampering."""
    current, _ = served
    current.events.clear()
    current.identities.clear()
    current.refuse.clear()
    for idp in current.idps.values():
        idp.tamper = None
    current.provider_tokens.store = MemoryProviderTokenStore(RING)
    return current
