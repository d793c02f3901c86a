"""Edges: discovery, key rotation, JWKS and profile failures, provider quirks, refresh and logout corners."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest
import redis.asyncio as aioredis
from joserfc import jwt
from joserfc.jwk import RSAKey
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from asgi_guard.errors import ConfigurationError
from asgi_guard.oauth import (
    JWKSCache,
    ProviderClient,
    ProviderError,
    ProviderTokens,
    ProviderTokenUnavailable,
    RedisProviderTokenStore,
    RedisRefreshLock,
    RefreshLockBusy,
    TokenResponse,
    discover,
    validate_id_token,
)
from asgi_guard.provider_tokens import MemoryProviderTokenStore, ProviderToken
from tests.oauth.conftest import CLIENT_ID, CLIENT_SECRET, RING, Stack, query
from tests.servers import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.server]


async def test_discovery_builds_the_provider(stack: Stack, clients: dict[str, ProviderClient]) -> None:
    """OIDC discovery yields the provider's endpoints, PKCE support and auth method; issuer must match."""
    google = stack.idps["google"]
    http = clients["google"].http
    provider = await discover("corp", google.issuer, CLIENT_ID, CLIENT_SECRET, http=http)
    assert provider.token_url == google.provider().token_url
    assert provider.jwks_uri == google.provider().jwks_uri
    assert provider.pkce
    assert provider.revocation == "rfc7009"
    with pytest.raises(ConfigurationError, match="issuer"):
        await discover("corp", google.issuer + "/", CLIENT_ID, CLIENT_SECRET, http=http)
    with pytest.raises(ConfigurationError, match="discovery document"):
        await discover("corp", f"http://127.0.0.1:{free_port()}", CLIENT_ID, CLIENT_SECRET)


async def test_rotated_signing_key_is_fetched_on_unknown_kid(stack: Stack) -> None:
    """An unknown kid makes us refetch the JWKS, but not more often than min_refetch (forged kids)."""
    google = stack.idps["google"]
    async with stack.client() as client:
        assert (await stack.login(client, "google")).status_code == 200
        google.key = RSAKey.generate_key(2048, parameters={"kid": "rotated", "use": "sig"}, private=True)
        stack.app.jwks.min_refetch = 3600.0
        refused = await stack.login(client, "google")
        stack.app.jwks.min_refetch = 0.0
        accepted = await stack.login(client, "google")
    stack.app.jwks.min_refetch = 10.0
    assert refused.status_code == 502
    assert stack.events_of("login_failure")[0].reason.startswith("id_token_invalid_key_id")
    assert accepted.status_code == 200


def _id_token(key: RSAKey, **claims: object) -> str:
    now = int(time.time())
    base = {"iss": "https://issuer.example", "aud": CLIENT_ID, "sub": "1", "iat": now, "exp": now + 60, "nonce": "n"}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, {**base, **claims}, key)


@pytest.mark.parametrize(
    ("path", "reason", "unavailable"),
    [
        ("/faults/500", "jwks_status_500", True),
        ("/faults/garbage", "jwks_invalid", False),
        ("/faults/deep", "jwks_invalid", False),
        ("/nowhere", "jwks_status_404", False),
    ],
)
async def test_jwks_failures(
    stack: Stack, clients: dict[str, ProviderClient], path: str, reason: str, unavailable: bool
) -> None:
    """A JWKS endpoint that fails, answers garbage or is missing fails the login, never a 500."""
    provider = msgspec.structs.replace(
        stack.idps["google"].provider(), issuer="https://issuer.example", jwks_uri=stack.base + path
    )
    key = RSAKey.generate_key(2048, parameters={"kid": "k"}, private=True)
    jwks = JWKSCache(clients["google"].http)
    with pytest.raises(ProviderError) as caught:
        await validate_id_token(provider, _id_token(key), nonce="n", access_token="a", jwks=jwks)
    assert caught.value.reason == reason
    assert caught.value.unavailable is unavailable


