"""The login app mounted in Starlette, FastAPI, Litestar and a raw ASGI app, each served by uvicorn;
and the browser flavour: the session in cookies (asgi_guard.sessions), refreshed and logged out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from litestar import Litestar, asgi
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from asgi_guard import AuthConfig, JWTAuth, KeyRing, MemoryRevocationStore, TokenService, get_principal, guard
from asgi_guard.oauth import OAuthApp, OAuthConfig, ProviderIdentity, SessionUser
from asgi_guard.oauth.local import LocalProvider
from asgi_guard.sessions import InsecureSessionWarning, SessionCookies
from asgi_guard.types import ASGIApp, Receive, Scope, Send
from tests.oauth.conftest import CLIENT_ID, CLIENT_SECRET, FLOW_SECRET
from tests.servers import UvicornThread, free_port

pytestmark = [pytest.mark.anyio, pytest.mark.server]

KEYRING = KeyRing.single("k" * 48, kid="f1")


async def _on_login(identity: ProviderIdentity) -> SessionUser:
    return SessionUser(id=f"twitch:{identity.subject}", username=identity.username, roles=("user",))


def _login_app(base: str, **options: Any) -> tuple[OAuthApp, LocalProvider, TokenService]:
    idp = LocalProvider(
        "twitch",
        f"{base}/idp",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=(f"{base}/auth/twitch/callback",),
    )
    tokens = TokenService(KEYRING, MemoryRevocationStore())
    config = OAuthConfig(
        providers=(idp.provider(),),
        public_url=f"{base}/auth",
        flow_secret=FLOW_SECRET,
        on_login=_on_login,
        tokens=tokens,
        secure_cookies=False,
        **options,
    )
    return OAuthApp(config), idp, tokens


def _starlette(login: ASGIApp, idp: ASGIApp) -> ASGIApp:
    return Starlette(routes=[Mount("/auth", app=login), Mount("/idp", app=idp)])


def _fastapi(login: ASGIApp, idp: ASGIApp) -> ASGIApp:
    app = FastAPI()
    app.mount("/auth", login)
    app.mount("/idp", idp)
    return app


def _litestar(login: ASGIApp, idp: ASGIApp) -> ASGIApp:
    @asgi("/auth", is_mount=True, copy_scope=True)
    async def auth(scope: Any, receive: Any, send: Any) -> None:
        await login(scope, receive, send)

    @asgi("/idp", is_mount=True, copy_scope=True)
    async def provider(scope: Any, receive: Any, send: Any) -> None:
        # Litestar's mounts add a trailing slash; the stand-in provider's routes have none.
        await idp({**scope, "path": scope["path"].rstrip("/")}, receive, send)

    return Litestar(route_handlers=[auth, provider])


def _raw(login: ASGIApp, idp: ASGIApp) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for prefix, target in (("/auth", login), ("/idp", idp)):
            if scope["path"].startswith(prefix + "/"):
                await target({**scope, "root_path": scope.get("root_path", "") + prefix}, receive, send)
                return
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


FRAMEWORKS: dict[str, Callable[[ASGIApp, ASGIApp], ASGIApp]] = {
    "starlette": _starlette,
    "fastapi": _fastapi,
    "litestar": _litestar,
    "raw": _raw,
}


async def _browser_login(client: httpx.AsyncClient, next_path: str = "/app") -> httpx.Response:
    start = await client.get("/auth/twitch/login", params={"next": next_path})
    assert start.status_code == 302, start.text
    authorize = start.headers["location"]
    assert (await client.get(authorize)).status_code == 200
    approved = await client.post(authorize, data={"decision": "approve"})
    assert approved.status_code == 302, approved.text
    return await client.get(approved.headers["location"])


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
async def test_login_app_mounted_in_each_framework(framework: str) -> None:
    """Mounted at /auth in each framework, the whole flow ends in our session (JSON flavour)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    login, idp, tokens = _login_app(base)
    with UvicornThread(FRAMEWORKS[framework](login, idp.app), port=port):
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            response = await _browser_login(client)
    assert response.status_code == 200, response.text
    verified = await tokens.verify(response.json()["access_token"])
    assert verified.claims["sub"] == "twitch:141981764"


@pytest.fixture
def cookie_site() -> Iterator[tuple[str, TokenService]]:
    """A Starlette site: the login app in cookie mode at /auth, a profile page authenticated by the cookie."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with pytest.warns(InsecureSessionWarning):
        cookies = SessionCookies.development(refresh_path="/auth")
    login, idp, tokens = _login_app(base, session="cookies", session_cookies=cookies, allowed_next=("/profile",))

    async def profile(request: Request) -> JSONResponse:
        return JSONResponse({"id": get_principal(request).id})

    site = Starlette(routes=[Mount("/auth", app=login), Mount("/idp", app=idp.app), Route("/profile", profile)])
    auth = AuthConfig(
        jwt=JWTAuth(keyring=KEYRING, revocation=tokens.revocation, issuer=None, audience=None),
        session=cookies,
        exclude=("/auth/{rest:path}", "/idp/{rest:path}"),
    )
    with UvicornThread(guard(site, auth), port=port):
        yield base, tokens


async def test_cookie_session_login_refresh_logout(cookie_site: tuple[str, TokenService]) -> None:
    """Browser flavour: the callback sets the session cookies and redirects to next; refresh rotates them;
    logout revokes and clears them, after which the profile page is 401."""
    base, _ = cookie_site
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        callback = await _browser_login(client, "/profile")
        assert callback.status_code == 303, callback.text
        assert callback.headers["location"] == "/profile"
        set_cookies = callback.headers.get_list("set-cookie")
        assert any(cookie.startswith("session=") and "HttpOnly" in cookie for cookie in set_cookies)
        assert "access_token" not in callback.text
        profile = await client.get("/profile")
        assert profile.status_code == 200
        assert profile.json()["id"] == "twitch:141981764"
        refreshed = await client.post("/auth/refresh")
        assert refreshed.status_code == 200
        assert "refresh_token" not in refreshed.text
        assert (await client.get("/profile")).status_code == 200
        logout = await client.post("/auth/logout", headers={"Accept": "text/html"})
        assert logout.status_code == 303
        assert (await client.get("/profile")).status_code == 401
        again = await client.post("/auth/refresh")
    assert again.status_code == 401
