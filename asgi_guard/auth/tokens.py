"""Issuing, rotating and revoking tokens.

Every login starts a token *family* (the ``fam`` claim, shared by all access and refresh tokens
descending from it). ``refresh()`` rotates: the presented refresh token is marked used and a new
pair is issued. A second use of the same refresh token is accepted only within ``reuse_grace``
seconds (two tabs racing on one refresh); after that it is treated as theft and the whole family is
revoked (OAuth 2.0 Security BCP, RFC 9700 §4.14.2).

Rotation is idempotent inside the grace: the new pair is derived from the presented token's id and
the time of its first use (jti = a hash of the old jti, iat/exp from the first use), so every
refresh racing on one token receives the *same* pair, byte for byte. Fifty concurrent refreshes
mint exactly one pair, and nothing about the pair needs to be stored.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

import jwt
import msgspec

from asgi_guard.auth.verifier import JWTVerifier
from asgi_guard.clock import SYSTEM_CLOCK, Clock
from asgi_guard.errors import ConfigurationError, ErrorCode, GuardError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Iterable

    from asgi_guard.auth.keyring import KeyRing
    from asgi_guard.auth.revocation import RevocationStore
    from asgi_guard.auth.verifier import VerifiedToken

MIN_ACCESS_TTL: Final = 3600.0
MAX_ACCESS_TTL: Final = 86400.0

_T = TypeVar("_T")


async def _store(call: Awaitable[_T]) -> _T:
    """``call``'s result; the revocation store failing becomes ``service_unavailable`` (a 503).

    Backends raise their own errors (``RedisError``, ``SQLAlchemyError``, ``OSError``, or
    ``RevocationUnavailable`` from ``is_revoked``): whatever it is, the answer cannot be trusted, so the
    call is refused, never passed and never a 500. A ``GuardError`` passes through unchanged.
    """
    try:
        return await call
    except GuardError:
        raise
    except Exception as exc:  # any backend failure: refuse (503), never a 500 and never a pass
        raise GuardError(ErrorCode.SERVICE_UNAVAILABLE, "revocation_store_unavailable") from exc


class TokenPair(msgspec.Struct, frozen=True, kw_only=True):
    """What a login or refresh returns (the shape of an OAuth 2.0 token response)."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret

    def __repr__(self) -> str:  # both tokens are bearer secrets: never in a log or a traceback
        return f"TokenPair(expires_in={self.expires_in!r}, token_type={self.token_type!r})"


