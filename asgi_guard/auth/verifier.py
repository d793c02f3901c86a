"""JWT verification: pinned key and algorithm, required claims, time checks on the injected clock.

PyJWT checks the signature, the presence of the required claims (``sub``, ``exp``, ``iat``, ``type``),
``iss``/``aud`` when configured and the types of ``sub``/``jti``. ``jti`` is optional: tokens we issue
carry one, an existing deployment's may not; a token without one is identified (for revocation and
logout) by the SHA-256 of its signed part, so the raw token is never stored. The signed part, not the
whole string: base64url leaves spare bits in the last character of the signature, so one token has
several spellings that verify, and a revocation keyed on one spelling must refuse them all. The time claims are
checked here against :class:`~asgi_guard.clock.Clock` (so tests and caches agree on "now"), strictly
numeric: a string or boolean ``exp`` is refused, never coerced, and so is a non-finite or absurd one
(Python's JSON decoder reads ``NaN``, ``Infinity`` and ``1e400``; ``NaN`` compares false with
everything, so it would pass every time check and keep a cache entry alive for ever).
"""

from __future__ import annotations

import hashlib
import re
from time import time as _time
from typing import TYPE_CHECKING, Any, Final

import jwt

from asgi_guard.auth.cache import VerificationCache
from asgi_guard.auth.keyring import unverified_header
from asgi_guard.clock import SYSTEM_CLOCK, Clock
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.principal import Principal

if TYPE_CHECKING:
    from collections.abc import Mapping

    from asgi_guard.auth.keyring import KeyRing

REQUIRED_CLAIMS: Final = ("sub", "exp", "iat", "type")
DIGEST_ID_PREFIX: Final = "sha256:"
"""How the id of a token without ``jti`` starts (no ``jti`` we issue contains a colon)."""
MAX_TIME: Final = 253_402_300_799
"""The largest time claim accepted: 9999-12-31T23:59:59Z (time claims are NumericDate, RFC 7519 §2)."""
TOKEN_TYPES: Final = frozenset({"access", "refresh"})
COMPACT_JWS: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
"""A JWS in compact serialization (RFC 7515 §7.1): three base64url parts, no padding."""


class VerifiedToken:
    """A verified token: its claims and the principal it authenticates."""

    __slots__ = ("claims", "expires_at", "family", "principal", "revocation_ids", "token_id", "type")

    def __init__(self, claims: Mapping[str, Any], principal: Principal) -> None:
        self.claims = claims
        self.principal = principal
        self.token_id: str = principal.token_id or ""
        self.family: str | None = claims.get("fam")
        self.type: str = claims["type"]
        self.expires_at: float = float(claims["exp"])
        # The ids whose revocation refuses this token (its own jti and its refresh family); built once,
        # since a cached token is checked against the revocation store on every request.
        self.revocation_ids: tuple[str, ...] = (self.token_id,) if self.family is None else (self.token_id, self.family)


def _number(claims: Mapping[str, Any], name: str) -> float:
    """A time claim as seconds: an int or a finite float in ``[0, MAX_TIME]``, nothing else."""
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GuardError(ErrorCode.INVALID_TOKEN, f"non_numeric_{name}")
    # The comparison is false for NaN, so NaN is refused here as well as infinities and huge ints.
    if not 0 <= value <= MAX_TIME:
        raise GuardError(ErrorCode.INVALID_TOKEN, f"out_of_range_{name}")
    return float(value)


