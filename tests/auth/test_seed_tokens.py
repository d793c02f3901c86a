"""Tokens of an existing deployment (the seed): HS256 with ``sub``, ``username``, ``email``, ``roles``,
``iat``, ``exp``, ``type`` and neither ``kid`` nor ``jti``. A ring's default key verifies them (and no
other key ever does); logout and revocation key on the SHA-256 of the token's signed part."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
import redis.asyncio as aioredis

from asgi_guard import guard
from asgi_guard.auth import (
    AuthConfig,
    JWTAuth,
    JWTKey,
    JWTVerifier,
    KeyRing,
    MemoryRevocationStore,
    RedisRevocationStore,
    TokenService,
)
from asgi_guard.auth.verifier import DIGEST_ID_PREFIX
from asgi_guard.errors import ConfigurationError, ErrorCode, GuardError
from asgi_guard.testing import FakeClock, call, make_scope
from asgi_guard.types import Receive, Scope, Send
from tests.auth.conftest import NOW, SECRET

pytestmark = pytest.mark.anyio

OTHER = b"o" * 32


def seed_token(secret: bytes = SECRET, **overrides: Any) -> str:
    """An access token exactly as the seed application issues it (PyJWT, no extra headers)."""
    payload: dict[str, Any] = {
        "sub": "42",
        "username": "alice",
        "email": "alice@example.com",
        "roles": ["moderator"],
        "iat": int(NOW),
        "exp": int(NOW) + 3600,
        "type": "access",
    }
    payload.update(overrides)
    return jwt.encode(payload, secret, algorithm="HS256")


def _seed_ring(**kwargs: Any) -> KeyRing:
    return KeyRing([JWTKey(kid="seed", secret=SECRET), JWTKey(kid="new", secret=OTHER, active_from=NOW - 1)], **kwargs)


def test_seed_token_has_no_kid_and_no_jti() -> None:
    """The fixture is what the issue describes (so the tests below test the real shape)."""
    token = seed_token()
    assert "kid" not in jwt.get_unverified_header(token)
    assert "jti" not in jwt.decode(token, options={"verify_signature": False})


def test_default_key_verifies_seed_tokens(clock: FakeClock) -> None:
    """With ``default_kid`` the seed's token is accepted: its principal, roles, and a digest id."""
    verified = JWTVerifier(_seed_ring(default_kid="seed"), clock=clock).verify(seed_token())
    assert verified.principal.id == "42"
    assert verified.principal.username == "alice"
    assert verified.principal.roles == frozenset({"moderator"})
    signed = seed_token().rpartition(".")[0]
    assert verified.token_id == DIGEST_ID_PREFIX + hashlib.sha256(signed.encode()).hexdigest()
    assert verified.principal.token_id == verified.token_id
    assert verified.revocation_ids == (verified.token_id,)


def test_ring_without_default_refuses_kidless_tokens_clearly(clock: FakeClock) -> None:
    """No default key: a token without ``kid`` is refused, and the reason says why."""
    with pytest.raises(GuardError) as info:
        JWTVerifier(_seed_ring(), clock=clock).verify(seed_token())
    assert info.value.code is ErrorCode.INVALID_TOKEN
    assert info.value.reason == "missing_kid_and_no_default_key"


def test_only_the_default_key_is_tried(clock: FakeClock) -> None:
    """A kid-less token signed by another key of the ring is refused: keys are never tried in turn."""
    verifier = JWTVerifier(_seed_ring(default_kid="seed"), clock=clock)
    with pytest.raises(GuardError) as info:
        verifier.verify(seed_token(OTHER))
    assert info.value.reason == "InvalidSignatureError"
    # And the other way round: the default does not stand in for a kid the ring does not know.
    with pytest.raises(GuardError) as info:
        verifier.verify(jwt.encode({"sub": "1"}, SECRET, algorithm="HS256", headers={"kid": "gone"}))
    assert info.value.reason == "unknown_kid"
    # A `kid` that is present but null or empty is not "no kid": refused, never given to the default.
    for kid in (None, ""):
        header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": kid}).encode()).rstrip(b"=").decode()
        body = seed_token().split(".")[1]
        mac = hmac.new(SECRET, f"{header}.{body}".encode(), hashlib.sha256).digest()
        forged = f"{header}.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
        with pytest.raises(GuardError) as info:
            verifier.verify(forged)
        assert info.value.reason in ("malformed_header", "unknown_kid")


def test_default_key_keeps_its_validity_window(clock: FakeClock) -> None:
    """A retired default key stops verifying kid-less tokens when its grace ends; its algorithm is pinned."""
    ring = KeyRing([JWTKey(kid="seed", secret=SECRET, retire_after=NOW + 10)], grace=5, default_kid="seed")
    verifier = JWTVerifier(ring, clock=clock, cache_size=0)
    assert verifier.verify(seed_token()).principal.id == "42"
    clock.advance(15)
    with pytest.raises(GuardError, match="key_outside_validity"):
        verifier.verify(seed_token(iat=int(NOW) + 15))
    hs512 = jwt.encode({"sub": "1"}, b"k" * 64, algorithm="HS512")
    with pytest.raises(GuardError, match="algorithm_not_allowed"):
        JWTVerifier(_seed_ring(default_kid="seed"), clock=clock).verify(hs512)