async def test_malformed_id_token_and_unreachable_jwks(clients: dict[str, ProviderClient], stack: Stack) -> None:
    """A token that is not a JWS is malformed; an unreachable JWKS is 'unavailable'."""
    provider = msgspec.structs.replace(stack.idps["google"].provider(), jwks_uri=f"http://127.0.0.1:{free_port()}/keys")
    jwks = JWKSCache(clients["google"].http)
    with pytest.raises(ProviderError, match="id_token_malformed"):
        await validate_id_token(provider, "not-a-jwt", nonce="n", access_token="a", jwks=jwks)
    key = RSAKey.generate_key(2048, parameters={"kid": "k"}, private=True)
    with pytest.raises(ProviderError) as caught:
        await validate_id_token(provider, _id_token(key), nonce="n", access_token="a", jwks=jwks)
    assert caught.value.unavailable


@pytest.mark.parametrize(
    ("path", "reason", "unavailable"),
    [
        ("/faults/500", "profile_status_500", True),
        ("/faults/garbage", "profile_bad_response", False),
        ("/idp/discord/api/users/@me", "profile_status_401", False),
    ],
)
async def test_profile_failures(
    stack: Stack, clients: dict[str, ProviderClient], path: str, reason: str, unavailable: bool
) -> None:
    """Discord's /users/@me failing, answering garbage or refusing the token: a provider error."""
    client = clients["discord"]
    broken = ProviderClient(
        msgspec.structs.replace(client.provider, profile_url=stack.base + path), http=client.http, jwks=client.jwks
    )
    with pytest.raises(ProviderError) as caught:
        await broken.identity(TokenResponse(access_token="not-issued"), nonce="")
    assert caught.value.reason == reason
    assert caught.value.unavailable is unavailable


async def test_twitch_helix_user_must_match_the_id_token(stack: Stack) -> None:
    """Twitch: the Helix user must be the id_token's subject (a swapped token is refused)."""
    idp = stack.idps["twitch"]

    def swap_subject(token: str) -> str:
        decoded = jwt.decode(token, idp.key)
        return jwt.encode(decoded.header, {**decoded.claims, "sub": "999"}, idp.key)

    idp.tamper = swap_subject
    async with stack.client() as client:
        response = await stack.login(client, "twitch")
    assert response.status_code == 502
    assert [event.reason for event in stack.events_of("login_failure")] == ["profile_subject_mismatch"]


async def test_slack_errors_with_http_200_are_errors(stack: Stack) -> None:
    """Slack answers a replayed code with HTTP 200 and ok=false: still a refused login, not a session."""
    async with stack.client() as client:
        callback = await stack.approve(client, await stack.start(client, "slack"))
        assert (await client.get(callback)).status_code == 200
        fresh = query(await stack.start(client, "slack"))
        response = await client.get(
            "/auth/slack/callback", params={"code": query(callback)["code"], "state": fresh["state"]}
        )
    assert response.status_code == 502
    assert stack.events_of("login_failure")[-1].reason == "token_invalid_grant"


async def test_slack_identity_carries_the_team(stack: Stack) -> None:
    """Sign in with Slack: the identity carries the workspace (team id claim)."""
    async with stack.client() as client:
        assert (await stack.login(client, "slack")).status_code == 200
    assert stack.identities[-1].team_id == "T0LOCAL01"


def _token(provider: str, refresh: str | None = "r") -> ProviderToken:
    return ProviderToken(
        user_id="u", provider=provider, access_token="a", refresh_token=refresh, expires_at=time.time() + 5
    )


