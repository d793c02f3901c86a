"""Attacks on the login flow, over real HTTP: forged and replayed state, code replay and injection,
tampered id_tokens, open redirects, and providers that fail. Each ends in a clear refusal, never a 500."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.oauth.conftest import Stack, TamperingProvider, query

pytestmark = [pytest.mark.anyio, pytest.mark.server]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _parts(token: str) -> tuple[dict[str, object], dict[str, object]]:
    header, payload, _ = token.split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    return decode(header), decode(payload)


def _resign(idp: TamperingProvider, change: Callable[[dict[str, object]], None]) -> Callable[[str], str]:
    """A tamper hook re-signing the id_token with the provider's own key after changing its claims."""

    def tamper(token: str) -> str:
        header, claims = _parts(token)
        change(claims)
        return jwt.encode(header, claims, idp.key)

    return tamper


def _alg_none(token: str) -> str:
    header, claims = _parts(token)
    return f"{_b64(json.dumps({**header, 'alg': 'none'}).encode())}.{_b64(json.dumps(claims).encode())}."


OTHER_KEY = RSAKey.generate_key(2048, private=True)


def _other_key(token: str) -> str:
    header, claims = _parts(token)
    return jwt.encode(header, claims, OTHER_KEY)


def _hmac_with_public_key(idp: TamperingProvider) -> Callable[[str], str]:
    """The classic key-confusion forgery: HS256 keyed with the provider's public key (which anyone has)."""

    def tamper(token: str) -> str:
        header, claims = _parts(token)
        signing_input = f"{_b64(json.dumps({**header, 'alg': 'HS256'}).encode())}.{_b64(json.dumps(claims).encode())}"
        # Crafted by hand on purpose: JOSE libraries (rightly) refuse to build this token.
        mac = hmac.new(idp.key.as_pem(private=False), signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(mac)}"

    return tamper


def _failure(stack: Stack) -> str:
    failures = stack.events_of("login_failure")
    assert len(failures) == 1, stack.events
    assert not stack.events_of("login")
    return failures[0].reason


