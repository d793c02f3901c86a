"""``AbuseMiddleware``: failure-charged limits checked before credentials, charged after failures."""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from starlette.requests import cookie_parser

from asgi_guard._memo import Memo
from asgi_guard._responses import send_denial
from asgi_guard.abuse.counters import MemoryPatternStore, RedisPatternStore
from asgi_guard.abuse.patterns import Detector
from asgi_guard.context import GuardContext, client_host
from asgi_guard.errors import ErrorCode, GuardError
from asgi_guard.events.emit import emit
from asgi_guard.ratelimit.compiled import key_part
from asgi_guard.ratelimit.failover import configured_failover
from asgi_guard.ratelimit.gcra import Check, Outcome
from asgi_guard.ratelimit.rate import MICROS
from asgi_guard.ratelimit.redis import RedisRateLimitBackend

if TYPE_CHECKING:
    from asgi_guard.abuse.config import AbuseConfig
    from asgi_guard.abuse.counters import PatternStore
    from asgi_guard.principal import Principal
    from asgi_guard.types import ASGIApp, Receive, Scope, Send

_AUTHORIZATION: Final = frozenset({"insufficient_permissions", "community_forbidden", "csrf_failed"})
"""Refusals of a request whose credential was valid: a cross-site page can provoke them."""

MEMO_MAX_BYTES: Final = 1024
"""Values longer than this are never remembered (known-good clients, credential fingerprints): a
bearer JWT fits, and a client sending huge credentials pins at most TRUSTED_LIMIT x 1 KiB per memo."""
TRUSTED_LIMIT: Final = 10_000
"""Known-good clients (and credential fingerprints) remembered per process (oldest dropped first)."""


class _Bucket(NamedTuple):
    """One failure limit applied to one request: the key, and the two checks on it.

    ``peek`` asks "would one more failure fit?" without taking anything: a bucket of ``burst``
    refuses a failure exactly when a bucket of ``burst - 1`` refuses a request of cost 0, and a cost
    of 0 stores nothing new. ``charge`` takes one token.
    """

    name: str
    peek: Check
    charge: Check


