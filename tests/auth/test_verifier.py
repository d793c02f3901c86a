"""JWT verification: every claim rule and the attack classes of the issue, plus the verification cache."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from asgi_guard.auth import JWTKey, JWTVerifier, KeyRing
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.testing import FakeClock
from tests.auth.conftest import NOW, SECRET, claims, sign

OTHER_SECRET = b"o" * 32


def _segment(obj: Any) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _raw_sign(header: dict[str, Any], payload: Any, secret: bytes = SECRET) -> str:
    """Sign by hand, for headers PyJWT refuses to produce."""
    signing_input = f"{_segment(header)}.{_segment(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_segment(mac)}"


def _verifier(clock: FakeClock, **kwargs: Any) -> JWTVerifier:
    ring = kwargs.pop("ring", None) or KeyRing([JWTKey(kid="k1", secret=SECRET)])
    return JWTVerifier(ring, clock=clock, **kwargs)


ALG_NONE = f"{_segment({'alg': 'none', 'kid': 'k1'})}.{_segment(claims())}."
ATTACKS: list[tuple[str, str, str]] = [
    ("alg_none", ALG_NONE, "algorithm_not_allowed"),
    ("alg_none_with_signature", ALG_NONE + "c2ln", "algorithm_not_allowed"),
    (
        "embedded_jwk",
        sign(claims(), headers={"jwk": {"kty": "oct", "k": _segment(OTHER_SECRET)}}),
        "forbidden_header:jwk",
    ),
    ("jku", sign(claims(), headers={"jku": "https://attacker.example/jwks.json"}), "forbidden_header:jku"),
    ("kid_path_injection", sign(claims(), headers={"kid": "../../../../dev/null"}), "unknown_kid"),
    ("kid_sql_injection", sign(claims(), headers={"kid": "k1' UNION SELECT 'x"}), "unknown_kid"),
    ("kid_not_string", _raw_sign({"alg": "HS256", "kid": 1}, claims()), "malformed_header"),
    ("no_kid", _raw_sign({"alg": "HS256"}, claims()), "missing_kid_and_no_default_key"),
    (
        "unknown_crit",
        _raw_sign({"alg": "HS256", "kid": "k1", "crit": ["urn:x"], "urn:x": 1}, claims()),
        "malformed_header",
    ),
    (
        "known_crit",
        _raw_sign({"alg": "HS256", "kid": "k1", "crit": ["b64"], "b64": True}, claims()),
        "forbidden_header:b64",
    ),
    ("hs512_when_hs256_pinned", sign(claims(), b"k" * 64, alg="HS512"), "algorithm_not_allowed"),
    ("wrong_secret", sign(claims(), OTHER_SECRET), "InvalidSignatureError"),
    ("two_parts", "a.b", "malformed_compact_form"),
    ("four_parts", sign(claims()) + ".x", "malformed_compact_form"),
    ("empty", "", "malformed_compact_form"),
    ("garbage_header", "!!!.e30.sig", "malformed_header"),
    ("header_not_object", f"{_segment([1])}.{_segment(claims())}.sig", "malformed_header"),
    ("payload_not_json", f"{_segment({'alg': 'HS256', 'kid': 'k1'})}.{_segment(b'nope')}.sig", "InvalidSignatureError"),
    ("json_serialization", json.dumps({"payload": _segment(claims()), "signatures": []}), "malformed_compact_form"),
]


@pytest.mark.parametrize(("name", "token", "reason"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attack_tokens_are_refused(clock: FakeClock, name: str, token: str, reason: str) -> None:
    """Each attack class is an invalid token, refused for the stated reason."""
    with pytest.raises(GuardError) as info:
        _verifier(clock).verify(token)
    assert info.value.code is ErrorCode.INVALID_TOKEN
    assert info.value.reason == reason


CLAIM_CASES: list[tuple[str, dict[str, Any], ErrorCode, str]] = [
    ("missing_exp", claims(exp=None), ErrorCode.INVALID_TOKEN, "missing_claim:exp"),
    ("missing_sub", claims(sub=None), ErrorCode.INVALID_TOKEN, "missing_claim:sub"),
    ("missing_iat", claims(iat=None), ErrorCode.INVALID_TOKEN, "missing_claim:iat"),
    ("empty_jti", claims(jti=""), ErrorCode.INVALID_TOKEN, "empty_sub_or_jti"),
    ("missing_type", claims(type=None), ErrorCode.INVALID_TOKEN, "missing_claim:type"),
    ("string_exp", claims(exp="9999999999"), ErrorCode.INVALID_TOKEN, "non_numeric_exp"),
    ("bool_exp", claims(exp=True), ErrorCode.INVALID_TOKEN, "non_numeric_exp"),
    ("string_iat", claims(iat="now"), ErrorCode.INVALID_TOKEN, "non_numeric_iat"),
    ("string_nbf", claims(nbf="later"), ErrorCode.INVALID_TOKEN, "non_numeric_nbf"),
    ("expired", claims(exp=int(NOW) - 1), ErrorCode.TOKEN_EXPIRED, "expired"),
    ("expires_now", claims(exp=int(NOW)), ErrorCode.TOKEN_EXPIRED, "expired"),
    ("nbf_in_future", claims(nbf=int(NOW) + 60), ErrorCode.INVALID_TOKEN, "not_yet_valid"),
    ("iat_in_future", claims(iat=int(NOW) + 60), ErrorCode.INVALID_TOKEN, "issued_in_future"),
    ("refresh_as_access", claims(type="refresh"), ErrorCode.INVALID_TOKEN, "wrong_token_type:refresh"),
    ("unknown_type", claims(type="id"), ErrorCode.INVALID_TOKEN, "unknown_token_type"),
    ("sub_not_string", claims(sub=42), ErrorCode.INVALID_TOKEN, "InvalidSubjectError"),
    ("jti_not_string", claims(jti=42), ErrorCode.INVALID_TOKEN, "InvalidJTIError"),
    ("empty_sub", claims(sub=""), ErrorCode.INVALID_TOKEN, "empty_sub_or_jti"),
    ("fam_not_string", claims(fam=7), ErrorCode.INVALID_TOKEN, "bad_claim:fam"),
    ("roles_not_list", claims(roles="admin"), ErrorCode.INVALID_TOKEN, "bad_claim:roles"),
    ("roles_not_strings", claims(roles=[1]), ErrorCode.INVALID_TOKEN, "bad_claim:roles"),
    ("communities_bad", claims(communities="c1"), ErrorCode.INVALID_TOKEN, "bad_claim:communities"),
    ("community_roles_bad", claims(communities={"c1": "mod"}), ErrorCode.INVALID_TOKEN, "bad_claim:communities"),
]


@pytest.mark.parametrize(("name", "payload", "code", "reason"), CLAIM_CASES, ids=[c[0] for c in CLAIM_CASES])
def test_claim_rules(clock: FakeClock, name: str, payload: dict[str, Any], code: ErrorCode, reason: str) -> None:
    """Required claims, numeric times, expiry, nbf/iat, type and claim shapes are enforced."""
    with pytest.raises(GuardError) as info:
        _verifier(clock).verify(sign(payload))
    assert info.value.code is code
    assert info.value.reason == reason


def test_valid_token_builds_the_principal(clock: FakeClock) -> None:
    """A valid access token gives the principal: subject, roles, communities, jti, expiry."""
    token = sign(claims(username="ann", communities={"c1": ["moderator"], "c2": []}, permissions=["profile:view"]))
    verified = _verifier(clock).verify(token)
    principal = verified.principal
    assert principal.id == "user-1"
    assert principal.username == "ann"
    assert principal.roles == frozenset({"user"})
    assert principal.permissions == frozenset({"profile:view"})
    assert principal.communities == {"c1": frozenset({"moderator"}), "c2": frozenset()}
    assert principal.method == "jwt"
    assert principal.token_id == "jti-1"
    assert principal.expires_at == NOW + 3600
    assert verified.revocation_ids == ("jti-1",)


def test_community_list_means_membership_without_extra_roles(clock: FakeClock) -> None:
    """A list of community ids maps each to no extra roles; missing optional claims are empty."""
    principal = _verifier(clock).verify(sign(claims(roles=None, communities=["a", "b"]))).principal
    assert principal.communities == {"a": frozenset(), "b": frozenset()}
    assert principal.roles == frozenset()
    assert principal.username == "user-1"


def test_family_is_part_of_revocation_ids(clock: FakeClock) -> None:
    """A token of a refresh family is refused when its jti or its family is revoked."""
    verified = _verifier(clock).verify(sign(claims(fam="fam-1")))
    assert verified.revocation_ids == ("jti-1", "fam-1")


def test_leeway_tolerates_small_skew(clock: FakeClock) -> None:
    """Within the leeway an expired token, a future nbf or a future iat still pass; beyond it they fail."""
    verifier = _verifier(clock, leeway=30, cache_size=0)
    for payload in (claims(exp=int(NOW) - 20), claims(nbf=int(NOW) + 20), claims(iat=int(NOW) + 20)):
        assert verifier.verify(sign(payload)).token_id == "jti-1"
    with pytest.raises(GuardError, match="token_expired"):
        verifier.verify(sign(claims(exp=int(NOW) - 31)))


def test_issuer_and_audience_are_checked_when_configured(clock: FakeClock) -> None:
    """With iss/aud configured, a token without or with other values is refused."""
    verifier = _verifier(clock, issuer="https://id.example", audience="api")
    good = sign(claims(iss="https://id.example", aud="api"))
    assert verifier.verify(good).principal.id == "user-1"
    for payload, reason in (
        (claims(aud="api"), "MissingRequiredClaimError"),
        (claims(iss="https://id.example"), "MissingRequiredClaimError"),
        (claims(iss="https://evil.example", aud="api"), "InvalidIssuerError"),
        (claims(iss="https://id.example", aud="other"), "InvalidAudienceError"),
    ):
        with pytest.raises(GuardError) as info:
            verifier.verify(sign(payload))
        assert info.value.reason in (reason, "missing_claim:iss", "missing_claim:aud")


def test_unconfigured_issuer_and_audience_are_not_checked(clock: FakeClock) -> None:
    """Without iss/aud configuration, tokens carrying them still verify."""
    assert _verifier(clock).verify(sign(claims(iss="x", aud="y"))).principal.id == "user-1"


def test_rotated_keys_verify_by_kid(clock: FakeClock) -> None:
    """Tokens of the old and the new key both verify while the old key is in its grace."""
    ring = KeyRing(
        [
            JWTKey(kid="k1", secret=SECRET, retire_after=NOW - 10),
            JWTKey(kid="k2", secret=OTHER_SECRET, active_from=NOW - 100),
        ]
    )
    verifier = _verifier(clock, ring=ring)
    assert verifier.verify(sign(claims())).principal.id == "user-1"
    assert verifier.verify(sign(claims(jti="j2"), OTHER_SECRET, headers={"kid": "k2"})).token_id == "j2"


def test_cache_returns_the_same_verification_until_expiry(clock: FakeClock) -> None:
    """A cached token is not re-verified, but the cache entry expires with the token."""
    verifier = _verifier(clock)
    token = sign(claims(exp=int(NOW) + 60))
    first = verifier.verify(token)
    assert verifier.verify(token) is first
    clock.advance(60)
    with pytest.raises(GuardError, match="token_expired"):
        verifier.verify(token)


def test_cache_entry_ends_with_the_key_grace(clock: FakeClock) -> None:
    """A cached token signed by a retiring key stops verifying when the key's grace ends."""
    ring = KeyRing([JWTKey(kid="k1", secret=SECRET, retire_after=NOW + 10)], grace=20)
    verifier = _verifier(clock, ring=ring)
    token = sign(claims())
    assert verifier.verify(token).token_id == "jti-1"
    clock.advance(30)
    with pytest.raises(GuardError) as info:
        verifier.verify(token)
    assert info.value.reason == "key_outside_validity"


