"""Key ring: key validation, rotation (newest active signs), grace for retired keys, header refusals."""

from __future__ import annotations

import pytest

from asgi_guard.auth import JWTKey, KeyRing
from asgi_guard.errors import ConfigurationError, ErrorCode, GuardError

DAY = 86400.0


def _key(kid: str, **kwargs: object) -> JWTKey:
    fields: dict[str, object] = {"secret": b"s" * 64, **kwargs}
    return JWTKey(kid=kid, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kid": "", "secret": b"s" * 32}, "kid"),
        ({"kid": "x" * 129, "secret": b"s" * 32}, "kid"),
        ({"kid": "a", "secret": b"s" * 31}, "32 bytes"),
        ({"kid": "a", "secret": "s" * 40}, "secret"),
        ({"kid": "a", "secret": b"s" * 40, "algorithm": "HS384"}, "48 bytes"),
        ({"kid": "a", "secret": b"s" * 63, "algorithm": "HS512"}, "64 bytes"),
        ({"kid": "a", "secret": b"s" * 64, "algorithm": "none"}, "algorithm"),
        ({"kid": "a", "secret": b"s" * 64, "algorithm": "RS256"}, "algorithm"),
        ({"kid": "a", "secret": b"s" * 32, "active_from": 10.0, "retire_after": 10.0}, "retire_after"),
    ],
)
def test_bad_keys_are_refused_at_construction(kwargs: dict[str, object], match: str) -> None:
    """Short secrets, unknown or asymmetric algorithms and empty kids are configuration errors."""
    with pytest.raises(ConfigurationError, match=match):
        JWTKey(**kwargs)  # type: ignore[arg-type]


def test_key_repr_hides_the_secret() -> None:
    """A key's repr never shows its secret."""
    assert "sss" not in repr(_key("a"))


def test_ring_needs_unique_kids_and_a_key() -> None:
    """Empty rings, duplicate kids and negative grace are refused."""
    with pytest.raises(ConfigurationError, match="at least one key"):
        KeyRing([])
    with pytest.raises(ConfigurationError, match="unique"):
        KeyRing([_key("a"), _key("a")])
    with pytest.raises(ConfigurationError, match="grace"):
        KeyRing([_key("a")], grace=-1)


def test_newest_active_key_signs() -> None:
    """The key with the latest `active_from` that is active now signs."""
    ring = KeyRing([_key("old", active_from=0), _key("new", active_from=100), _key("future", active_from=1000)])
    assert ring.signing_key(500).kid == "new"
    assert ring.signing_key(50).kid == "old"
    assert ring.signing_key(1000).kid == "future"


def test_retired_key_stops_signing_but_verifies_during_grace() -> None:
    """After `retire_after` a key no longer signs, and verifies only until the grace ends."""
    ring = KeyRing([_key("old", retire_after=10 * DAY), _key("new", active_from=9 * DAY)], grace=7 * DAY)
    header = {"alg": "HS256", "kid": "old"}
    assert ring.signing_key(11 * DAY).kid == "new"
    assert ring.verification_key(header, 16 * DAY).kid == "old"
    with pytest.raises(GuardError) as info:
        ring.verification_key(header, 17 * DAY)
    assert info.value.reason == "key_outside_validity"
    assert ring.verify_until(ring.verification_key(header, 11 * DAY)) == 17 * DAY


def test_default_grace_is_seven_days() -> None:
    """A ring's default grace period is seven days."""
    assert KeyRing([_key("a")]).grace == 7 * DAY


def test_no_active_key_is_a_configuration_error() -> None:
    """Signing when every key is retired or not yet active is a configuration error."""
    ring = KeyRing([_key("a", active_from=100, retire_after=200)])
    with pytest.raises(ConfigurationError, match="active"):
        ring.signing_key(50)
    with pytest.raises(ConfigurationError, match="active"):
        ring.signing_key(250)


def test_key_not_yet_active_does_not_verify() -> None:
    """A token naming a key before its `active_from` is refused."""
    ring = KeyRing([_key("a", active_from=100)])
    with pytest.raises(GuardError, match="invalid_token"):
        ring.verification_key({"alg": "HS256", "kid": "a"}, 50)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ({"alg": "HS256", "kid": "a", "jwk": {"kty": "oct", "k": "AAAA"}}, "forbidden_header:jwk"),
        ({"alg": "HS256", "kid": "a", "jku": "https://evil.example/keys"}, "forbidden_header:jku"),
        ({"alg": "HS256", "kid": "a", "x5u": "https://evil.example/cert"}, "forbidden_header:x5u"),
        ({"alg": "HS256", "kid": "a", "x5c": ["MIIB"]}, "forbidden_header:x5c"),
        ({"alg": "HS256", "kid": "a", "crit": ["exp"]}, "forbidden_header:crit"),
        ({"alg": "HS256", "kid": "a", "b64": False}, "forbidden_header:b64"),
        ({"alg": "HS256"}, "missing_kid_and_no_default_key"),
        ({"alg": "HS256", "kid": "../../etc/passwd"}, "unknown_kid"),
        ({"alg": "HS256", "kid": "a' OR '1'='1"}, "unknown_kid"),
        ({"alg": "HS256", "kid": ["a"]}, "unknown_kid"),
        ({"alg": "HS512", "kid": "a"}, "algorithm_not_allowed"),
        ({"alg": "none", "kid": "a"}, "algorithm_not_allowed"),
        ({"kid": "a"}, "algorithm_not_allowed"),
    ],
)
def test_dangerous_headers_are_refused(header: dict[str, object], reason: str) -> None:
    """Embedded keys, key URLs, crit, unknown/injected kids and foreign algorithms are invalid tokens."""
    ring = KeyRing([_key("a")])
    with pytest.raises(GuardError) as info:
        ring.verification_key(header, 0)
    assert info.value.code is ErrorCode.INVALID_TOKEN
    assert info.value.reason == reason


def test_single_builds_a_one_key_ring_from_text() -> None:
    """`KeyRing.single` accepts a text secret and names the key."""
    ring = KeyRing.single("x" * 32, kid="main")
    assert ring.signing_key(0).kid == "main"
    assert "main" in repr(ring)
