"""JWT interop: HS256 tokens minted by joserfc, jwcrypto and authlib are accepted by our verifier with
the same key and claims, and tokens ``TokenService`` mints are accepted by all three.

References: RFC 7519 (JWT), RFC 7515 (JWS), RFC 7518 §3.2 (HMAC with SHA-2).
"""

from __future__ import annotations

import base64
import json
import time
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import OctKey
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jwt as jwcrypto_jwt

from asgi_guard.auth import JWTKey, JWTVerifier, KeyRing, MemoryRevocationStore, TokenService
from asgi_guard.errors import GuardError

with warnings.catch_warnings():
    # authlib 1.x warns on import that authlib.jose will move to joserfc (tested here too); the API is
    # still authlib's own. authlib.deprecate installs an "always" filter when imported, so it goes first.
    import authlib.deprecate

    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.jose import JsonWebToken

SECRET = b"interop-hs256-secret-of-at-least-32-bytes!"
KID = "k-2026"
ISSUER = "https://id.example"
AUDIENCE = "community-api"


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": "user-1",
        "username": "ada",
        "roles": ["moderator"],
        "communities": {"42": ["moderator"]},
        "type": "access",
        "iat": now,
        "exp": now + 3600,
        "jti": "j-1",
        "iss": ISSUER,
        "aud": AUDIENCE,
        **extra,
    }


def mint_joserfc(claims: dict[str, Any], header: dict[str, Any]) -> str:
    return joserfc_jwt.encode({"alg": "HS256", **header}, claims, OctKey.import_key(SECRET))


def mint_jwcrypto(claims: dict[str, Any], header: dict[str, Any]) -> str:
    key = jwcrypto_jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(SECRET).rstrip(b"=").decode())
    token = jwcrypto_jwt.JWT(header={"alg": "HS256", **header}, claims=claims)
    token.make_signed_token(key)
    return str(token.serialize())


def mint_authlib(claims: dict[str, Any], header: dict[str, Any]) -> str:
    return JsonWebToken(["HS256"]).encode({"alg": "HS256", **header}, claims, SECRET).decode("ascii")


MINTERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], str]] = {
    "joserfc": mint_joserfc,
    "jwcrypto": mint_jwcrypto,
    "authlib": mint_authlib,
}


def _verifier(ring: KeyRing | None = None) -> JWTVerifier:
    ring = ring if ring is not None else KeyRing([JWTKey(kid=KID, secret=SECRET)])
    return JWTVerifier(ring, issuer=ISSUER, audience=AUDIENCE)


@pytest.mark.parametrize("library", sorted(MINTERS))
def test_library_token_is_accepted(library: str) -> None:
    """A token the library signs with our key, kid and claims verifies, and its principal is ours."""
    token = MINTERS[library](_claims(), {"kid": KID, "typ": "JWT"})
    principal = _verifier().verify(token).principal
    assert (principal.id, principal.username, sorted(principal.roles)) == ("user-1", "ada", ["moderator"])
    assert principal.communities == {"42": frozenset({"moderator"})}


@pytest.mark.parametrize("library", sorted(MINTERS))
def test_library_seed_format_token_is_accepted_by_the_default_key(library: str) -> None:
    """A token in the seed's format (no kid, no jti) minted by the library verifies against the ring's default key."""
    claims = {key: value for key, value in _claims().items() if key != "jti"}
    token = MINTERS[library](claims, {})
    ring = KeyRing.single(SECRET, kid=KID, accept_without_kid=True)
    assert _verifier(ring).verify(token).principal.id == "user-1"
    with pytest.raises(GuardError):  # without a default key a kid-less token is refused
        _verifier().verify(token)


@pytest.mark.parametrize("library", sorted(MINTERS))
def test_library_token_with_other_key_or_claims_is_refused(library: str) -> None:
    """Same library, wrong audience, expired, or signed under another secret: refused."""
    mint = MINTERS[library]
    refused = [
        mint(_claims(aud="other-api"), {"kid": KID}),
        mint(_claims(exp=int(time.time()) - 10), {"kid": KID}),
        mint(_claims(type="refresh"), {"kid": KID}),
    ]
    for token in refused:
        with pytest.raises(GuardError):
            _verifier().verify(token)
    other = JWTVerifier(KeyRing([JWTKey(kid=KID, secret=b"another-secret-that-is-32-bytes-long!!")]))
    with pytest.raises(GuardError):
        other.verify(mint(_claims(), {"kid": KID}))


def _service() -> TokenService:
    return TokenService(
        KeyRing([JWTKey(kid=KID, secret=SECRET)]), MemoryRevocationStore(), issuer=ISSUER, audience=AUDIENCE
    )


def _issued() -> str:
    return _service().issue_access("user-1", username="ada", roles=["moderator"], communities={"42": ["moderator"]})


def test_token_service_tokens_are_accepted_by_joserfc() -> None:
    """joserfc verifies the signature and validates exp, iat, iss and aud of a TokenService token."""
    token = joserfc_jwt.decode(_issued(), OctKey.import_key(SECRET), algorithms=["HS256"])
    registry = joserfc_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": AUDIENCE},
        sub={"essential": True, "value": "user-1"},
        exp={"essential": True},
        iat={"essential": True},
        jti={"essential": True},
    )
    registry.validate(token.claims)
    assert (token.header["kid"], token.header["alg"], token.claims["type"]) == (KID, "HS256", "access")


def test_token_service_tokens_are_accepted_by_jwcrypto() -> None:
    """jwcrypto verifies the signature and checks exp, iss and aud of a TokenService token."""
    key = jwcrypto_jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(SECRET).rstrip(b"=").decode())
    token = jwcrypto_jwt.JWT(jwt=_issued(), key=key, check_claims={"iss": ISSUER, "aud": AUDIENCE, "exp": None})
    claims = json.loads(token.claims)
    assert (claims["sub"], claims["communities"]) == ("user-1", {"42": ["moderator"]})


def test_token_service_tokens_are_accepted_by_authlib() -> None:
    """authlib verifies the signature and validates exp, iss and aud of a TokenService token."""
    options = {"iss": {"essential": True, "value": ISSUER}, "aud": {"essential": True, "value": AUDIENCE}}
    claims = JsonWebToken(["HS256"]).decode(_issued(), SECRET, claims_options=options)
    claims.validate()
    assert claims["sub"] == "user-1"
    assert claims.header["kid"] == KID


def test_token_service_tokens_fail_with_another_key_in_every_library() -> None:
    """Each library refuses a TokenService token under a different secret (the check is real)."""
    token = _issued()
    other = b"another-secret-that-is-32-bytes-long!!"
    with pytest.raises(Exception, match=r"(?i)signature"):
        joserfc_jwt.decode(token, OctKey.import_key(other), algorithms=["HS256"])
    with pytest.raises(Exception, match=r"(?i)verif|signature"):
        jwcrypto_jwt.JWT(
            jwt=token, key=jwcrypto_jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(other).decode().rstrip("="))
        )
    with pytest.raises(Exception, match=r"(?i)signature"):
        JsonWebToken(["HS256"]).decode(token, other)
