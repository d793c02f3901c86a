"""JWT signing keys with rotation: the newest active key signs, older keys verify until their grace ends.

Each key pins its own algorithm (RFC 8725 §2.1: never take the algorithm from the token), the
``kid`` header only ever selects a key from a dictionary (never a path or a query), a token without
``kid`` is verified by the ring's designated default key alone (never by trying every key: which
key a token names must not depend on which one happens to verify), and header
parameters that would let the token bring its own key (``jwk``, ``jku``, ``x5u``, ``x5c``) or
change how it is processed (``crit``, ``b64``) are refused outright.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Final

import jwt
import msgspec

from asgi_guard.errors import ConfigurationError, ErrorCode, GuardError

if TYPE_CHECKING:
    from collections.abc import Iterable

HMAC_ALGORITHMS: Final = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
MIN_SECRET_BYTES: Final = 32
DEFAULT_GRACE: Final = 7 * 24 * 3600.0
FORBIDDEN_HEADERS: Final = frozenset({"jwk", "jku", "x5u", "x5c", "crit", "b64"})

_jws: Final = jwt.PyJWS()


class JWTKey(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One HMAC key of a :class:`KeyRing`.

    Attributes:
        kid: the key id written into the ``kid`` header of tokens it signs.
        secret: the HMAC secret: at least 32 bytes, and at least the hash size (RFC 7518 §3.2).
        algorithm: ``HS256`` (default), ``HS384`` or ``HS512``; the only algorithm this key accepts.
        active_from: epoch seconds from which the key may sign (and verify).
        retire_after: epoch seconds after which the key no longer signs; it still verifies for the
            ring's grace period (``None``: never retires).
    """

    kid: str
    secret: bytes
    algorithm: str = "HS256"
    active_from: float = 0.0
    retire_after: float | None = None

    def __post_init__(self) -> None:
        if not self.kid or len(self.kid) > 128:
            raise ConfigurationError.expected("a kid of 1-128 characters", self.kid, "JWTKey.kid")
        digest = HMAC_ALGORITHMS.get(self.algorithm)
        if digest is None:
            raise ConfigurationError.expected(f"one of {sorted(HMAC_ALGORITHMS)}", self.algorithm, "JWTKey.algorithm")
        minimum = max(MIN_SECRET_BYTES, digest().digest_size)
        if not isinstance(self.secret, bytes) or len(self.secret) < minimum:
            size = len(self.secret) if isinstance(self.secret, bytes) else type(self.secret).__name__
            raise ConfigurationError.expected(
                f"a secret of at least {minimum} bytes", size, f"JWTKey({self.kid}).secret"
            )
        if self.retire_after is not None and self.retire_after <= self.active_from:
            raise ConfigurationError.expected(
                "`retire_after` > `active_from`", self.retire_after, f"JWTKey({self.kid}).retire_after"
            )

    def __repr__(self) -> str:  # never show the secret
        return f"JWTKey(kid={self.kid!r}, algorithm={self.algorithm!r})"