def test_default_kid_must_be_in_the_ring() -> None:
    """A default naming no key of the ring is a configuration error; single() opts in explicitly."""
    with pytest.raises(ConfigurationError, match="default_kid"):
        KeyRing([JWTKey(kid="a", secret=SECRET)], default_kid="b")
    assert KeyRing.single(SECRET).default is None
    ring = KeyRing.single(SECRET, kid="seed", accept_without_kid=True)
    assert ring.default is not None
    assert ring.default.kid == "seed"
    assert "default_kid='seed'" in repr(ring)


async def test_issued_tokens_keep_kid_and_jti(clock: FakeClock) -> None:
    """Tokens asgi_guard issues name their key and carry a jti, even on a ring with a default key."""
    service = TokenService(_seed_ring(default_kid="seed"), MemoryRevocationStore(clock=clock), clock=clock)
    pair = service.issue_pair("42", roles=["user"])
    for token in (pair.access_token, pair.refresh_token, service.issue_access("42")):
        assert jwt.get_unverified_header(token)["kid"] == "new"
        assert jwt.decode(token, options={"verify_signature": False})["jti"]


def _respell_signature(token: str) -> str:
    """The same token with the spare low bits of the signature's last character flipped (the same
    signature bytes; PyJWT 2.10+ refuses the spelling, older releases accepted it)."""
    head, _, signature = token.rpartition(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    respelled = f"{head}.{signature[:-1]}{alphabet[last ^ 1]}"
    assert respelled != token
    pad = "=" * (-len(signature) % 4)
    assert base64.urlsafe_b64decode(signature + pad) == base64.urlsafe_b64decode(respelled.rpartition(".")[2] + pad)
    return respelled


class _App:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def _status(app: Any, token: str) -> tuple[int, bytes]:
    recorder = await call(app, make_scope(headers={"authorization": f"Bearer {token}"}))
    return recorder.status, recorder.body


async def test_seed_token_through_the_stack_then_logout(clock: FakeClock) -> None:
    """Through guard(): the seed's token is let in, logout revokes it by digest (the store never holds
    the raw token), and no spelling of it gets through afterwards."""
    store = MemoryRevocationStore(clock=clock)
    ring = _seed_ring(default_kid="seed")
    app = guard(
        _App(), AuthConfig(jwt=JWTAuth(keyring=ring, revocation=store, issuer=None, audience=None), clock=clock)
    )
    token = seed_token()
    respelled = _respell_signature(token)
    assert (await _status(app, token))[0] == 200
    await TokenService(ring, store, clock=clock).revoke(token)
    held = list(store._revoked._items)
    assert held == [DIGEST_ID_PREFIX + hashlib.sha256(token.rpartition(".")[0].encode()).hexdigest()]
    assert token not in repr(held)
    status, body = await _status(app, token)
    assert status == 401
    assert b"token_revoked" in body
    status, body = await _status(app, respelled)
    assert status == 401
    assert b"token_revoked" in body or b"invalid_token" in body


async def test_seed_refresh_token_rotation_and_reuse_key_on_the_digest(clock: FakeClock) -> None:
    """A kid-less, jti-less refresh token rotates once; its reuse after the grace revokes its family."""
    store = MemoryRevocationStore(clock=clock)
    service = TokenService(_seed_ring(default_kid="seed"), store, clock=clock)
    refresh = seed_token(type="refresh", exp=int(NOW) + 86400)
    pair = await service.refresh(refresh)
    assert jwt.get_unverified_header(pair.access_token)["kid"] == "new"
    clock.advance(60)
    with pytest.raises(GuardError, match="token_revoked"):
        await service.refresh(refresh)


async def test_redis_revocation_of_a_seed_token_stores_only_the_digest(redis_client: aioredis.Redis) -> None:
    """On Redis too the key is the digest id: no key or published message contains the token."""
    prefix = f"seedtest:{time.monotonic_ns()}:"
    store = RedisRevocationStore(redis_client, prefix=prefix)
    ring = KeyRing([JWTKey(kid="seed", secret=SECRET)], default_kid="seed")
    now = time.time()
    token = seed_token(iat=int(now), exp=int(now) + 3600)
    await TokenService(ring, store).revoke(token)
    names = [name.decode() async for name in redis_client.scan_iter(match=prefix + "*")]
    assert names == [prefix + DIGEST_ID_PREFIX + hashlib.sha256(token.rpartition(".")[0].encode()).hexdigest()]
    fresh = RedisRevocationStore(redis_client, prefix=prefix)
    verified = JWTVerifier(ring).verify(token)
    assert await fresh.is_revoked(verified.revocation_ids)
    await redis_client.delete(*names)
