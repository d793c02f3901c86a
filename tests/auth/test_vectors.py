"""Public JWS/JWT vectors (tests/auth/vectors.json, copied from the project's vetted public-suites.json).

Wycheproof's JWS cases run against the key ring's JWS verification (their payloads are not JWT
claims); the PyJWT claim cases run against the full JWT verifier, which must refuse all of them.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jwt
import pytest

from asgi_guard.auth import JWTKey, JWTVerifier, KeyRing
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.testing import FakeClock
from tests.auth.conftest import NOW, SECRET, claims, sign

_DATA = json.loads((Path(__file__).parent / "vectors.json").read_text(encoding="utf-8"))
VECTORS: dict[str, dict[str, Any]] = {vector["id"]: vector for vector in _DATA["vectors"]}
HS256_JWS = [v for v in VECTORS.values() if v["scheme"] == "jws compact (HS256 verifier)"]
ASYMMETRIC_ATTACKS = [v for v in VECTORS.values() if v["scheme"] == "jws attack vs asymmetric key"]
PYJWT_CLAIMS = [v for v in VECTORS.values() if v["scheme"] == "jwt HS256 claim validation"]
UNRELATED_SECRET = b"an unrelated 32+ byte HS256 secret!!"


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _ring(jwk: dict[str, Any]) -> KeyRing:
    return KeyRing([JWTKey(kid=jwk["kid"], secret=_b64(jwk["k"]), algorithm=jwk["alg"])])


def test_vector_file_has_the_cases() -> None:
    """The copied vector file holds the Wycheproof and PyJWT cases with their sources."""
    assert len(HS256_JWS) >= 30
    assert len(ASYMMETRIC_ATTACKS) == 6
    assert all(v["source"] for v in VECTORS.values())


@pytest.mark.parametrize("vector", HS256_JWS, ids=lambda v: v["id"])
def test_wycheproof_hs256_jws(vector: dict[str, Any]) -> None:
    """Each Wycheproof HS256 case is accepted or refused exactly as labelled."""
    ring = _ring(vector["inputs"]["jwk"])
    token = vector["inputs"]["jws"]
    if vector["expected"]["result"] == "valid":
        payload = ring.verify_jws(token, 0)
        assert payload == _b64(token.split(".")[1])
    else:
        with pytest.raises(GuardError) as info:
            ring.verify_jws(token, 0)
        assert info.value.code is ErrorCode.INVALID_TOKEN


@pytest.mark.parametrize("vector", [v for v in HS256_JWS if v["expected"]["result"] == "valid"], ids=lambda v: v["id"])
def test_valid_jws_with_non_claims_payload_is_not_a_jwt(vector: dict[str, Any]) -> None:
    """A correctly signed JWS whose payload is not a claim set is still refused as a JWT."""
    verifier = JWTVerifier(_ring(vector["inputs"]["jwk"]), clock=FakeClock(0))
    with pytest.raises(GuardError) as info:
        verifier.verify(vector["inputs"]["jws"])
    assert info.value.code is ErrorCode.INVALID_TOKEN


@pytest.mark.parametrize("vector", ASYMMETRIC_ATTACKS, ids=lambda v: v["id"])
def test_asymmetric_key_attacks_are_refused(vector: dict[str, Any]) -> None:
    """Symmetry confusion, embedded jwk and alg=none tokens are refused by an HMAC ring on the same kid."""
    kid = vector["inputs"]["public_jwk"]["kid"]
    ring = KeyRing([JWTKey(kid=kid, secret=UNRELATED_SECRET)])
    with pytest.raises(GuardError) as info:
        ring.verify_jws(vector["inputs"]["jws"], 0)
    assert info.value.code is ErrorCode.INVALID_TOKEN


def test_rfc7520_signature_selects_key_by_kid() -> None:
    """RFC 7520 §4.4: the kid selects the key among several and the signature verifies."""
    vector = VECTORS["rfc7520-4.4-hs256-kid"]
    jwk = vector["inputs"]["jwk"]
    ring = KeyRing(
        [
            JWTKey(kid="other", secret=UNRELATED_SECRET, active_from=1.0),
            JWTKey(kid=jwk["kid"], secret=_b64(jwk["k"])),
        ]
    )
    token = f"{vector['inputs']['signing_input']}.{vector['expected']['signature_b64url']}"
    assert ring.verify_jws(token, 10).decode() == vector["expected"]["payload_utf8"]


def test_key_confusion_forged_token_is_refused() -> None:
    """CVE-2022-29217: an HS256 token keyed with a public key is refused (it names no known kid)."""
    vector = VECTORS["pyjwt-ghsa-ffqj-6fqr-9h24-key-confusion"]
    public_line = vector["inputs"]["public_key_openssh"].encode()
    ring = KeyRing([JWTKey(kid="default", secret=public_line)])
    verifier = JWTVerifier(ring, clock=FakeClock(0))
    for token in (vector["inputs"]["forged_hs256_token"], vector["inputs"]["legit_eddsa_token"]):
        with pytest.raises(GuardError) as info:
            verifier.verify(token)
        assert info.value.code is ErrorCode.INVALID_TOKEN


# Each PyJWT vector's payload, re-signed with our key: merged over a valid claim set when the vector
# isolates one bad claim, signed as-is when the whole payload is the point.
PYJWT_EXPECTED: dict[str, tuple[bool, str]] = {
    "pyjwt-hello-world": (False, "missing_claim:sub"),
    "pyjwt-exp-not-int": (True, "non_numeric_exp"),
    "pyjwt-iat-not-int": (True, "non_numeric_iat"),
    "pyjwt-nbf-not-int": (True, "non_numeric_nbf"),
    "pyjwt-aud-int": (True, "InvalidAudienceError"),
    "pyjwt-payload-not-object": (False, "DecodeError"),
}


@pytest.mark.parametrize("vector", PYJWT_CLAIMS, ids=lambda v: v["id"])
def test_pyjwt_claim_vectors_are_refused(vector: dict[str, Any]) -> None:
    """PyJWT's claim vectors (no exp, non-numeric exp/iat/nbf, int aud, non-object payload) are refused."""
    inputs = vector["inputs"]
    assert not inputs["secret"].encode().startswith(SECRET)  # the original secret is too short for us
    merge, reason = PYJWT_EXPECTED[vector["id"]]
    payload = _b64(inputs["token"].split(".")[1])
    if merge:
        token = sign(claims(**json.loads(payload)))
    else:
        token = jwt.PyJWS().encode(payload, SECRET, algorithm="HS256", headers={"kid": "k1"})
    verifier = JWTVerifier(
        KeyRing([JWTKey(kid="k1", secret=SECRET)]), audience=inputs.get("audience"), clock=FakeClock(NOW)
    )
    with pytest.raises(GuardError) as info:
        verifier.verify(token)
    assert info.value.code is ErrorCode.INVALID_TOKEN
    assert info.value.reason == reason


@pytest.mark.parametrize("vector", PYJWT_CLAIMS, ids=lambda v: v["id"])
def test_pyjwt_vector_tokens_as_sent_are_refused(vector: dict[str, Any]) -> None:
    """The original vector tokens (weak secret, no kid) are refused outright."""
    ring = KeyRing([JWTKey(kid="k1", secret=SECRET)])
    with pytest.raises(GuardError, match="invalid_token"):
        JWTVerifier(ring, clock=FakeClock(NOW)).verify(vector["inputs"]["token"])