async def test_refresh_corners(stack: Stack, clients: dict[str, ProviderClient]) -> None:
    """No refresh token: reauthorize; provider down: unavailable (record kept); unknown lifetime: used as is."""
    store = MemoryProviderTokenStore()
    down = ProviderClient(
        msgspec.structs.replace(clients["discord"].provider, token_url=f"{stack.base}/faults/500"),
        http=clients["discord"].http,
        jwks=clients["discord"].jwks,
    )
    manager = ProviderTokens(store, emitter=stack.provider_tokens.emitter)
    manager.attach({"discord": down})
    await store.put(_token("discord", refresh=None))
    with pytest.raises(ProviderTokenUnavailable, match="reauthorization_required"):
        await manager.get_fresh_token("u", "discord")
    await store.put(_token("discord"))
    with pytest.raises(ProviderTokenUnavailable, match="provider_unavailable"):
        await manager.get_fresh_token("u", "discord")
    assert await store.get("u", "discord") is not None
    await store.put(msgspec.structs.replace(_token("other"), expires_at=None))
    assert await manager.get_fresh_token("u", "other") == "a"


async def test_revoke_and_validate_when_the_provider_is_down(stack: Stack, clients: dict[str, ProviderClient]) -> None:
    """Revocation that fails is logged and the local copy deleted anyway; validation errors keep the token."""
    store = MemoryProviderTokenStore()
    twitch = clients["twitch"]
    dead = f"http://127.0.0.1:{free_port()}"
    down = ProviderClient(
        msgspec.structs.replace(twitch.provider, revoke_url=f"{dead}/revoke", validate_url=f"{dead}/validate"),
        http=twitch.http,
        jwks=twitch.jwks,
    )
    manager = ProviderTokens(store, emitter=stack.provider_tokens.emitter)
    manager.attach({"twitch": down})
    await store.put(_token("twitch"))
    assert await manager.validate_stored(["u"]) == 0
    assert await store.get("u", "twitch") is not None
    assert await manager.revoke_provider_tokens("u") == 1
    assert await store.get("u", "twitch") is None
    results = sorted(event.result for event in stack.events if event.type.startswith("provider_token_"))
    assert results == ["allow", "error", "error"]


async def test_validation_loop_runs_at_start_and_repeats(stack: Stack, clients: dict[str, ProviderClient]) -> None:
    """run_validation validates at once and then every interval until cancelled."""
    manager = ProviderTokens(MemoryProviderTokenStore())
    manager.attach(clients)
    calls: list[int] = []

    async def users() -> list[str]:
        calls.append(1)
        return []

    task = asyncio.ensure_future(manager.run_validation(users, every=0.01))
    while len(calls) < 2:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_logout_and_refresh_corners(stack: Stack) -> None:
    """Logout without a bearer is 401; a bad refresh token at logout is logged but the logout succeeds."""
    async with stack.client() as client:
        pair = (await stack.login(client, "discord")).json()
        anonymous = await client.post("/auth/logout")
        huge = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"], "pad": "x" * 20000})
        logout = await client.post(
            "/auth/logout",
            headers={"Authorization": f"Bearer {pair['access_token']}"},
            data={"refresh_token": "not-a-token"},
        )
        method = await client.get("/auth/logout")
    assert anonymous.status_code == 401
    assert huge.status_code == 401
    assert logout.status_code == 200
    assert method.status_code == 405
    assert [event.result for event in stack.events_of("logout")] == ["deny", "deny", "allow"]


async def test_deeply_nested_json_body_is_refused_not_a_crash(stack: Stack) -> None:
    """A small JSON body nested past msgspec's depth limit (it raises RecursionError, not
    DecodeError) is read as no token: 401 at /refresh and /logout, never a 500."""
    nested = b"[" * 5000
    json_type = {"content-type": "application/json"}
    async with stack.client() as client:
        refresh = await client.post("/auth/refresh", content=nested, headers=json_type)
        logout = await client.post("/auth/logout", content=nested, headers=json_type)
    assert refresh.status_code == 401, refresh.text
    assert refresh.json()["error"] == "invalid_session"
    assert logout.status_code == 401, logout.text
    assert logout.json()["error"] == "invalid_session"


