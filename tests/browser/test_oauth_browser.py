"""OAuth login in a real browser: click "Log in with Twitch" on the demo, approve at the bundled Twitch
stand-in, land back on the board logged in with the session cookie. Screenshots in artifacts/browser/."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import BrowserContext

from asgi_guard.demo import build_demo
from tests.browser.test_demo_browser import _session_cookie, _shot, browser  # noqa: F401 - the fixture
from tests.servers import UvicornThread, free_port

pytestmark = pytest.mark.browser


def test_log_in_with_twitch_in_chromium(browser: BrowserContext) -> None:  # noqa: F811 - the fixture
    """Demo login page -> local Twitch consent -> back on /app signed in, session in a __Host- cookie."""
    port = free_port()
    demo = build_demo(public_url=f"http://127.0.0.1:{port}")
    with UvicornThread(demo.app, port=port) as site:
        page = browser.new_page()
        page.goto(site.url + "/")
        page.click("#login-twitch")
        page.wait_for_selector("#approve")
        assert "/idp/twitch/oauth2/authorize" in page.url
        _shot(page, "oauth-1-twitch-consent")
        page.click("#approve")
        page.wait_for_url(site.url + "/app")
        assert page.text_content("#who") == "streamer"
        cookie = _session_cookie(browser)
        assert cookie is not None
        assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (True, True, "Lax")
        assert not [c for c in browser.cookies() if c["name"].startswith("__Host-oauth-")]  # flow cookie spent
        _shot(page, "oauth-2-logged-in-with-twitch")
    # The Twitch tokens of that login are kept (sealed) for the user the demo's hook mapped it to.
    store = demo.extra["login"].app.provider_tokens.store
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        stored = pool.submit(asyncio.run, store.get("twitch:141981764", "twitch")).result()
    assert stored is not None
    assert stored.scopes == ("openid", "user:read:email")