def test_cached_token_still_checks_type(clock: FakeClock) -> None:
    """A refresh token in the cache is still refused where an access token is required."""
    verifier = _verifier(clock)
    token = sign(claims(type="refresh"))
    assert verifier.verify(token, expected_type="refresh").type == "refresh"
    with pytest.raises(GuardError, match="invalid_token"):
        verifier.verify(token)


@pytest.mark.parametrize(
    "spell",
    [
        lambda t: t + "=",
        lambda t: t.replace(".", "=.", 1),
        lambda t: t + "==",
        lambda t: t.translate(str.maketrans("-_", "+/")),
    ],
    ids=["padded-signature", "padded-header", "double-padding", "standard-alphabet"],
)
def test_padded_spellings_of_a_valid_token_are_refused(clock: FakeClock, spell: Any) -> None:
    """PyJWT decodes padded base64url too: each padding is an alias of one token. Only the compact
    form is verified (and cached), however the token came (bearer header or cookie)."""
    verifier = _verifier(clock)
    subject = 0
    token = sign(claims())
    while "-" not in token and "_" not in token:  # the alphabet case needs a character to swap
        subject += 1
        token = sign(claims(sub=f"user-{subject}"))
    assert verifier.verify(token).principal.id
    with pytest.raises(GuardError) as refused:
        verifier.verify(spell(token))
    # Refused as a bad form: by our compact-form check, or earlier by PyJWT's header parsing.
    assert refused.value.code is ErrorCode.INVALID_TOKEN
    assert refused.value.reason in ("malformed_compact_form", "malformed_header")