class KeyRing:
    """The keys that sign and verify tokens.

    Args:
        keys: the keys; kids must be unique.
        grace: seconds a retired key keeps verifying after ``retire_after`` (default 7 days).
        default_kid: the key that verifies tokens carrying no ``kid`` header (tokens issued before
            the ring existed, such as an existing deployment's own); ``None`` (default) refuses them.
            Only verification uses it: tokens the ring signs always name their key.

    Raises:
        ConfigurationError: no keys, duplicate kids, a negative grace, or an unknown ``default_kid``.
    """

    __slots__ = ("_by_kid", "_newest_first", "default", "grace")

    def __init__(self, keys: Iterable[JWTKey], *, grace: float = DEFAULT_GRACE, default_kid: str | None = None) -> None:
        ordered = sorted(keys, key=lambda key: key.active_from, reverse=True)
        if not ordered:
            raise ConfigurationError.expected("at least one key", [], "KeyRing.keys")
        by_kid: dict[str, JWTKey] = {}
        for key in ordered:
            if key.kid in by_kid:
                raise ConfigurationError.expected("unique kids", key.kid, "KeyRing.keys")
            by_kid[key.kid] = key
        if grace < 0:
            raise ConfigurationError.expected("a grace >= 0", grace, "KeyRing.grace")
        if default_kid is not None and default_kid not in by_kid:
            raise ConfigurationError.expected(
                f"one of the ring's kids {sorted(by_kid)}", default_kid, "KeyRing.default_kid"
            )
        self.default: JWTKey | None = None if default_kid is None else by_kid[default_kid]
        self._by_kid = by_kid
        self._newest_first = tuple(ordered)
        self.grace = grace

    @classmethod
    def single(
        cls, secret: bytes | str, *, kid: str = "default", algorithm: str = "HS256", accept_without_kid: bool = False
    ) -> KeyRing:
        """A ring of one key that never retires; with ``accept_without_kid`` it is also the default key
        (tokens without a ``kid`` header, as an existing deployment issued them, verify against it)."""
        raw = secret.encode() if isinstance(secret, str) else secret
        return cls([JWTKey(kid=kid, secret=raw, algorithm=algorithm)], default_kid=kid if accept_without_kid else None)

    def signing_key(self, now: float) -> JWTKey:
        """The newest key active at ``now``.

        Raises:
            ConfigurationError: no key may sign at ``now`` (all retired or not yet active).
        """
        for key in self._newest_first:
            if key.active_from <= now and (key.retire_after is None or now < key.retire_after):
                return key
        raise ConfigurationError.expected("a key active now", now, "KeyRing.signing_key")

    def verification_key(self, header: dict[str, Any], now: float) -> JWTKey:
        """The key for a token's (unverified) header, after refusing dangerous headers.

        A header without ``kid`` selects the default key, if the ring has one; a ``kid`` the ring does
        not know is refused, never retried with the default.

        Raises:
            GuardError: ``invalid_token`` for an unknown or out-of-window kid, a missing kid on a ring
                without a default key, a forbidden header, or an algorithm other than the key's own.
        """
        forbidden = FORBIDDEN_HEADERS.intersection(header)
        if forbidden:
            raise GuardError(ErrorCode.INVALID_TOKEN, f"forbidden_header:{sorted(forbidden)[0]}")
        if "kid" not in header:
            key = self.default
            if key is None:
                raise GuardError(ErrorCode.INVALID_TOKEN, "missing_kid_and_no_default_key")
        else:
            kid = header["kid"]
            key = self._by_kid.get(kid) if isinstance(kid, str) else None
            if key is None:
                raise GuardError(ErrorCode.INVALID_TOKEN, "unknown_kid")
        if header.get("alg") != key.algorithm:
            raise GuardError(ErrorCode.INVALID_TOKEN, "algorithm_not_allowed")
        if now < key.active_from or (key.retire_after is not None and now >= key.retire_after + self.grace):
            raise GuardError(ErrorCode.INVALID_TOKEN, "key_outside_validity")
        return key

    def verify_until(self, key: JWTKey) -> float | None:
        """When tokens signed by ``key`` stop verifying (``None``: never, by the key)."""
        return None if key.retire_after is None else key.retire_after + self.grace

    def verify_jws(self, token: str, now: float) -> bytes:
        """Verify a compact JWS signed by one of the ring's keys and return its payload bytes.

        Raises:
            GuardError: ``invalid_token`` for any malformed, unknown-key or badly signed input.
        """
        header = unverified_header(token)
        key = self.verification_key(header, now)
        try:
            payload: bytes = _jws.decode(token, key.secret, algorithms=[key.algorithm])
        except jwt.PyJWTError as exc:
            raise GuardError(ErrorCode.INVALID_TOKEN, "bad_signature") from exc
        return payload

    def __repr__(self) -> str:
        default = None if self.default is None else self.default.kid
        return f"KeyRing(kids={list(self._by_kid)!r}, grace={self.grace!r}, default_kid={default!r})"


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header of a compact token, shape-checked (three parts, JSON object, string kid).

    Raises:
        GuardError: ``invalid_token`` for a malformed token or header (including a bad ``crit``).
    """
    if token.count(".") != 2:
        raise GuardError(ErrorCode.INVALID_TOKEN, "malformed_compact_form")
    try:
        return _jws.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise GuardError(ErrorCode.INVALID_TOKEN, "malformed_header") from exc


__all__ = ("DEFAULT_GRACE", "HMAC_ALGORITHMS", "MIN_SECRET_BYTES", "JWTKey", "KeyRing", "unverified_header")
