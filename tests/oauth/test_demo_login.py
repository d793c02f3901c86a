"""The demo's OAuth login: each provider's button works against its bundled local identity provider,
through the demo's whole stack; client ids in the environment switch a provider to the real one."""

from __future__ import annotations

import re

import httpx
import httpx2
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from asgi_guard.auth import KeyRing, MemoryRevocationStore, TokenService
from asgi_guard.demo import build_demo
from asgi_guard.demo.oauth import PROVIDERS, _LocalFirst, demo_login
from asgi_guard.sessions import SessionCookies
from tests.servers import UvicornThread

pytestmark = pytest.mark.anyio

BASE = "https://127.0.0.1:8000"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_demo_login_with_each_bundled_provider(provider: str) -> None:
    """Login page button -> local provider consent -> callback -> the board, signed in by session cookie."""
    demo = build_demo(public_url=BASE)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=demo.app), base_url=BASE) as client:
        home = await client.get("/")
        assert f"id='login-{provider}'" in home.text
        start = await client.get(f"/auth/{provider}/login", params={"next": "/app"})
        assert start.status_code == 302, start.text
        authorize = start.headers["location"]
        assert authorize.startswith(f"{BASE}/idp/{provider}/")
        consent = await client.get(authorize)
        assert consent.status_code == 200
        assert "Local" in consent.text
        approved = await client.post(authorize, data={"decision": "approve"})
        assert approved.status_code == 302, approved.text
        callback = await client.get(approved.headers["location"])
        assert callback.status_code == 303, callback.text
        assert callback.headers["location"] == "/app"
        assert "__Host-session" in client.cookies
        board = await client.get("/app")
        assert board.status_code == 200
        assert "streamer" in board.text.lower()  # the login (Twitch, Discord) or the name (Slack, Google)
        store = demo.extra["login"].app.provider_tokens.store
        kept = await store.get(f"{provider}:141981764", provider)
        assert kept is not None
        # Logging out (the board's CSRF-protected form) revokes the provider tokens at the provider too.
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', board.text)
        assert csrf is not None
        logout = await client.post("/auth/logout", data={"csrf_token": csrf.group(1)})
    assert logout.status_code == 303
    assert await store.get(f"{provider}:141981764", provider) is None
    assert kept.access_token in demo.extra["login"].local[provider].revoked


def test_environment_switches_to_the_real_provider() -> None:
    """With a client id and secret in the environment, a provider points at the real endpoints."""
    tokens = TokenService(KeyRing.single("k" * 48), MemoryRevocationStore())
    environ = {"ASGI_GUARD_DEMO_TWITCH_CLIENT_ID": "abc", "ASGI_GUARD_DEMO_TWITCH_CLIENT_SECRET": "def"}
    for name in ("DISCORD", "SLACK", "GOOGLE"):
        environ[f"ASGI_GUARD_DEMO_{name}_CLIENT_ID"] = "id"
        environ[f"ASGI_GUARD_DEMO_{name}_CLIENT_SECRET"] = "secret"
    login = demo_login(BASE, tokens, SessionCookies(), environ=environ)
    assert login.real == PROVIDERS
    assert not login.local
    assert login.app.clients["twitch"].provider.authorize_url == "https://id.twitch.tv/oauth2/authorize"
    assert login.app.clients["google"].provider.token_url == "https://oauth2.googleapis.com/token"


async def test_back_channel_reaches_local_providers_in_process_and_others_over_the_network() -> None:
    """The demo's transport answers /idp/ in-process and sends anything else to the network."""

    async def hello(request: object) -> PlainTextResponse:
        return PlainTextResponse("network")

    local = httpx2.ASGITransport(app=Starlette(routes=[Route("/idp/x", hello)]))
    transport = _LocalFirst("http://in.process/idp/", local)
    with UvicornThread(Starlette(routes=[Route("/", hello)])) as server:
        async with httpx2.AsyncClient(transport=transport) as client:
            assert (await client.get("http://in.process/idp/x")).text == "network"
            assert (await client.get(server.url + "/")).status_code == 200
