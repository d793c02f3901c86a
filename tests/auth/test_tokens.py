"""TokenService: issuing, refresh rotation with reuse detection, logout; and the memory revocation store."""

from __future__ import annotations

import pytest

from asgi_guard.auth import JWTKey, JWTVerifier, KeyRing, MemoryRevocationStore, TokenService
from asgi_guard.errors import ConfigurationError, ErrorCode, GuardError
from asgi_guard.testing import FakeClock
from tests.auth.conftest import NOW, SECRET

pytestmark = pytest.mark.anyio


def _service(clock: FakeClock, **kwargs: object) -> TokenService:
    ring = KeyRing([JWTKey(kid="k1", secret=SECRET)])
    return TokenService(ring, MemoryRevocationStore(clock=clock), clock=clock, **kwargs)  # type: ignore[arg-type]


def _verifier(service: TokenService, clock: FakeClock, **kwargs: object) -> JWTVerifier:
    return JWTVerifier(service.keyring, clock=clock, cache_size=0, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"access_ttl": 3599}, "access_ttl"),
        ({"access_ttl": 86401}, "access_ttl"),
        ({"refresh_ttl": 100}, "refresh_ttl"),
        ({"reuse_grace": 61}, "reuse_grace"),
        ({"reuse_grace": -1}, "reuse_grace"),
    ],
)
def test_bad_lifetimes_are_refused(clock: FakeClock, kwargs: dict[str, object], match: str) -> None:
    """Access tokens live 1 to 24 hours; refresh tokens at least as long; grace at most a minute."""
    with pytest.raises(ConfigurationError, match=match):
        _service(clock, **kwargs)


def test_issued_access_token_carries_the_profile(clock: FakeClock) -> None:
    """An issued access token verifies and carries sub, username, email, roles and communities."""
    service = _service(clock, issuer="iss", audience="aud")
    token = service.issue_access(
        "u1", username="ann", email="ann@example.org", roles=["user", "user"], communities={"c1": ["moderator"]}
    )
    verified = _verifier(service, clock, issuer="iss", audience="aud").verify(token)
    assert verified.claims["email"] == "ann@example.org"
    assert verified.claims["exp"] - verified.claims["iat"] == 3600
    assert verified.principal.roles == frozenset({"user"})
    assert verified.principal.communities == {"c1": frozenset({"moderator"})}
    assert verified.family is None


def test_access_ttl_is_bounded_per_token(clock: FakeClock) -> None:
    """A per-token lifetime outside 1-24 hours is refused; inside it is written into exp."""
    service = _service(clock)
    with pytest.raises(ConfigurationError, match="ttl"):
        service.issue_access("u1", ttl=60)
    token = service.issue_access("u1", ttl=7200)
    assert _verifier(service, clock).verify(token).expires_at == int(NOW) + 7200


def test_empty_subject_is_refused(clock: FakeClock) -> None:
    """Tokens need a subject."""
    with pytest.raises(ConfigurationError, match="subject"):
        _service(clock).issue_access("")


def test_signing_uses_the_newest_key(clock: FakeClock) -> None:
    """After rotation, new tokens carry the new kid."""
    ring = KeyRing([JWTKey(kid="old", secret=SECRET), JWTKey(kid="new", secret=b"n" * 32, active_from=NOW - 1)])
    service = TokenService(ring, MemoryRevocationStore(clock=clock), clock=clock)
    token = service.issue_access("u1")
    assert JWTVerifier(ring, clock=clock).verify(token).principal.id == "u1"
    import jwt

    assert jwt.get_unverified_header(token)["kid"] == "new"


async def test_refresh_rotates_within_the_family(clock: FakeClock) -> None:
    """Refreshing returns a new pair of the same family; the refresh token is not an access token."""
    service = _service(clock)
    pair = service.issue_pair("u1", username="ann", roles=["user"], communities=["c1"])
    verifier = _verifier(service, clock)
    with pytest.raises(GuardError, match="invalid_token"):
        verifier.verify(pair.refresh_token)
    family = verifier.verify(pair.access_token).family
    clock.advance(5)
    rotated = await service.refresh(pair.refresh_token)
    assert rotated.refresh_token != pair.refresh_token
    access = verifier.verify(rotated.access_token)
    assert access.family == family
    assert access.principal.username == "ann"
    assert access.principal.communities == {"c1": frozenset()}
    assert rotated.token_type == "Bearer"
    assert rotated.expires_in == 3600


async def test_access_token_cannot_refresh(clock: FakeClock) -> None:
    """`refresh()` refuses an access token."""
    service = _service(clock)
    with pytest.raises(GuardError, match="invalid_token"):
        await service.refresh(service.issue_pair("u1").access_token)


async def test_reuse_within_grace_is_accepted(clock: FakeClock) -> None:
    """Two racing clients may both use one refresh token within the grace."""
    service = _service(clock, reuse_grace=10)
    pair = service.issue_pair("u1")
    await service.refresh(pair.refresh_token)
    clock.advance(5)
    assert (await service.refresh(pair.refresh_token)).access_token