class AbuseMiddleware:
    """Refuses (429, ``Retry-After``) a client or credential whose failure bucket is empty, before
    any credential is checked; after the response, charges failures and watches for patterns.

    Keys are the failing client (its address, the fingerprint of the credential it presented) and,
    after authentication, the principal: never a targeted account alone, so nobody can lock a user
    out by failing in their name from elsewhere. Websocket handshakes are treated like requests;
    lifespan passes through.
    """

    __slots__ = (
        "_cookies",
        "_credential_headers",
        "_detector",
        "_failover",
        "_failures",
        "_fingerprints",
        "_fmt",
        "_limits",
        "_monotonic",
        "_shadow",
        "_statuses",
        "_trust_for",
        "_trusted",
        "_watch_leaks",
        "app",
        "config",
    )

    def __init__(self, app: ASGIApp, config: AbuseConfig) -> None:
        self.app = app
        self.config = config
        self._failover, backend, clock = configured_failover(config)
        store: PatternStore = (
            RedisPatternStore(backend.client)
            if isinstance(backend, RedisRateLimitBackend)
            else MemoryPatternStore(clock=clock)
        )
        self._detector = Detector(config.patterns, store, config.on_suspicious, config.prefix, clock, config.meter)
        self._limits = tuple(
            (limit.name, limit.key, limit.parsed_rate.interval_us, limit.capacity) for limit in config.limits
        )
        self._failures = config.failures
        self._statuses = config.failure_statuses
        self._credential_headers = frozenset(name.encode() for name in config.credential_headers)
        self._fingerprints: Memo[bytes, str] = Memo(TRUSTED_LIMIT)
        self._cookies = config.credential_cookies
        self._monotonic = clock.monotonic
        self._watch_leaks = config.patterns.leaked_credential is not None
        self._shadow = config.shadow
        self._fmt = config.error_format
        self._trust_for = config.trust_success_for
        self._trusted: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        ctx, send = GuardContext.enter(scope, send)
        ip = ctx.client_ip or client_host(scope) or "unknown"
        credential = self._credential(scope)
        principal = ctx.principal
        # Known good: this address with this credential (and principal) succeeded in this process and
        # has not failed since. Such a request skips the shared pre-check; any other is checked.
        pair = (ip, credential, principal.id if principal is not None else "")
        until = self._trusted.get(pair)
        trusted = until is not None and until > self._monotonic()
        buckets: list[_Bucket] | None = None
        room = False  # the pre-check saw room in every bucket
        if not trusted and self._limits:
            buckets = self._buckets(ip, credential, principal)
            if buckets:
                verdict = await self._admitted(scope, send, buckets)
                if verdict is None:
                    return
                room = verdict

        await self.app(scope, receive, send)
        status = ctx.status  # recorded by the context's response hook
        denial = ctx.denial
        code = denial.value if denial is not None else None
        failed = code in self._failures if code is not None else status in self._statuses
        principal = ctx.principal
        if failed and code in _AUTHORIZATION and self._maybe_forged(scope):
            return  # a site may have made the holder's browser send it: charging them would let it lock them out
        if failed:
            self._trusted.pop(pair, None)
            if buckets is None:
                buckets = self._buckets(ip, credential, principal)
            await self._failed(scope, buckets, room, code, ip, credential, principal, _provider(ctx))
        elif 0 < status < 400:  # 101: an accepted websocket
            if not trusted:
                self._trust(pair)
            if principal is not None and credential and self._watch_leaks:
                found = self._detector.on_accepted(ip, credential)
                if found:
                    await self._observe(scope, found, ip, credential, principal)

    def _credential(self, scope: Scope) -> str:
        """SHA-256 fingerprint of the presented credential (its scheme dropped), ``""`` without one.

        A credential header wins; otherwise a session cookie (a browser's credential) counts."""
        cookie: bytes | None = None
        for name, value in scope.get("headers") or ():
            if name in self._credential_headers and value:
                return self._fingerprint(value, value.strip().rpartition(b" ")[2])
            if name == b"cookie" and self._cookies:
                cookie = value
        if cookie is not None:
            parsed = cookie_parser(cookie.decode("latin-1"))
            for name in self._cookies:
                found = parsed.get(name)
                if found:
                    return self._fingerprint(cookie, found.encode("latin-1", "replace"))
        return ""

    def _maybe_forged(self, scope: Scope) -> bool:
        """Whether a browser says it sent this request for another site, with its cookie credential
        (a page cannot make a browser add a credential header)."""
        site: bytes | None = None
        for name, value in scope.get("headers") or ():
            if name in self._credential_headers:
                return False
            if name == b"sec-fetch-site":
                site = value
        return site is not None and site not in (b"same-origin", b"none")

    def _fingerprint(self, raw: bytes, secret: bytes) -> str:
        found = self._fingerprints.get(raw)
        if found is None:
            found = hashlib.sha256(secret).hexdigest()[:32]
            if len(raw) <= MEMO_MAX_BYTES:  # a client cannot pin large values in memory
                self._fingerprints.put(raw, found)
        return found

    def _buckets(self, ip: str, credential: str, principal: Principal | None) -> list[_Bucket]:
        buckets: list[_Bucket] = []
        prefix = self.config.prefix
        for name, key, interval, burst in self._limits:
            if key == "ip":
                subject = "ip:" + key_part(ip)
            elif key == "credential":
                if not credential:
                    continue
                subject = "c:" + credential
            else:
                if principal is None:
                    continue
                subject = "u:" + key_part(principal.id)
            storage = f"{prefix}:{{{subject}}}:{name}"
            buckets.append(_Bucket(name, Check(storage, interval, burst - 1, 0), Check(storage, interval, burst, 1)))
        return buckets

    def _trust(self, pair: tuple[str, str, str]) -> None:
        if not self._trust_for or len(pair[0]) + len(pair[2]) > MEMO_MAX_BYTES:
            return
        trusted = self._trusted
        trusted[pair] = self._monotonic() + self._trust_for
        trusted.move_to_end(pair)
        if len(trusted) > TRUSTED_LIMIT:
            trusted.popitem(last=False)

    async def _admitted(self, scope: Scope, send: Send, buckets: list[_Bucket]) -> bool | None:
        """``True`` when one more failure fits every bucket. Otherwise answers 429 (503 when the
        backend failed and the fail mode is closed) and returns ``None``; in shadow mode it only logs
        and returns ``False``."""
        outcome = await self._decide(scope, [bucket.peek for bucket in buckets])
        if outcome is None:
            retry = str(self._failover.breaker.retry_after).encode()
            error = GuardError(
                ErrorCode.SERVICE_UNAVAILABLE, "failure_limit_backend_unavailable", headers=((b"retry-after", retry),)
            )
            await send_denial(scope, send, error, fmt=self._fmt)
            return None
        if outcome.allowed:
            return True
        refused = [
            (bucket, state)
            for bucket, state in zip(buckets, outcome.states, strict=True)
            if state and not state.allowed
        ]
        names = ",".join(bucket.name for bucket, _ in refused)
        retry_us = max(state.retry_after_us for _, state in refused)
        retry = b"%d" % max(1, -(-retry_us // MICROS))
        if self._shadow:
            emit(scope, "rate_limit_hit", "shadow", "failure_limit_exceeded", limit=names)
            return False
        error = GuardError(ErrorCode.RATE_LIMIT_EXCEEDED, "failure_limit_exceeded", headers=((b"retry-after", retry),))
        await send_denial(scope, send, error, fmt=self._fmt, limit=names)
        return None

    async def _decide(self, scope: Scope, checks: list[Check]) -> Outcome | None:
        """The backend's outcome, degraded per fail mode when it failed (``None``: refuse, 503)."""
        attempt = await self._failover.check(checks)
        for state in attempt.transitions:
            emit(
                scope,
                "rate_limit_backend",
                "error" if state == "open" else "allow",
                f"circuit_{state}",
                cause=attempt.failure or "recovered",
            )
        if attempt.outcome is not None:
            return attempt.outcome
        mode = self.config.fail_mode
        if mode == "local":
            return await self._failover.local.check(checks)
        if mode == "open":
            emit(scope, "rate_limit_fail_open", "allow", attempt.failure, limit="failure_limits")
            return Outcome(True, 0, tuple(None for _ in checks))
        return None

    async def _failed(
        self,
        scope: Scope,
        buckets: list[_Bucket],
        room: bool,
        code: str | None,
        ip: str,
        credential: str,
        principal: Principal | None,
        provider: str,
    ) -> None:
        """Charge the buckets and count the failure's patterns, concurrently: one round trip (the
        response is already sent). All buckets in one call when the pre-check saw room in each (a
        request racing in between may make that call refuse them all: one charge lost, never an
        extra one); otherwise each on its own, so an empty bucket does not spare the others."""
        if room and len(buckets) > 1:
            work = [self._decide(scope, [bucket.charge for bucket in buckets])]
        else:
            work = [self._decide(scope, [bucket.charge]) for bucket in buckets]
        found = self._detector.on_failure(code, ip, credential, principal, provider)
        if found:
            work.append(self._observe(scope, found, ip, credential, principal))
        if self._failover.remote:
            await asyncio.gather(*work)
        else:  # nothing to wait for: no tasks either
            for step in work:
                await step

    async def _observe(
        self, scope: Scope, found: list[Any], ip: str, credential: str, principal: Principal | None
    ) -> None:
        try:
            await self._detector.observe(scope, found, ip, credential, principal)
        except Exception as exc:  # the pattern store is down: the response is sent, report and go on
            emit(scope, "backend_failure", "error", f"pattern_store_unavailable:{type(exc).__name__}")
        return None


def _provider(ctx: GuardContext) -> str:
    """The webhook provider named by the request's signature failure (``""`` when none)."""
    for event in reversed(ctx.events):
        provider = event.extra.get("provider")
        if provider:
            return provider
    return ""


__all__ = ("MEMO_MAX_BYTES", "TRUSTED_LIMIT", "AbuseMiddleware")
