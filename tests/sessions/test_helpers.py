"""set_session / refresh_session / logout / clear_session around a real TokenService."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from starlette.responses import Response

from asgi_guard.auth import KeyRing, MemoryRevocationStore, RevocationUnavailable, TokenService
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.sessions import SessionCookies, clear_session, logout, refresh_session, set_session
from asgi_guard.testing import call, make_scope
from tests.sessions.stack import build

pytestmark = pytest.mark.anyio


def _set_cookies(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """name -> value of every Set-Cookie header."""
    found = {}
    for key, value in headers:
        if key == b"set-cookie":
            name, _, rest = value.decode().partition("=")
            found[name] = rest.partition(";")[0]
    return found


def _cookie_header(values: dict[str, str]) -> tuple[str, str]:
    return ("cookie", "; ".join(f"{name}={value}" for name, value in values.items()))


async def test_set_session_on_a_response_and_a_list() -> None:
    """Both cookies land on a Starlette Response or a raw header list, with Cache-Control: no-store once."""
    stack = build()
    pair = stack.tokens.issue_pair("user-1")
    response = Response("ok", headers={"cache-control": "private"})
    set_session(response, pair, stack.cookies)
    assert _set_cookies(response.raw_headers) == {
        "__Host-session": pair.access_token,
        "__Secure-refresh": pair.refresh_token,
    }
    assert response.headers.getlist("cache-control") == ["private"]
    headers: list[tuple[bytes, bytes]] = []
    set_session(headers, pair, stack.cookies)
    clear_session(headers, stack.cookies)
    assert [value for key, value in headers if key == b"cache-control"] == [b"no-store"]
    assert b"Max-Age=0" in headers[-2][1]


def test_bad_targets() -> None:
    """Neither a response nor a list: TypeError naming what was given."""
    with pytest.raises(TypeError, match="raw_headers"):
        clear_session(object(), SessionCookies())


async def test_refresh_rotates_and_the_old_token_is_spent() -> None:
    """The refresh cookie is redeemed for a new pair set on the response; reusing it later revokes the family."""
    stack = build()
    pair = stack.tokens.issue_pair("user-1")
    scope = make_scope(path="/auth/refresh", headers=[_cookie_header({"__Secure-refresh": pair.refresh_token})])
    headers: list[tuple[bytes, bytes]] = []
    new = await refresh_session(scope, headers, stack.tokens, stack.cookies)
    assert new.refresh_token != pair.refresh_token
    assert _set_cookies(headers) == {"__Host-session": new.access_token, "__Secure-refresh": new.refresh_token}
    ok = await call(stack.app, make_scope(headers=[_cookie_header({"__Host-session": new.access_token})]))
    assert ok.status == 200


async def test_refresh_without_or_with_a_bad_cookie() -> None:
    """No refresh cookie: missing_credentials; a bad one: the error, and the cookies are cleared."""
    stack = build()
    with pytest.raises(GuardError) as missing:
        await refresh_session(make_scope(), [], stack.tokens, stack.cookies)
    assert missing.value.code is ErrorCode.MISSING_CREDENTIALS
    headers: list[tuple[bytes, bytes]] = []
    scope = make_scope(headers=[_cookie_header({"__Secure-refresh": "a.b.c"})])
    with pytest.raises(GuardError):
        await refresh_session(scope, headers, stack.tokens, stack.cookies)
    assert _set_cookies(headers) == {"__Host-session": "", "__Secure-refresh": ""}
    with pytest.raises(TypeError, match="scope"):
        await refresh_session(42, headers, stack.tokens, stack.cookies)


async def test_logout_revokes_both_tokens_and_clears() -> None:
    """Logout revokes the access token and the refresh family; both cookies are deleted."""
    stack = build()
    pair = stack.tokens.issue_pair("user-1")
    cookies = {"__Host-session": pair.access_token, "__Secure-refresh": pair.refresh_token}
    headers: list[tuple[bytes, bytes]] = []
    revoked = await logout(make_scope(headers=[_cookie_header(cookies)]), headers, stack.tokens, stack.cookies)
    assert revoked == 2
    assert _set_cookies(headers) == {"__Host-session": "", "__Secure-refresh": ""}
    after = await call(stack.app, make_scope(headers=[_cookie_header({"__Host-session": pair.access_token})]))
    assert (after.status, after.json()["error"]) == (401, "token_revoked")
    with pytest.raises(GuardError) as refused:
        await stack.tokens.refresh(pair.refresh_token)
    assert refused.value.code is ErrorCode.TOKEN_REVOKED


async def test_logout_with_forged_or_duplicated_cookies_still_clears() -> None:
    """Cookies that do not verify, or are duplicated, revoke nothing but are cleared all the same."""
    stack = build()
    headers: list[tuple[bytes, bytes]] = []
    scope = make_scope(headers=[("cookie", "__Host-session=x.y.z; __Secure-refresh=1; __Secure-refresh=2")])
    assert await logout(scope, headers, stack.tokens, stack.cookies) == 0
    assert _set_cookies(headers) == {"__Host-session": "", "__Secure-refresh": ""}
    assert await logout(make_scope(), [], stack.tokens, stack.cookies) == 0


class DownStore(MemoryRevocationStore):
    """A revocation store whose backend is down (what RedisRevocationStore raises without Redis)."""

    async def is_revoked(self, token_ids: Iterable[str]) -> bool:
        raise RevocationUnavailable("down")

    async def revoke(self, token_id: str, expires_at: float) -> None:
        raise RevocationUnavailable("down")


async def test_store_down_is_a_503_not_a_500() -> None:
    """Refresh and logout with the store down: service_unavailable; logout still clears the cookies."""
    tokens = TokenService(KeyRing.single(b"k" * 32), DownStore())
    pair = tokens.issue_pair("user-1")
    cookies = SessionCookies()
    scope = make_scope(
        headers=[_cookie_header({"__Host-session": pair.access_token, "__Secure-refresh": pair.refresh_token})]
    )
    headers: list[tuple[bytes, bytes]] = []
    with pytest.raises(GuardError) as refreshing:
        await refresh_session(scope, headers, tokens, cookies)
    assert refreshing.value.code is ErrorCode.SERVICE_UNAVAILABLE
    assert headers == []  # the session may be valid: its cookies are kept
    with pytest.raises(GuardError) as leaving:
        await logout(scope, headers, tokens, cookies)
    assert leaving.value.code is ErrorCode.SERVICE_UNAVAILABLE
    assert _set_cookies(headers) == {"__Host-session": "", "__Secure-refresh": ""}
