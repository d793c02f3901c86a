"""id_token validation: signature against the provider's JWKS (joserfc), claims by authlib's ``CodeIDToken``.

Checked: the header's ``alg`` is one of the provider's asymmetric algorithms (so ``alg=none`` and
HMAC keyed with the public key never verify), the signature against the key named by ``kid`` (the
key set is cached and fetched again when an unknown ``kid`` appears: the provider rotated its keys),
``iss``, ``aud`` (our client id), ``azp``, ``exp``/``iat`` with a small leeway, ``nonce`` (required:
we always send one; a provider omitting it fails closed) and ``at_hash`` when present.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final

import httpx2
from authlib.oidc.core import CodeIDToken
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from asgi_guard.clock import SYSTEM_CLOCK, Clock
from asgi_guard.oauth.errors import ProviderError

if TYPE_CHECKING:
    from asgi_guard.oauth.providers import Provider

MAX_JWKS_BYTES: Final = 256 * 1024


class JWKSCache:
    """The providers' key sets, fetched over HTTP and kept for ``ttl`` seconds.

    An unknown ``kid`` triggers one refetch, at most every ``min_refetch`` seconds per key set, so
    forged ``kid`` values cannot make us hammer the provider.
    """

    __slots__ = ("_clock", "_entries", "_locks", "http", "min_refetch", "ttl")

    def __init__(
        self, http: httpx2.AsyncClient, *, ttl: float = 3600.0, min_refetch: float = 10.0, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.http = http
        self.ttl = ttl
        self.min_refetch = min_refetch
        self._clock = clock
        self._entries: dict[str, tuple[KeySet, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, uri: str, kid: str | None) -> KeySet:
        """The key set at ``uri``, refetched when stale or when it lacks ``kid``."""
        entry = self._entries.get(uri)
        if entry is not None and self._fresh(entry, kid):
            return entry[0]
        lock = self._locks.setdefault(uri, asyncio.Lock())
        async with lock:
            entry = self._entries.get(uri)  # another coroutine may have fetched it meanwhile
            if entry is not None and self._fresh(entry, kid):
                return entry[0]
            keys = await self._fetch(uri)
            self._entries[uri] = (keys, self._clock.monotonic())
            return keys

    def _fresh(self, entry: tuple[KeySet, float], kid: str | None) -> bool:
        keys, fetched = entry
        age = self._clock.monotonic() - fetched
        if age >= self.ttl:
            return False
        if kid is None or any(key.kid == kid for key in keys.keys):
            return True
        return age < self.min_refetch  # unknown kid, but we asked very recently: do not refetch

    async def _fetch(self, uri: str) -> KeySet:
        try:
            response = await self.http.get(uri, headers={"Accept": "application/json"})
        except httpx2.HTTPError as exc:
            raise ProviderError(f"jwks_unreachable:{type(exc).__name__}", unavailable=True) from exc
        if response.status_code >= 500:
            raise ProviderError(f"jwks_status_{response.status_code}", unavailable=True)
        if response.status_code != 200 or len(response.content) > MAX_JWKS_BYTES:
            raise ProviderError(f"jwks_status_{response.status_code}")
        try:
            data = response.json()
            return KeySet.import_key_set(data)
        except (ValueError, TypeError, KeyError, RecursionError, JoseError) as exc:  # RecursionError: nested deep
            raise ProviderError("jwks_invalid") from exc


async def validate_id_token(
    provider: Provider,
    id_token: str,
    *,
    nonce: str,
    access_token: str,
    jwks: JWKSCache,
    leeway: float = 60.0,
    clock: Clock = SYSTEM_CLOCK,
) -> dict[str, Any]:
    """The claims of ``id_token`` once everything listed in the module docstring checks out.

    Raises:
        ProviderError: ``id_token_<cause>`` for any failure (the cause goes to the security event).
    """
    try:
        header = jws.extract_compact(id_token.encode()).protected
    except (JoseError, ValueError) as exc:
        raise ProviderError("id_token_malformed") from exc
    alg = header.get("alg")
    if alg not in provider.id_token_algorithms:
        raise ProviderError(f"id_token_alg_refused:{str(alg)[:16]}")
    kid = header.get("kid")
    keys = await jwks.get(provider.jwks_uri, kid if isinstance(kid, str) else None)
    try:
        token = jwt.decode(id_token, keys, algorithms=list(provider.id_token_algorithms))
        claims = CodeIDToken(
            token.claims,
            token.header,
            options={
                "iss": {"essential": True, "value": provider.issuer},
                "aud": {"essential": True, "value": provider.client_id},
                "nonce": {"essential": True, "value": nonce},
            },
            params={"nonce": nonce, "client_id": provider.client_id, "access_token": access_token},
        )
        claims.validate(now=int(clock.time()), leeway=int(leeway))
    except JoseError as exc:
        raise ProviderError(f"id_token_{exc.error}:{exc.description or ''}"[:120]) from exc
    except (ValueError, TypeError) as exc:
        raise ProviderError("id_token_invalid") from exc
    return dict(claims)


__all__ = ("JWKSCache", "validate_id_token")