class TokenService:
    """Issues access and refresh tokens signed by a :class:`KeyRing`, rotates and revokes them.

    Args:
        keyring: the signing keys.
        revocation: where revocations and used refresh tokens are recorded.
        issuer: the ``iss`` claim written and required (``None``: none).
        audience: the ``aud`` claim written and required (``None``: none).
        access_ttl: access-token lifetime in seconds, 1 to 24 hours.
        refresh_ttl: refresh-token lifetime in seconds (at least the access lifetime).
        reuse_grace: seconds a used refresh token is still accepted (racing clients).
        leeway: clock skew tolerated when verifying.
        clock: the time source.
    """

    __slots__ = (
        "_clock",
        "_issuer_audience",
        "_verifier",
        "access_ttl",
        "keyring",
        "refresh_ttl",
        "reuse_grace",
        "revocation",
    )

    def __init__(
        self,
        keyring: KeyRing,
        revocation: RevocationStore,
        *,
        issuer: str | None = None,
        audience: str | None = None,
        access_ttl: float = MIN_ACCESS_TTL,
        refresh_ttl: float = 30 * 86400.0,
        reuse_grace: float = 10.0,
        leeway: float = 0.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if not MIN_ACCESS_TTL <= access_ttl <= MAX_ACCESS_TTL:
            raise ConfigurationError.expected("an access_ttl of 3600 to 86400 seconds", access_ttl, "TokenService")
        if refresh_ttl < access_ttl:
            raise ConfigurationError.expected("refresh_ttl >= access_ttl", refresh_ttl, "TokenService")
        if not 0 <= reuse_grace <= 60:
            raise ConfigurationError.expected("a reuse_grace of 0 to 60 seconds", reuse_grace, "TokenService")
        self.keyring = keyring
        self.revocation = revocation
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.reuse_grace = reuse_grace
        self._clock = clock
        self._verifier = JWTVerifier(
            keyring, issuer=issuer, audience=audience, leeway=leeway, clock=clock, cache_size=0
        )
        self._issuer_audience: dict[str, str] = {}
        if issuer is not None:
            self._issuer_audience["iss"] = issuer
        if audience is not None:
            self._issuer_audience["aud"] = audience

    def _sign(self, claims: dict[str, Any], now: float) -> str:
        key = self.keyring.signing_key(now)
        return jwt.encode(claims, key.secret, algorithm=key.algorithm, headers={"kid": key.kid})

    def issue_access(
        self,
        sub: str,
        *,
        username: str = "",
        email: str = "",
        roles: Iterable[str] = (),
        communities: Iterable[str] | Mapping[str, Iterable[str]] = (),
        family: str | None = None,
        ttl: float | None = None,
    ) -> str:
        """A signed access token for ``sub``.

        Args:
            ttl: lifetime in seconds (default: the service's ``access_ttl``; 1 to 24 hours).
        """
        lifetime = self.access_ttl if ttl is None else ttl
        if not MIN_ACCESS_TTL <= lifetime <= MAX_ACCESS_TTL:
            raise ConfigurationError.expected("a ttl of 3600 to 86400 seconds", lifetime, "issue_access")
        now = self._clock.time()
        claims = self._profile(sub, username, email, roles, communities)
        claims.update(self._registered("access", now, lifetime, family))
        return self._sign(claims, now)

    def issue_pair(
        self,
        sub: str,
        *,
        username: str = "",
        email: str = "",
        roles: Iterable[str] = (),
        communities: Iterable[str] | Mapping[str, Iterable[str]] = (),
    ) -> TokenPair:
        """A login: a new family, with an access token and a refresh token carrying the same profile."""
        profile = self._profile(sub, username, email, roles, communities)
        return self._pair(profile, family=secrets.token_urlsafe(16))

    def _pair(self, profile: dict[str, Any], family: str, *, at: float | None = None, seed: str = "") -> TokenPair:
        now = self._clock.time() if at is None else at
        access = {**profile, **self._registered("access", now, self.access_ttl, family, seed)}
        refresh = {**profile, **self._registered("refresh", now, self.refresh_ttl, family, seed)}
        return TokenPair(
            access_token=self._sign(access, now),
            refresh_token=self._sign(refresh, now),
            expires_in=int(self.access_ttl),
        )

    def _registered(self, kind: str, now: float, ttl: float, family: str | None, seed: str = "") -> dict[str, Any]:
        claims: dict[str, Any] = {
            "type": kind,
            "iat": int(now),
            "exp": int(now + ttl),
            "jti": _derived_jti(seed, kind) if seed else secrets.token_urlsafe(16),
            **self._issuer_audience,
        }
        if family is not None:
            claims["fam"] = family
        return claims

    @staticmethod
    def _profile(
        sub: str,
        username: str,
        email: str,
        roles: Iterable[str],
        communities: Iterable[str] | Mapping[str, Iterable[str]],
    ) -> dict[str, Any]:
        if not sub:
            raise ConfigurationError.expected("a non-empty subject", sub, "sub")
        claims: dict[str, Any] = {"sub": sub, "roles": sorted(set(roles))}
        if username:
            claims["username"] = username
        if email:
            claims["email"] = email
        if isinstance(communities, Mapping):
            claims["communities"] = {key: sorted(set(value)) for key, value in communities.items()}
        else:
            claims["communities"] = sorted(set(communities))
        return claims

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: verify ``refresh_token``, mark it used and issue a new pair in the same family.

        Raises:
            GuardError: ``invalid_token``/``token_expired`` for a bad token, ``token_revoked`` for
                a revoked one or a reuse after the grace (which revokes the whole family), or
                ``service_unavailable`` when the revocation store fails (the token may be valid).
        """
        verified = self._verifier.verify(refresh_token, expected_type="refresh")
        if await _store(self.revocation.is_revoked(verified.revocation_ids)):
            raise GuardError(ErrorCode.TOKEN_REVOKED, "refresh_revoked")
        family = verified.family or verified.token_id
        first_use = await _store(self.revocation.claim_refresh(verified.token_id, verified.expires_at))
        if first_use is not None and self._clock.time() - first_use > self.reuse_grace:
            await _store(self.revocation.revoke(family, self._clock.time() + self.refresh_ttl))
            raise GuardError(ErrorCode.TOKEN_REVOKED, "refresh_reuse_detected")
        if first_use is None:  # we were first: read back the stamp the store kept, which racing calls see too
            first_use = await _store(self.revocation.claim_refresh(verified.token_id, verified.expires_at))
        claims = verified.claims
        profile = {
            name: claims[name] for name in ("sub", "roles", "communities", "username", "email") if name in claims
        }
        return self._pair(profile, family=family, at=first_use, seed=verified.token_id)

    async def verify(self, token: str, *, expected_type: str = "access") -> VerifiedToken:
        """Verify one of our tokens (signature, claims, type) and check it is not revoked (logout uses this).

        Raises:
            GuardError: ``invalid_token``, ``token_expired`` or ``token_revoked``, or
                ``service_unavailable`` when the revocation store fails.
        """
        verified = self._verifier.verify(token, expected_type=expected_type)
        if await _store(self.revocation.is_revoked(verified.revocation_ids)):
            raise GuardError(ErrorCode.TOKEN_REVOKED, f"{expected_type}_revoked")
        return verified

    async def revoke(self, token: str) -> None:
        """Logout: revoke ``token`` (an access or refresh token); a refresh token takes its family along.

        Raises:
            GuardError: ``invalid_token`` when the token does not verify (an expired token needs no
                revocation and is accepted silently), or ``service_unavailable`` when the revocation
                store cannot record it.
        """
        try:
            verified = self._verifier.verify(token, expected_type="access")
        except GuardError as exc:
            if exc.code is ErrorCode.TOKEN_EXPIRED:
                return
            if not exc.reason.startswith("wrong_token_type"):
                raise
            verified = self._verifier.verify(token, expected_type="refresh")
            if verified.family is not None:
                await _store(self.revocation.revoke(verified.family, self._clock.time() + self.refresh_ttl))
        await _store(self.revocation.revoke(verified.token_id, verified.expires_at))


def _derived_jti(seed: str, kind: str) -> str:
    """The jti of a rotated token: unique per presented token and kind, the same for every racing refresh."""
    digest = hashlib.sha256(f"asgi_guard.rotation\x00{seed}\x00{kind}".encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


__all__ = ("MAX_ACCESS_TTL", "MIN_ACCESS_TTL", "TokenPair", "TokenService")