async def test_lifespan_is_answered(stack: Stack) -> None:
    """The login app answers lifespan messages (it can be an app's root)."""
    sent: list[dict[str, object]] = []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, object]:
        return next(messages)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await stack.app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert [message["type"] for message in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


@pytest.mark.redis
async def test_redis_lock_busy_and_config(redis_client: aioredis.Redis) -> None:
    """A lock held elsewhere makes a short wait give up (RefreshLockBusy); bad settings are refused."""
    holder = RedisRefreshLock(redis_client)
    impatient = RedisRefreshLock(redis_client, wait=0.2)
    async with holder.hold("twitch:u"):
        with pytest.raises(RefreshLockBusy):
            async with impatient.hold("twitch:u"):
                pass  # pragma: no cover - never acquired
    with pytest.raises(ConfigurationError):
        RedisRefreshLock(redis_client, timeout=0)
    with pytest.raises(ConfigurationError):
        RedisProviderTokenStore(redis_client, object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        RedisProviderTokenStore(redis_client, RING, default_ttl=0)
    store = RedisProviderTokenStore(redis_client, RING, default_ttl=50)
    await store.put(msgspec.structs.replace(_token("x"), expires_at=None))
    assert 40 <= await redis_client.ttl(store._key("u", "x")) <= 50


async def test_our_own_backends_down_fail_closed() -> None:
    """The used-state store or the provider-token store unreachable: 503 service_unavailable, no session."""
    from asgi_guard.oauth import ProviderTokens as Tokens
    from asgi_guard.webhooks import RedisReplayStore
    from tests.oauth.conftest import build_stack
    from tests.servers import UvicornThread

    dead = aioredis.Redis(port=free_port(), retry=Retry(NoBackoff(), 0))  # no retries: fail fast
    cases = {
        "state_store_unavailable": {"used_states": RedisReplayStore(dead, timeout=0.5)},
        "token_store:": {"provider_tokens": Tokens(RedisProviderTokenStore(dead, RING))},
    }
    for reason, options in cases.items():
        port = free_port()
        stack, app = build_stack(port, **options)
        with UvicornThread(app, port=port):
            async with stack.client() as client:
                response = await stack.login(client, "discord")
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "service_unavailable"
        assert stack.events_of("login_failure")[0].reason.startswith(reason)
    await dead.aclose()


async def test_revocation_store_down_at_refresh_and_logout_is_503() -> None:
    """Our revocation store unreachable: /refresh and /logout answer 503 service_unavailable (the
    session may well be valid, so not 401, and never a 500), in JSON and in cookie sessions alike;
    a cookie session keeps its cookies."""
    from asgi_guard.auth import KeyRing, RedisRevocationStore, TokenService
    from asgi_guard.sessions import InsecureSessionWarning, SessionCookies
    from tests.oauth.conftest import build_stack
    from tests.servers import UvicornThread

    dead = aioredis.Redis(port=free_port(), retry=Retry(NoBackoff(), 0))  # no retries: fail fast
    keyring = KeyRing.single("s" * 48, kid="t1")
    tokens = TokenService(keyring, RedisRevocationStore(dead), issuer="test", audience="api")
    with pytest.warns(InsecureSessionWarning):
        cookies = SessionCookies.development(refresh_path="/auth")
    for session in ("json", "cookies"):
        port = free_port()
        stack, app = build_stack(port, tokens=tokens, session=session, session_cookies=cookies)
        pair = tokens.issue_pair("twitch:1", roles=["user"])
        with UvicornThread(app, port=port):
            async with stack.client() as client:
                if session == "cookies":
                    client.cookies.set("session", pair.access_token)
                    client.cookies.set("refresh", pair.refresh_token)
                    refreshed = await client.post("/auth/refresh")
                    logged_out = await client.post("/auth/logout")
                else:
                    refreshed = await client.post("/auth/refresh", json={"refresh_token": pair.refresh_token})
                    bearer = {"authorization": f"Bearer {pair.access_token}"}
                    logged_out = await client.post("/auth/logout", headers=bearer)
        for response in (refreshed, logged_out):
            assert response.status_code == 503, (session, response.text)
            assert response.json()["error"] == "service_unavailable"
            assert "set-cookie" not in response.headers
    await dead.aclose()
