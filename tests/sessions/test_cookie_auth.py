"""Authentication from the session cookie: ambient principals, ambiguity, revocation, development mode."""

from __future__ import annotations

import pytest

from asgi_guard.auth import AuthConfig, JWTAuth, KeyRing, MemoryRevocationStore
from asgi_guard.errors import ConfigurationError
from asgi_guard.principal import Principal
from asgi_guard.sessions import InsecureSessionWarning, SessionCookies
from asgi_guard.testing import call, make_scope
from tests.sessions.stack import build

pytestmark = pytest.mark.anyio


def _cookie(name: str, token: str) -> tuple[str, str]:
    return ("cookie", f"other=1; {name}={token}")


async def test_cookie_authenticates_an_ambient_principal() -> None:
    """The access token in the cookie authenticates; the principal says a cookie carried it."""
    stack = build()
    pair = stack.tokens.issue_pair("user-1", roles=["user"])
    response = await call(stack.app, make_scope(headers=[_cookie("__Host-session", pair.access_token)]))
    assert response.status == 200
    principal = stack.inner.calls[-1]["principal"]
    assert principal.id == "user-1"
    assert principal.ambient is True
    assert principal.method == "session"
    assert principal.claims["fam"]


async def test_bearer_and_api_key_are_not_ambient() -> None:
    """Bearer and API-key clients work unchanged and are not marked ambient."""
    stack = build()
    token = stack.tokens.issue_access("user-2")
    assert (await call(stack.app, make_scope(headers={"authorization": f"Bearer {token}"}))).status == 200
    bearer = stack.inner.calls[-1]["principal"]
    assert (bearer.ambient, bearer.method) == (False, "jwt")
    assert (await call(stack.app, make_scope(headers={"x-api-key": stack.api_key}))).status == 200
    key = stack.inner.calls[-1]["principal"]
    assert (key.ambient, key.method) == (False, "api_key")


@pytest.mark.parametrize("header", ["authorization", "x-api-key", "authorization-key"])
async def test_cookie_with_another_credential_is_ambiguous(header: str) -> None:
    """Cookie + bearer, cookie + API key (header or bearer-shaped): 400 ambiguous_credentials, app not called."""
    stack = build()
    pair = stack.tokens.issue_pair("user-1")
    other = {
        "authorization": ("authorization", f"Bearer {stack.tokens.issue_access('user-9')}"),
        "x-api-key": ("x-api-key", stack.api_key),
        "authorization-key": ("authorization", f"Bearer {stack.api_key}"),
    }[header]
    scope = make_scope(headers=[_cookie("__Host-session", pair.access_token), other])
    response = await call(stack.app, scope)
    assert response.status == 400
    assert response.json()["error"] == "ambiguous_credentials"
    assert stack.inner.calls == []
    event = scope["asgi_guard"].events[-1]
    assert (event.type, event.reason) == ("authn_failure", "session_cookie_and_header_credential")


async def test_empty_cookie_is_no_credential() -> None:
    """A cleared (empty) cookie next to a bearer token is not a second credential."""
    stack = build()
    token = stack.tokens.issue_access("user-2")
    scope = make_scope(headers=[("cookie", "__Host-session="), ("authorization", f"Bearer {token}")])
    assert (await call(stack.app, scope)).status == 200


async def test_revoked_or_wrong_cookie_refused() -> None:
    """A revoked access token, a refresh token or junk in the cookie is refused 401."""
    stack = build()
    pair = stack.tokens.issue_pair("user-1")
    await stack.tokens.revoke(pair.access_token)
    revoked = await call(stack.app, make_scope(headers=[_cookie("__Host-session", pair.access_token)]))
    assert (revoked.status, revoked.json()["error"]) == (401, "token_revoked")
    fresh = stack.tokens.issue_pair("user-1")
    wrong = await call(stack.app, make_scope(headers=[_cookie("__Host-session", fresh.refresh_token)]))
    assert (wrong.status, wrong.json()["error"]) == (401, "invalid_token")
    junk = await call(stack.app, make_scope(headers=[_cookie("__Host-session", "not-a-jwt")]))
    assert junk.status == 401
    assert stack.inner.calls == []