async def test_reuse_after_grace_revokes_the_family(clock: FakeClock) -> None:
    """Reusing a rotated refresh token after the grace is refused and revokes every token of the family."""
    service = _service(clock, reuse_grace=10)
    pair = service.issue_pair("u1")
    rotated = await service.refresh(pair.refresh_token)
    clock.advance(11)
    with pytest.raises(GuardError) as info:
        await service.refresh(pair.refresh_token)
    assert info.value.code is ErrorCode.TOKEN_REVOKED
    assert info.value.reason == "refresh_reuse_detected"
    verifier = _verifier(service, clock)
    for token in (rotated.access_token, pair.access_token):
        assert await service.revocation.is_revoked(verifier.verify(token).revocation_ids)
    with pytest.raises(GuardError, match="token_revoked"):
        await service.refresh(rotated.refresh_token)


async def test_other_families_survive_a_reuse(clock: FakeClock) -> None:
    """Revoking one family leaves another login of the same user alone."""
    service = _service(clock, reuse_grace=0)
    stolen = service.issue_pair("u1")
    other = service.issue_pair("u1")
    await service.refresh(stolen.refresh_token)
    clock.advance(1)
    with pytest.raises(GuardError):
        await service.refresh(stolen.refresh_token)
    ids = _verifier(service, clock).verify(other.access_token).revocation_ids
    assert not await service.revocation.is_revoked(ids)


async def test_logout_revokes_access_token(clock: FakeClock) -> None:
    """Revoking an access token marks its jti revoked until it expires."""
    service = _service(clock)
    token = service.issue_access("u1")
    verified = _verifier(service, clock).verify(token)
    await service.revoke(token)
    assert await service.revocation.is_revoked(verified.revocation_ids)
    clock.advance(3601)
    assert not await service.revocation.is_revoked(verified.revocation_ids)


async def test_logout_with_refresh_token_revokes_the_family(clock: FakeClock) -> None:
    """Revoking a refresh token takes its family (and so its access tokens) along."""
    service = _service(clock)
    pair = service.issue_pair("u1")
    await service.revoke(pair.refresh_token)
    ids = _verifier(service, clock).verify(pair.access_token).revocation_ids
    assert await service.revocation.is_revoked(ids)


async def test_revoking_expired_or_invalid_tokens(clock: FakeClock) -> None:
    """An expired token needs no revocation; a forged one is refused."""
    service = _service(clock)
    token = service.issue_access("u1")
    clock.advance(7200)
    await service.revoke(token)
    with pytest.raises(GuardError, match="invalid_token"):
        await service.revoke("not.a.token")


async def test_memory_store_claims_refresh_once(clock: FakeClock) -> None:
    """The first claim of a refresh token returns None, later ones the first-use time, until expiry."""
    store = MemoryRevocationStore(clock=clock)
    assert await store.claim_refresh("r1", NOW + 100) is None
    clock.advance(3)
    assert await store.claim_refresh("r1", NOW + 100) == NOW
    clock.advance(200)
    assert await store.claim_refresh("r1", NOW + 300) is None


async def test_memory_store_ignores_already_expired_revocations(clock: FakeClock) -> None:
    """Revoking with an expiry in the past stores nothing; start/aclose are no-ops."""
    store = MemoryRevocationStore(clock=clock)
    await store.start()
    await store.revoke("old", NOW - 1)
    assert len(store) == 0
    await store.revoke("j", NOW + 10)
    await store.revoke("j", NOW + 5)  # an earlier expiry never shortens a revocation
    clock.advance(7)
    assert await store.is_revoked(["j"])
    await store.aclose()


async def test_memory_store_prunes_when_it_grows(clock: FakeClock) -> None:
    """Expired revocations are dropped in bulk once the set grows past its pruning threshold."""
    store = MemoryRevocationStore(clock=clock)
    for index in range(1000):
        await store.revoke(f"old-{index}", NOW + 1)
    clock.advance(2)
    for index in range(100):
        await store.revoke(f"new-{index}", NOW + 100)
    assert len(store) == 100


def test_token_pair_repr_never_shows_the_tokens(clock: FakeClock) -> None:
    """A pair in a log line or a traceback's locals shows its lifetime, never a token."""
    pair = _service(clock).issue_pair("user-1")
    for text in (repr(pair), str(pair)):
        assert pair.access_token not in text
        assert pair.refresh_token not in text
        assert pair.access_token.split(".")[2] not in text
        assert f"expires_in={pair.expires_in}" in text


class _BackendDownStore(MemoryRevocationStore):
    """A store whose backend fails writes with its own error (as Redis or SQL stores do), not RevocationUnavailable."""

    async def revoke(self, token_id: str, expires_at: float) -> None:
        raise ConnectionError("backend down")

    async def claim_refresh(self, token_id: str, expires_at: float) -> float | None:
        raise ConnectionError("backend down")


async def test_store_failures_are_service_unavailable(clock: FakeClock) -> None:
    """A revocation store raising a raw backend error: refresh and revoke refuse with service_unavailable
    (a 503 for every caller), never the raw error (a 500) and never a pass."""
    ring = KeyRing([JWTKey(kid="k1", secret=SECRET)])
    service = TokenService(ring, _BackendDownStore(clock=clock), clock=clock)
    pair = service.issue_pair("u1")
    for call in (service.refresh(pair.refresh_token), service.revoke(pair.access_token)):
        with pytest.raises(GuardError) as refused:
            await call
        assert (refused.value.code, refused.value.reason) == (
            ErrorCode.SERVICE_UNAVAILABLE,
            "revocation_store_unavailable",
        )
        assert isinstance(refused.value.__cause__, ConnectionError)
    with pytest.raises(GuardError) as bad:  # a token that does not verify is still invalid_token, not a 503
        await service.revoke("not.a.token")
    assert bad.value.code is ErrorCode.INVALID_TOKEN