def _strings(value: Any, name: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise GuardError(ErrorCode.INVALID_TOKEN, f"bad_claim:{name}")
    return frozenset(value)


def _communities(value: Any) -> dict[str, frozenset[str]]:
    """``["c1", "c2"]`` (membership) or ``{"c1": ["moderator"]}`` (membership with roles there)."""
    if value is None:
        return {}
    if isinstance(value, list):
        return {community: frozenset() for community in _strings(value, "communities")}
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {community: _strings(roles, "communities") for community, roles in value.items()}
    raise GuardError(ErrorCode.INVALID_TOKEN, "bad_claim:communities")


def token_id_of(token: str, claims: Mapping[str, Any]) -> str:
    """The id revocation keys on: the ``jti``, or ``sha256:<hex>`` of the token's signed part
    (``header.payload``, fixed by the signature; the signature's own spelling is not) when it has none."""
    jti = claims.get("jti")
    if isinstance(jti, str):
        return jti
    signed = token.rpartition(".")[0]
    return DIGEST_ID_PREFIX + hashlib.sha256(signed.encode("ascii")).hexdigest()


def principal_from_claims(claims: Mapping[str, Any], token_id: str | None = None) -> Principal:
    """The principal a verified access token stands for (``token_id``: default the ``jti``)."""
    username = claims.get("username")
    return Principal(
        claims["sub"],
        username=username if isinstance(username, str) else "",
        roles=_strings(claims.get("roles"), "roles"),
        permissions=_strings(claims.get("permissions"), "permissions"),
        communities=_communities(claims.get("communities")),
        method="jwt",
        token_id=claims.get("jti") if token_id is None else token_id,
        expires_at=float(claims["exp"]),
        claims=claims,
    )


class JWTVerifier:
    """Verifies tokens against a :class:`KeyRing`, with an optional verification cache.

    Args:
        keyring: the keys (each pins its algorithm).
        issuer: required ``iss`` value, or ``None`` to not check it.
        audience: required ``aud`` value, or ``None`` to not check it.
        leeway: seconds of clock skew tolerated on ``exp``, ``nbf`` and ``iat``.
        clock: the time source.
        cache_size: entries in the verification cache (0 disables it).
    """

    __slots__ = ("_api", "_audience", "_cache", "_clock", "_issuer", "_leeway", "keyring")

    def __init__(
        self,
        keyring: KeyRing,
        *,
        issuer: str | None = None,
        audience: str | None = None,
        leeway: float = 0.0,
        clock: Clock = SYSTEM_CLOCK,
        cache_size: int = 10_000,
    ) -> None:
        self.keyring = keyring
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._clock = clock
        self._cache: VerificationCache[VerifiedToken] | None = VerificationCache(cache_size) if cache_size else None
        self._api = jwt.PyJWT(
            {
                "require": list(REQUIRED_CLAIMS),
                # Time claims are checked below on the injected clock, strictly numeric.
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": audience is not None,
                "verify_iss": issuer is not None,
                "strict_aud": False,
            }
        )

    def verify(self, token: str, expected_type: str = "access") -> VerifiedToken:
        """Verify ``token`` (cached when possible) and check its ``type``.

        Raises:
            GuardError: ``invalid_token`` (bad form, key, signature, claim or type) or
                ``token_expired``.
        """
        now = _time() if self._clock is SYSTEM_CLOCK else self._clock.time()
        cached = self._cache.get(token, now) if self._cache is not None else None
        verified = cached if cached is not None else self._verify_uncached(token, now)
        if verified.type != expected_type:
            raise GuardError(ErrorCode.INVALID_TOKEN, f"wrong_token_type:{verified.type}")
        return verified

    def _verify_uncached(self, token: str, now: float) -> VerifiedToken:
        header = unverified_header(token)
        key = self.keyring.verification_key(header, now)
        # RFC 7515 compact form: three unpadded base64url parts. PyJWT also decodes padded and
        # standard-alphabet spellings, each an alias of one token (its own cache slot): refused here,
        # whatever carried the token (bearer header or cookie).
        if not COMPACT_JWS.fullmatch(token):
            raise GuardError(ErrorCode.INVALID_TOKEN, "malformed_compact_form")
        try:
            claims: dict[str, Any] = self._api.decode(
                token, key.secret, algorithms=[key.algorithm], audience=self._audience, issuer=self._issuer
            )
        except jwt.MissingRequiredClaimError as exc:
            raise GuardError(ErrorCode.INVALID_TOKEN, f"missing_claim:{exc.claim}") from exc
        except jwt.PyJWTError as exc:
            raise GuardError(ErrorCode.INVALID_TOKEN, type(exc).__name__) from exc
        # Every time claim is read (and so range-checked) before any is compared.
        exp = _number(claims, "exp")
        iat = _number(claims, "iat")
        nbf = _number(claims, "nbf") if "nbf" in claims else None
        if exp <= now - self._leeway:
            raise GuardError(ErrorCode.TOKEN_EXPIRED, "expired")
        if iat > now + self._leeway:
            raise GuardError(ErrorCode.INVALID_TOKEN, "issued_in_future")
        if nbf is not None and nbf > now + self._leeway:
            raise GuardError(ErrorCode.INVALID_TOKEN, "not_yet_valid")
        if claims["type"] not in TOKEN_TYPES:
            raise GuardError(ErrorCode.INVALID_TOKEN, "unknown_token_type")
        if not claims["sub"] or claims.get("jti") == "":
            raise GuardError(ErrorCode.INVALID_TOKEN, "empty_sub_or_jti")
        family = claims.get("fam")
        if family is not None and not isinstance(family, str):
            raise GuardError(ErrorCode.INVALID_TOKEN, "bad_claim:fam")
        verified = VerifiedToken(claims, principal_from_claims(claims, token_id_of(token, claims)))
        if self._cache is not None:
            until = self.keyring.verify_until(key)
            expires = exp + self._leeway if until is None else min(exp + self._leeway, until)
            self._cache.put(token, verified, expires)
        return verified


__all__ = (
    "COMPACT_JWS",
    "DIGEST_ID_PREFIX",
    "MAX_TIME",
    "REQUIRED_CLAIMS",
    "JWTVerifier",
    "VerifiedToken",
    "principal_from_claims",
    "token_id_of",
)