@pytest.mark.parametrize(
    "spell",
    [
        lambda token: token + "=",  # padding a compact JWS never carries
        lambda token: token.replace("-", "+").replace("_", "/"),  # standard base64 for base64url
        lambda token: token + "." + "a",  # a fourth part
        lambda token: "x" * 9000,  # huge
    ],
    ids=["padding", "standard-alphabet", "four-parts", "huge"],
)
async def test_cookie_must_be_a_compact_jws(spell: object) -> None:
    """Only the one base64url spelling of a token is looked at: no alias of a valid token takes a cache slot."""
    stack = build()
    token = stack.tokens.issue_pair("user-1").access_token
    while "-" not in token and "_" not in token:  # the alphabet case needs a character to swap
        token = stack.tokens.issue_pair("user-1").access_token
    response = await call(stack.app, make_scope(headers=[_cookie("__Host-session", spell(token))]))  # type: ignore[operator]
    assert (response.status, response.json()["error"]) == (401, "invalid_token")
    assert stack.inner.calls == []


async def test_duplicate_session_cookie_refused() -> None:
    """Two session cookies (one planted by a sibling domain) are refused, never one picked."""
    stack = build()
    pair = stack.tokens.issue_pair("user-1")
    header = f"__Host-session={pair.access_token}; __Host-session={pair.access_token}"
    response = await call(stack.app, make_scope(headers={"cookie": header}))
    assert (response.status, response.json()["error"]) == (400, "malformed_request")


async def test_development_cookie_only_on_loopback() -> None:
    """Development-mode cookies are accepted from a loopback Host and refused from any other."""
    with pytest.warns(InsecureSessionWarning):
        cookies = SessionCookies.development()
    stack = build(cookies=cookies)
    pair = stack.tokens.issue_pair("user-1")
    local = make_scope(headers=[("host", "localhost:8000"), _cookie("session", pair.access_token)])
    assert (await call(stack.app, local)).status == 200
    remote = make_scope(headers=[("host", "app.example"), _cookie("session", pair.access_token)])
    response = await call(stack.app, remote)
    assert (response.status, response.json()["error"]) == (401, "invalid_token")
    assert remote["asgi_guard"].events[-1].reason == "insecure_dev_session_cookie_off_loopback"


async def test_optional_route_without_cookie_is_anonymous() -> None:
    """No cookie on an optional route: anonymous, as before."""
    stack = build()
    assert (await call(stack.app, make_scope(path="/public"))).status == 200
    assert stack.inner.calls[-1]["principal"] is None


def test_session_needs_jwt() -> None:
    """A session cookie is verified by JWTAuth: configuring it alone, or a wrong type, is refused."""
    store = MemoryRevocationStore()
    jwt = JWTAuth(keyring=KeyRing.single(b"k" * 32), revocation=store, issuer=None, audience=None)
    with pytest.raises(ConfigurationError, match=r"AuthConfig\.session"):
        AuthConfig(session=SessionCookies(), authenticators=(lambda scope: None,))  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigurationError, match="a SessionCookies"):
        AuthConfig(jwt=jwt, session="cookie")  # type: ignore[arg-type]
    assert AuthConfig(jwt=jwt, session=SessionCookies()).session is not None


def test_carried_by_cookie_copies_everything() -> None:
    """The ambient copy keeps every field and leaves the cached original untouched."""
    original = Principal(
        "u", username="name", roles=frozenset({"r"}), permissions=frozenset({"p"}), token_id="j", claims={"fam": "f"}
    )
    copy = original.carried_by_cookie()
    assert (copy.id, copy.username, copy.roles, copy.permissions, copy.token_id) == (
        "u",
        "name",
        frozenset({"r"}),
        frozenset({"p"}),
        "j",
    )
    assert copy.claims == {"fam": "f"}
    assert (copy.ambient, copy.method) == (True, "session")
    assert (original.ambient, original.method) == (False, "custom")