async def test_callback_without_state_is_refused(stack: Stack) -> None:
    """A callback with no state at all is a 400 invalid_state."""
    async with stack.client() as client:
        response = await client.get("/auth/twitch/callback", params={"code": "x"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_state"
    assert _failure(stack) == "state_missing"


async def test_callback_without_the_state_cookie_is_refused(stack: Stack) -> None:
    """Login CSRF: the attacker's callback URL opened in the victim's browser (no flow cookie) is refused."""
    async with stack.client() as attacker, stack.client() as victim:
        callback = await stack.approve(attacker, await stack.start(attacker, "twitch"))
        response = await victim.get(callback)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_state"
    assert _failure(stack) == "state_cookie_missing"
    assert not stack.identities  # the code was never exchanged


async def test_mismatched_state_is_refused(stack: Stack) -> None:
    """A state that differs from the sealed one (same cookie-name prefix) is refused."""
    async with stack.client() as client:
        callback = await stack.approve(client, await stack.start(client, "twitch"))
        params = query(callback)
        forged = params["state"][:12] + "A" * (len(params["state"]) - 12)
        response = await client.get("/auth/twitch/callback", params={**params, "state": forged})
    assert response.status_code == 400
    assert _failure(stack) == "state_mismatch"


async def test_non_ascii_state_is_refused_not_a_crash(stack: Stack) -> None:
    """A state keeping the cookie-name prefix but ending in non-ASCII letters (``isalnum`` is true for
    them) is a 400 state_mismatch, not a 500 from ``hmac.compare_digest`` refusing non-ASCII text."""
    async with stack.client() as client:
        callback = await stack.approve(client, await stack.start(client, "twitch"))
        params = query(callback)
        forged = params["state"][:12] + "\u00e9" * (len(params["state"]) - 12)
        response = await client.get("/auth/twitch/callback", params={**params, "state": forged})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_state"
    assert not stack.identities  # the code was never exchanged


async def test_state_for_another_provider_is_refused(stack: Stack) -> None:
    """A Twitch flow's state and code presented at the Discord callback is refused."""
    async with stack.client() as client:
        callback = await stack.approve(client, await stack.start(client, "twitch"))
        response = await client.get("/auth/discord/callback", params=query(callback))
    assert response.status_code == 400
    assert _failure(stack) == "state_mismatch"


async def test_forged_flow_cookie_is_refused(stack: Stack) -> None:
    """A flow cookie not sealed by us (or altered) does not open."""
    async with stack.client() as client:
        callback = await stack.approve(client, await stack.start(client, "twitch"))
        (name,) = [cookie for cookie in client.cookies if cookie.startswith("oauth-")]
        client.cookies.set(name, "A" * 120, domain="127.0.0.1", path="/")
        response = await client.get(callback)
    assert response.status_code == 400
    assert _failure(stack) == "state_cookie_invalid"


async def test_replayed_callback_is_refused(stack: Stack) -> None:
    """The same callback (state + a stolen copy of its cookie) works once; the replay is refused."""
    async with stack.client() as client:
        callback = await stack.approve(client, await stack.start(client, "twitch"))
        cookies = dict(client.cookies)
        first = await client.get(callback)
        assert first.status_code == 200
        assert not [name for name in client.cookies if name.startswith("oauth-")]  # cleared by the callback
        for name, value in cookies.items():
            client.cookies.set(name, value, domain="127.0.0.1", path="/")
        stack.events.clear()
        replay = await client.get(callback)
    assert replay.status_code == 400
    assert _failure(stack) == "state_replayed"


async def test_code_replay_is_refused_by_the_provider(stack: Stack) -> None:
    """A used authorization code presented again (with a fresh, valid state) fails at the provider: 502."""
    async with stack.client() as client:
        callback = await stack.approve(client, await stack.start(client, "discord"))
        assert (await client.get(callback)).status_code == 200
        fresh = query(await stack.start(client, "discord"))
        stack.events.clear()
        response = await client.get(
            "/auth/discord/callback", params={"code": query(callback)["code"], "state": fresh["state"]}
        )
    assert response.status_code == 502
    assert response.json()["error"] == "provider_error"
    assert _failure(stack) == "token_invalid_grant"


@pytest.mark.parametrize(
    ("provider", "reason"), [("discord", "token_invalid_grant"), ("google", "token_invalid_grant")]
)
async def test_injected_code_fails_pkce(stack: Stack, provider: str, reason: str) -> None:
    """An attacker's code injected into the victim's flow fails PKCE (the victim's verifier does not match)."""
    async with stack.client() as attacker, stack.client() as victim:
        stolen = query(await stack.approve(attacker, await stack.start(attacker, provider)))["code"]
        own_state = query(await stack.start(victim, provider))["state"]
        response = await victim.get(f"/auth/{provider}/callback", params={"code": stolen, "state": own_state})
    assert response.status_code == 502
    assert _failure(stack) == reason
    assert not stack.identities


async def test_injected_code_fails_the_nonce_where_there_is_no_pkce(stack: Stack) -> None:
    """Twitch has no PKCE: an injected code still fails, on the id_token nonce of the attacker's flow."""
    async with stack.client() as attacker, stack.client() as victim:
        stolen = query(await stack.approve(attacker, await stack.start(attacker, "twitch")))["code"]
        own_state = query(await stack.start(victim, "twitch"))["state"]
        response = await victim.get("/auth/twitch/callback", params={"code": stolen, "state": own_state})
    assert response.status_code == 502
    assert _failure(stack).startswith("id_token_invalid_claim:")
    assert not stack.identities


async def test_wrong_pkce_verifier_is_refused_by_the_provider(stack: Stack) -> None:
    """Exchanging a PKCE code with another verifier is refused (invalid_grant), as is omitting it."""
    client = stack.app.clients["discord"]
    async with stack.client() as browser:
        for verifier in ("w" * 43, ""):
            code = query(await stack.approve(browser, await stack.start(browser, "discord")))["code"]
            from asgi_guard.oauth import ProviderError

            with pytest.raises(ProviderError) as caught:
                await client.exchange(code, f"{stack.base}/auth/discord/callback", verifier=verifier)
            assert caught.value.reason in ("token_invalid_grant", "token_invalid_request")
            assert not caught.value.unavailable


ID_TOKEN_ATTACKS: dict[str, Callable[[TamperingProvider], Callable[[str], str]]] = {
    "wrong_nonce": lambda idp: _resign(idp, lambda claims: claims.update(nonce="someone-elses-nonce")),
    "missing_nonce": lambda idp: _resign(idp, lambda claims: claims.pop("nonce")),
    "wrong_aud": lambda idp: _resign(idp, lambda claims: claims.update(aud="another-client")),
    "wrong_iss": lambda idp: _resign(idp, lambda claims: claims.update(iss="https://evil.example")),
    "expired": lambda idp: _resign(idp, lambda claims: claims.update(exp=1_000_000_000, iat=999_999_000)),
    "wrong_at_hash": lambda idp: _resign(idp, lambda claims: claims.update(at_hash="AAAAAAAAAAAAAAAAAAAAAA")),
    "alg_none": lambda idp: _alg_none,
    "stripped": lambda idp: lambda token: "",
    "not_a_jwt": lambda idp: lambda token: "garbage",
    "other_key": lambda idp: _other_key,
    "hmac_with_public_key": _hmac_with_public_key,
}


# Every attack against Google's shapes; the signature attacks and the nonce against Twitch and Slack too.
CASES = [("google", attack) for attack in sorted(ID_TOKEN_ATTACKS)] + [
    (provider, attack)
    for provider in ("twitch", "slack")
    for attack in ("alg_none", "hmac_with_public_key", "other_key", "wrong_nonce", "wrong_aud")
]


@pytest.mark.parametrize(("provider", "attack"), CASES)
async def test_tampered_id_token_is_refused(stack: Stack, provider: str, attack: str) -> None:
    """Every forged or mis-issued id_token ends in 502 provider_error with an id_token_* reason."""
    idp = stack.idps[provider]
    idp.tamper = ID_TOKEN_ATTACKS[attack](idp)
    async with stack.client() as client:
        response = await stack.login(client, provider)
    assert response.status_code == 502, response.text
    assert response.json()["error"] == "provider_error"
    assert _failure(stack).startswith("id_token_")
    assert not stack.identities


@pytest.mark.parametrize(
    "target", ["https://evil.example", "//evil.example", "/\\evil.example", "/app/../admin", "/admin", "javascript:x"]
)
async def test_next_outside_the_allow_list_falls_back_to_the_default(stack: Stack, target: str) -> None:
    """An open-redirect ``next`` is dropped (security event) and the login lands on the default path."""
    async with stack.client() as client:
        response = await stack.login(client, "twitch", next=target)
    assert response.status_code == 200
    assert response.json()["next"] == "/app"
    assert [event.reason for event in stack.events_of("login_next_refused")] == ["next_not_allowed"]


async def test_declined_consent_is_access_denied_page(stack: Stack) -> None:
    """Pressing Cancel at the provider ends in a 403 page for browsers (HTML, escaped, no-store)."""
    async with stack.client() as client:
        callback = await stack.approve(client, await stack.start(client, "google"), decision="deny")
        assert query(callback)["error"] == "access_denied"
        response = await client.get(callback, headers={"Accept": "text/html"})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert "cancelled" in response.text
    assert _failure(stack) == "provider_access_denied"


@pytest.mark.parametrize(
    ("provider", "status", "reason"),
    [
        ("down500", 503, "token_status_500"),
        ("slow", 503, "token_timeout"),
        ("garbage", 502, "token_bad_response"),
        ("deep", 502, "token_bad_response"),
        ("unreachable", 503, "token_unreachable:ConnectError"),
    ],
)
async def test_provider_failures_are_clear_answers(stack: Stack, provider: str, status: int, reason: str) -> None:
    """A token endpoint that is down, slow, answering garbage or not listening: 503/502, never a 500."""
    async with stack.client() as client:
        response = await stack.login(client, provider)
    assert response.status_code == status, response.text
    assert response.json()["error"] == ("provider_unavailable" if status == 503 else "provider_error")
    assert _failure(stack) == reason


async def test_login_hook_may_refuse(stack: Stack) -> None:
    """The platform's hook returning None refuses the login (403) and issues nothing."""
    stack.refuse.add("141981764")
    async with stack.client() as client:
        response = await stack.login(client, "slack")
    assert response.status_code == 403
    assert response.json()["error"] == "login_refused"
    assert _failure(stack) == "hook_refused"


async def test_unknown_provider_is_404(stack: Stack) -> None:
    """An unknown provider name is a 404 at login and at callback."""
    async with stack.client() as client:
        login = await client.get("/auth/myspace/login")
        callback = await client.get("/auth/myspace/callback?" + urlencode({"state": "s" * 43, "code": "c"}))
    assert login.status_code == callback.status_code == 404
    assert login.json()["error"] == "unknown_provider"


async def test_flow_cookie_attributes(stack: Stack) -> None:
    """The flow cookie is HttpOnly, SameSite=Lax (Strict would drop it on the way back), short-lived."""
    async with stack.client() as client:
        response = await client.get("/auth/twitch/login")
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Max-Age=600" in cookie
    assert "Path=/" in cookie
    assert response.headers["cache-control"] == "no-store"
