"""The demo in a real browser: headless Debian Chromium driven by Playwright, the demo served by uvicorn.

A page from another loopback port is same-site (ports do not make a different site), so SameSite=Lax
lets the browser attach the session cookie to its forged POSTs: only the CSRF layer stands between
that page and the action. Screenshots go to ``artifacts/browser/`` (gitignored).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from asgi_guard.demo import build_demo
from tests.servers import UvicornThread

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
TIMEOUT_MS = 10_000


def attacker_app(target: str) -> Starlette:
    """Another origin's pages: one auto-submits a form to the demo, one fetch()es it with credentials."""

    async def form(request: Any) -> HTMLResponse:
        return HTMLResponse(
            f"<form id='f' method='post' action='{target}/app/notes'>"
            "<input name='text' value='forged by a form'></form>"
            "<script>document.getElementById('f').submit()</script>"
        )

    async def fetcher(request: Any) -> HTMLResponse:
        return HTMLResponse(
            "<p id='result'>pending</p><script>"
            f"fetch('{target}/app/notes', {{method: 'POST', credentials: 'include', mode: 'no-cors', "
            "headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'text=forged+by+fetch'})"
            ".then(() => document.getElementById('result').textContent = 'sent')"
            ".catch(e => document.getElementById('result').textContent = 'error ' + e);"
            "</script>"
        )

    return Starlette(routes=[Route("/form", form), Route("/fetch", fetcher)])


class StatusLog:
    """Wraps the demo to record the status of every request, as the server answered it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.answers: list[tuple[str, str, int]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def recording_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.answers.append((scope["method"], scope["path"], message["status"]))
            await send(message)

        await self.app(scope, receive, recording_send if scope["type"] == "http" else send)


@pytest.fixture
def browser() -> Iterator[BrowserContext]:
    """A fresh headless Chromium profile (new user-data-dir per test)."""
    with tempfile.TemporaryDirectory(prefix="asgi-guard-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS, timeout=TIMEOUT_MS
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def _session_cookie(context: BrowserContext) -> dict[str, Any] | None:
    return next((dict(c) for c in context.cookies() if c["name"] == "__Host-session"), None)


def test_sessions_and_csrf_in_chromium(browser: BrowserContext, caplog: pytest.LogCaptureFixture) -> None:
    """Log in, post same-origin by form and fetch, forged posts from another port refused 403, logout clears."""
    demo = build_demo()
    notes: list[dict[str, str]] = demo.extra["notes"]
    log = StatusLog(demo.app)
    with (
        caplog.at_level(logging.INFO, logger="asgi_guard.security"),
        UvicornThread(log) as site,
        UvicornThread(attacker_app(site.url)) as evil,
    ):
        page = browser.new_page()
        page.goto(site.url + "/")
        _shot(page, "1-login")
        page.click("#login")
        page.wait_for_url(site.url + "/app")
        assert page.text_content("#who") == "user"

        # The session is a __Host- cookie with production flags, out of script's reach.
        cookie = _session_cookie(browser)
        assert cookie is not None, browser.cookies()
        assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"], cookie["path"]) == (True, True, "Lax", "/")
        assert "session" not in page.evaluate("document.cookie")
        refresh = next(c for c in browser.cookies() if c["name"] == "__Secure-refresh")
        assert (refresh["path"], refresh["httpOnly"]) == ("/auth", True)
        _shot(page, "2-board")

        # Same-origin form POST (token in the form, Sec-Fetch-Site: same-origin): the action happens.
        with page.expect_response(lambda r: r.url.endswith("/app/notes")) as posted:
            page.click("#post-form")
        assert posted.value.status == 303
        page.wait_for_url(site.url + "/app")
        assert notes == [{"by": "user", "text": "hello from a form"}]

        # Same-origin fetch with X-CSRF-Token from the page's meta tag.
        page.click("#post-fetch")
        page.wait_for_function("document.getElementById('fetch-result').textContent === '200'")
        assert len(notes) == 2
        _shot(page, "3-posted")

        # Another origin (another loopback port) auto-submits a form: the cookie rides along (same
        # site), the CSRF layer refuses it, nothing is posted.
        with page.expect_response(lambda r: r.url == site.url + "/app/notes") as forged:
            page.goto(evil.url + "/form")
        assert forged.value.status == 403
        assert forged.value.json()["error"] == "csrf_failed"
        _shot(page, "4-forged-form-refused")
        assert len(notes) == 2

        # ... and fetch()es with credentials: "include": refused as well. The page cannot read the answer
        # (Cross-Origin-Resource-Policy: same-origin even fails its opaque no-cors fetch), so the status
        # is the one the server sent.
        page.goto(evil.url + "/fetch")
        page.wait_for_function("document.getElementById('result').textContent !== 'pending'")
        assert log.answers[-1] == ("POST", "/app/notes", 403)
        assert len(notes) == 2
        reasons = [r.getMessage() for r in caplog.records if "csrf_failure" in r.getMessage()]
        assert len(reasons) == 2
        assert all("sec_fetch_site=same-site" in reason for reason in reasons)

        # Logout revokes the session and deletes both cookies.
        token = cookie["value"]
        page.goto(site.url + "/app")
        page.click("#logout")
        page.wait_for_url(site.url + "/")
        assert _session_cookie(browser) is None
        assert not [c for c in browser.cookies() if c["name"] == "__Secure-refresh"]
        _shot(page, "5-logged-out")
        after = httpx.get(site.url + "/api/v1/profile", headers={"Authorization": f"Bearer {token}"})
        assert (after.status_code, after.json()["error"]) == (401, "token_revoked")
        page.goto(site.url + "/app")
        assert "missing_credentials" in (page.text_content("body") or "")
