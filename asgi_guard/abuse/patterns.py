"""Suspicious activity: five patterns counted in the backend, reported once per window each.

A pattern trips on the observation that reaches its threshold (never one earlier, never again in
the same window): a ``suspicious_activity`` security event (result ``alert``) with the pattern, the
count and the window, a count on the ``asgi_guard.suspicious_activity`` OpenTelemetry counter, and a
call of the configured hook.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

import msgspec
from opentelemetry import metrics

from asgi_guard._memo import Memo
from asgi_guard.abuse.config import SIGNATURE_FAILURES
from asgi_guard.abuse.counters import Op
from asgi_guard.events.emit import emit
from asgi_guard.events.sinks import SECURITY_LOGGER
from asgi_guard.ratelimit.compiled import key_part

if TYPE_CHECKING:
    from asgi_guard.abuse.config import Patterns, SuspiciousHook, Threshold
    from asgi_guard.abuse.counters import PatternStore
    from asgi_guard.clock import Clock
    from asgi_guard.principal import Principal
    from asgi_guard.types import Scope

MEMO_LIMIT: Final = 10_000
"""(credential, address) pairs remembered as already counted in their window, per process."""


class SuspiciousActivity(msgspec.Struct, frozen=True, kw_only=True):
    """One tripped pattern, as the hook receives it.

    Attributes:
        pattern: ``repeated_failures``, ``credential_stuffing``, ``leaked_credential``,
            ``tenant_probing`` or ``signature_burst``.
        subject: who tripped it: a client address, a credential fingerprint, a principal id or a
            webhook provider (never a secret).
        count: occurrences in the window (the threshold, when it trips).
        window: the window in seconds.
        client_ip: the address of the request that tripped it.
        credential: fingerprint of the credential that request presented (``""`` without one).
        principal: the authenticated caller of that request, if any (its claims name the token
            family to revoke).
    """

    pattern: str
    subject: str
    count: int
    window: int
    client_ip: str
    credential: str = ""
    principal: Any = None


class _Watch(msgspec.Struct, frozen=True):
    pattern: str
    subject: str
    threshold: Threshold


class Detector:
    """Turns one finished request into observations, and tripped ones into events and hook calls."""

    __slots__ = ("_clock", "_counter", "_hook", "_logger", "_memo", "_patterns", "_prefix", "_store")

    def __init__(
        self,
        patterns: Patterns,
        store: PatternStore,
        hook: SuspiciousHook | None,
        prefix: str,
        clock: Clock,
        meter: metrics.Meter | None = None,
    ) -> None:
        self._patterns = patterns
        self._store = store
        self._hook = hook
        self._prefix = prefix
        self._clock = clock
        self._memo: Memo[tuple[str, str], float] = Memo(MEMO_LIMIT)
        meter = meter if meter is not None else metrics.get_meter("asgi_guard")
        self._counter = meter.create_counter(
            "asgi_guard.suspicious_activity", unit="{event}", description="Suspicious-activity patterns tripped"
        )
        self._logger = logging.getLogger(SECURITY_LOGGER)

    def _key(self, tag: str, subject: str, pattern: str) -> str:
        return f"{self._prefix}:p:{{{tag}{key_part(subject)}}}:{pattern}"

    def on_failure(
        self, code: str | None, ip: str, credential: str, principal: Principal | None, provider: str
    ) -> list[tuple[_Watch, Op]]:
        """The observations of a failed request."""
        patterns = self._patterns
        found: list[tuple[_Watch, Op]] = []
        threshold = patterns.repeated_failures
        if threshold is not None:
            watch = _Watch("repeated_failures", ip, threshold)
            found.append((watch, Op(self._key("ip:", ip, "rf"), None, 0, threshold.window * 1000)))
        threshold = patterns.credential_stuffing
        tried = f"c:{credential}" if credential else (f"u:{principal.id}" if principal is not None else "")
        if threshold is not None and tried:
            watch = _Watch("credential_stuffing", ip, threshold)
            found.append((watch, Op(self._key("ip:", ip, "cs"), tried, threshold.count, threshold.window * 1000)))
        threshold = patterns.tenant_probing
        if threshold is not None and code == "community_forbidden" and principal is not None:
            watch = _Watch("tenant_probing", principal.id, threshold)
            found.append((watch, Op(self._key("u:", principal.id, "tp"), None, 0, threshold.window * 1000)))
        threshold = patterns.signature_burst
        if threshold is not None and code in SIGNATURE_FAILURES:
            watch = _Watch("signature_burst", provider, threshold)
            found.append((watch, Op(self._key("w:", provider, "sb"), None, 0, threshold.window * 1000)))
        return found

    def on_accepted(self, ip: str, credential: str) -> list[tuple[_Watch, Op]]:
        """The observation of a request whose credential was accepted: skipped when this process
        already counted the pair in the current window (counting it again would change nothing)."""
        threshold = self._patterns.leaked_credential
        if threshold is None or not credential:
            return []
        until = self._memo.get((credential, ip))
        if until is not None and until > self._clock.monotonic():
            return []
        watch = _Watch("leaked_credential", credential, threshold)
        return [(watch, Op(self._key("c:", credential, "lc"), ip, threshold.count, threshold.window * 1000))]

    async def observe(
        self,
        scope: Scope,
        found: list[tuple[_Watch, Op]],
        ip: str,
        credential: str,
        principal: Principal | None,
    ) -> None:
        """Count ``found`` in the store; report each pattern that reached its threshold."""
        tallies = await self._store.observe([op for _, op in found])
        now = self._clock.monotonic()
        for (watch, op), tally in zip(found, tallies, strict=True):
            if watch.pattern == "leaked_credential":
                self._memo.put((credential, ip), now + tally.ttl_ms / 1000)
            if not tally.added or tally.total != watch.threshold.count:
                continue
            activity = SuspiciousActivity(
                pattern=watch.pattern,
                subject=watch.subject,
                count=tally.total,
                window=watch.threshold.window,
                client_ip=ip,
                credential=credential,
                principal=principal,
            )
            await self._report(scope, activity, op)

    async def _report(self, scope: Scope, activity: SuspiciousActivity, op: Op) -> None:
        emit(
            scope,
            "suspicious_activity",
            "alert",
            activity.pattern,
            pattern=activity.pattern,
            subject=activity.subject,
            count=str(activity.count),
            window=str(activity.window),
            credential=activity.credential,
        )
        self._counter.add(1, {"pattern": activity.pattern})
        if self._hook is None:
            return
        try:
            await self._hook(activity)
        except Exception:  # the response is already sent: a failing hook is logged, never raised
            emit(scope, "suspicious_activity_hook", "error", "hook_failed", pattern=activity.pattern)
            self._logger.exception("suspicious_activity hook failed for %s", activity.pattern)


__all__ = ("MEMO_LIMIT", "Detector", "SuspiciousActivity")
