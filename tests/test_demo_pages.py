"""The demo's browser pages over ASGI (the Chromium test drives them for real): login, board, refresh, logout."""

from __future__ import annotations

import httpx
import pytest

from asgi_guard.demo import build_demo

pytestmark = pytest.mark.anyio

SAME_ORIGIN = {"sec-fetch-site": "same-origin"}


def _client(app: object) -> httpx.AsyncClient:
    # https: httpx keeps Secure cookies for https only (the browser test covers http://127.0.0.1).
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://127.0.0.1:8000")  # type: ignore[arg-type]


async def test_login_board_refresh_logout() -> None:
    """A form login sets both cookies; the board renders tokens; refresh rotates; logout revokes and clears."""
    demo = build_demo()
    async with _client(demo.app) as client:
        home = await client.get("/")
        assert home.status_code == 200
        assert "script-src 'none'" in home.headers["content-security-policy"]
        login = await client.post("/login", data={"user": "mod"}, headers=SAME_ORIGIN)
        assert login.status_code == 303
        assert set(client.cookies) == {"__Host-session", "__Secure-refresh"}
        assert (await client.get("/")).headers["location"] == "/app"  # logged in: the board
        board = await client.get("/app")
        assert board.status_code == 200
        assert 'name="csrf_token" value="v1.' in board.text
        assert '<meta name="csrf-token"' in board.text
        old = client.cookies["__Host-session"]
        refreshed = await client.post("/auth/refresh", headers=SAME_ORIGIN)
        assert refreshed.json() == {"refreshed": True}
        assert client.cookies["__Host-session"] != old
        posted = await client.post("/app/notes", data={"text": "<b>hi</b>"}, headers=SAME_ORIGIN)
        assert posted.json() == {"notes": 1}
        assert "&lt;b&gt;hi&lt;/b&gt;" in (await client.get("/app")).text
        out = await client.post("/auth/logout", headers=SAME_ORIGIN)
        assert out.status_code == 303
        assert not client.cookies.get("__Host-session")
        assert demo.extra["notes"] == [{"by": "mod", "text": "<b>hi</b>"}]


async def test_unknown_user_and_bad_refresh() -> None:
    """An unknown demo user gets a page, no cookie; a refresh without a valid cookie is refused and cleared."""
    demo = build_demo()
    async with _client(demo.app) as client:
        unknown = await client.post("/login", data={"user": "root"})
        assert "Unknown user" in unknown.text
        assert not client.cookies
        missing = await client.post("/auth/refresh")
        assert (missing.status_code, missing.json()) == (401, {"error": "missing_credentials"})
        client.cookies.set("__Secure-refresh", "a.b.c", domain="127.0.0.1", path="/auth")
        bad = await client.post("/auth/refresh")
        assert bad.status_code == 401
        assert "__Secure-refresh=; Max-Age=0" in ";".join(bad.headers.get_list("set-cookie"))


async def test_cross_site_post_refused() -> None:
    """A cross-site POST with the session cookie is refused 403 csrf_failed; nothing is posted."""
    demo = build_demo()
    async with _client(demo.app) as client:
        await client.post("/login", data={"user": "user"}, headers=SAME_ORIGIN)
        forged = await client.post("/app/notes", data={"text": "x"}, headers={"sec-fetch-site": "cross-site"})
        assert (forged.status_code, forged.json()["error"]) == (403, "csrf_failed")
        ambiguous = await client.get("/api/v1/profile", headers={"authorization": f"Bearer {demo.user_token}"})
        assert (ambiguous.status_code, ambiguous.json()["error"]) == (400, "ambiguous_credentials")
    assert demo.extra["notes"] == []


async def test_logout_completes_when_provider_tokens_cannot_be_revoked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The session is revoked first; a failing provider-token store afterwards is logged, never a 500."""
    from asgi_guard.oauth.refresh import ProviderTokens

    async def broken(self: ProviderTokens, user: str) -> int:
        raise ConnectionError("provider token store down")

    monkeypatch.setattr(ProviderTokens, "revoke_provider_tokens", broken)
    demo = build_demo()
    async with _client(demo.app) as client:
        await client.post("/login", data={"user": "mod"}, headers=SAME_ORIGIN)
        out = await client.post("/auth/logout", headers=SAME_ORIGIN)
        assert out.status_code == 303
        assert not client.cookies.get("__Host-session")


def test_the_demo_names_a_reachable_loopback_url_for_any_local_bind() -> None:
    """Bound to a wildcard or an IPv6 loopback, the demo's own URLs (OAuth callbacks) are loopback URLs."""
    from asgi_guard.demo.serve import _shown

    assert [_shown(host) for host in ("0.0.0.0", "", "::", "::1", "127.0.0.1", "localhost")] == [  # noqa: S104
        "127.0.0.1",
        "127.0.0.1",
        "[::1]",
        "[::1]",
        "127.0.0.1",
        "localhost",
    ]
    for host in ("0.0.0.0", "::1"):  # noqa: S104
        assert build_demo(public_url=f"http://{_shown(host)}:8000").app is not None
