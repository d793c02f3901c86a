"""JWT time claims: only finite numbers in range count; NaN, infinities, huge values and non-numbers are
refused with ``invalid_token``, and no cache entry outlives the token's key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_guard.auth import JWTKey, JWTVerifier, KeyRing
from asgi_guard.auth.verifier import MAX_TIME
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.testing import FakeClock
from tests.auth.conftest import NOW, SECRET, claims, sign


def _segment(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _sign_raw_json(payload: str) -> str:
    """A token whose payload is the JSON text given (for literals such as ``1e400`` no encoder writes)."""
    signing_input = f"{_segment(json.dumps({'alg': 'HS256', 'kid': 'k1'}).encode())}.{_segment(payload.encode())}"
    mac = hmac.new(SECRET, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_segment(mac)}"


def _raw_claims(**literals: str) -> str:
    """The default claims as JSON text, with some values replaced by raw JSON literals."""
    text = json.dumps({name: value for name, value in claims().items() if name not in literals})
    extra = ", ".join(f'"{name}": {literal}' for name, literal in literals.items())
    return text[:-1] + ", " + extra + "}"


BAD_LITERALS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e30", "100000000000000000000000000000", "-1"]
BAD_VALUES = [True, False, "1700000000", None, [1], {"a": 1}]


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("literal", BAD_LITERALS)
def test_non_finite_or_out_of_range_time_claims_are_invalid(clock: FakeClock, name: str, literal: str) -> None:
    """NaN, infinities, 1e400, absurdly large or negative values of any time claim: 401 ``invalid_token``."""
    verifier = JWTVerifier(KeyRing([JWTKey(kid="k1", secret=SECRET)]), clock=clock)
    with pytest.raises(GuardError) as info:
        verifier.verify(_sign_raw_json(_raw_claims(**{name: literal})))
    assert info.value.code is ErrorCode.INVALID_TOKEN
    assert info.value.reason in (f"out_of_range_{name}", f"non_numeric_{name}")


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", BAD_VALUES, ids=repr)
def test_non_numeric_time_claims_are_invalid(clock: FakeClock, name: str, value: Any) -> None:
    """Booleans, strings, null, lists and objects are never read as times."""
    verifier = JWTVerifier(KeyRing([JWTKey(kid="k1", secret=SECRET)]), clock=clock)
    with pytest.raises(GuardError) as info:
        verifier.verify(sign({**claims(), name: value}))
    assert info.value.code is ErrorCode.INVALID_TOKEN
    # PyJWT reports a null required claim as missing; either way it is not a time.
    assert info.value.reason in (f"non_numeric_{name}", f"missing_claim:{name}")


def test_time_claims_at_the_range_edges(clock: FakeClock) -> None:
    """0 and MAX_TIME are still times (iat 0, exp at the end of year 9999); one past is not."""
    verifier = JWTVerifier(KeyRing([JWTKey(kid="k1", secret=SECRET)]), clock=clock, cache_size=0)
    assert verifier.verify(sign(claims(iat=0, nbf=0.0, exp=MAX_TIME))).expires_at == MAX_TIME
    with pytest.raises(GuardError, match="out_of_range_exp"):
        verifier.verify(sign(claims(exp=MAX_TIME + 1)))


def test_nan_token_of_a_retired_key_never_stays_cached(clock: FakeClock) -> None:
    """The attack of the issue: ``exp: NaN`` from a key about to retire. It is refused at once, so it
    can never sit in the cache past the key's grace; a finite token of that key leaves with the key."""
    ring = KeyRing([JWTKey(kid="k1", secret=SECRET, retire_after=NOW + 10)], grace=20)
    verifier = JWTVerifier(ring, clock=clock)
    with pytest.raises(GuardError, match="out_of_range_exp"):
        verifier.verify(_sign_raw_json(_raw_claims(exp="NaN")))
    far = sign(claims(exp=int(NOW) + 10 * 365 * 86400))
    assert verifier.verify(far).token_id == "jti-1"
    clock.advance(29)
    assert verifier.verify(far).token_id == "jti-1"  # from the cache, within the grace
    clock.advance(1)
    with pytest.raises(GuardError) as info:
        verifier.verify(far)
    assert info.value.reason == "key_outside_validity"


def test_cache_never_keeps_a_non_finite_expiry() -> None:
    """Defence in depth: the cache itself stores nothing with a NaN or infinite expiry."""
    from asgi_guard.auth.cache import VerificationCache

    cache: VerificationCache[str] = VerificationCache(4)
    cache.put("nan", "v", math.nan)
    cache.put("inf", "v", math.inf)
    assert len(cache) == 0
    assert cache.get("nan", NOW) is None


_TIME_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=int(NOW) - 7200, max_value=int(NOW) + 7200),
    st.booleans(),
    st.text(max_size=12),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(exp=_TIME_VALUES, nbf=_TIME_VALUES, iat=_TIME_VALUES)
def test_any_accepted_token_has_sane_time_claims(exp: Any, nbf: Any, iat: Any) -> None:
    """Whatever the three claims hold, a token is either refused with a 401 code or every one of its
    time claims is a finite number in range that passed its check."""
    clock = FakeClock(NOW)
    verifier = JWTVerifier(KeyRing([JWTKey(kid="k1", secret=SECRET)]), clock=clock)
    payload = {**claims(), "exp": exp, "iat": iat, "nbf": nbf}
    code: ErrorCode | None = None
    try:
        verified = verifier.verify(sign(payload))
    except GuardError as error:
        code = error.code
    if code is not None:
        assert code in (ErrorCode.INVALID_TOKEN, ErrorCode.TOKEN_EXPIRED)
        return
    for value in (exp, nbf, iat):
        assert not isinstance(value, bool)
        assert isinstance(value, int | float)
        assert math.isfinite(value)
        assert 0 <= value <= MAX_TIME
    assert exp > NOW
    assert nbf <= NOW
    assert iat <= NOW
    assert verified.expires_at == float(exp)
