"""``AbuseConfig``: failure-charged limits, suspicious-activity thresholds, the hook, the backend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final, Literal

import msgspec

from asgi_guard.errors import ConfigurationError
from asgi_guard.options import ErrorFormat, check_clock, check_error_format
from asgi_guard.ratelimit.limits import FAIL_MODES, FailMode
from asgi_guard.ratelimit.rate import Rate

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter

    from asgi_guard.abuse.patterns import SuspiciousActivity
    from asgi_guard.clock import Clock
    from asgi_guard.ratelimit.failover import RateLimitBackend

FailureKey = Literal["ip", "credential", "principal"]
"""``ip``: the client address; ``credential``: the SHA-256 fingerprint of the presented credential
(bearer token, API key: never the secret itself); ``principal``: the authenticated caller (known
only after authentication, so only in a ``post_auth`` placement)."""

FAILURE_KEYS: Final = frozenset({"ip", "credential", "principal"})

DEFAULT_FAILURES: Final = frozenset(
    {
        # 401 from authentication (a request without any credential is not a guess: not counted)
        "invalid_token",
        "token_expired",
        "token_revoked",
        "invalid_api_key",
        "api_key_expired",
        # 401 from webhook signatures
        "missing_signature",
        "invalid_signature",
        "stale_timestamp",
        # 403 from RBAC, tenancy, CSRF
        "insufficient_permissions",
        "community_forbidden",
        "csrf_failed",
    }
)
"""Denial codes (by name) that charge failure limits by default."""

SIGNATURE_FAILURES: Final = frozenset({"missing_signature", "invalid_signature", "stale_timestamp"})

_NAME: Final = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"


class FailureLimit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A GCRA bucket that only failures drain.

    Args:
        name: unique in a config, ``[A-Za-z0-9_-]``: part of the storage key and of the events.
        rate: ``"20/10minutes"``: ``burst`` failures at once, then one more per ``period / count``.
        burst: failures tolerated before refusing (default: the rate's count).
        key: whose failures share the bucket (:data:`FailureKey`).
    """

    name: str
    rate: str | Rate
    burst: int | None = None
    key: FailureKey = "ip"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not 0 < len(self.name) <= 40 or not set(self.name) <= set(_NAME):
            raise ConfigurationError.expected("a name of 1-40 `[A-Za-z0-9_-]`", self.name, "FailureLimit.name")
        rate = self.parsed_rate
        if self.burst is not None and (not isinstance(self.burst, int) or not 0 < self.burst <= 1_000_000):
            raise ConfigurationError.expected("a burst in 1..1e6", self.burst, f"FailureLimit[{self.name!r}].burst")
        if self.key not in FAILURE_KEYS:
            raise ConfigurationError.expected(
                f"one of {sorted(FAILURE_KEYS)}", self.key, f"FailureLimit[{self.name!r}].key"
            )
        del rate

    @property
    def parsed_rate(self) -> Rate:
        return Rate.parse(self.rate, f"FailureLimit[{self.name!r}].rate")

    @property
    def capacity(self) -> int:
        return self.burst if self.burst is not None else self.parsed_rate.count


class Threshold(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A pattern trips when ``count`` is reached within ``window`` seconds (the window opens at the
    first occurrence; it trips once per window)."""

    count: int
    window: int

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or isinstance(self.count, bool) or not 0 < self.count <= 100_000:
            raise ConfigurationError.expected("a count in 1..100000", self.count, "Threshold.count")
        if not isinstance(self.window, int) or isinstance(self.window, bool) or not 0 < self.window <= 86_400:
            raise ConfigurationError.expected("a window of 1..86400 seconds", self.window, "Threshold.window")


class Patterns(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Suspicious-activity thresholds (``None`` turns a pattern off).

    Args:
        repeated_failures: failures from one client address.
        credential_stuffing: distinct credentials (or principals) failing from one client address.
        leaked_credential: distinct client addresses one accepted credential is used from.
        tenant_probing: ``community_forbidden`` refusals of one principal.
        signature_burst: signature failures for one webhook provider (from any address).
    """

    repeated_failures: Threshold | None = Threshold(count=10, window=300)
    credential_stuffing: Threshold | None = Threshold(count=5, window=600)
    leaked_credential: Threshold | None = Threshold(count=10, window=600)
    tenant_probing: Threshold | None = Threshold(count=5, window=600)
    signature_burst: Threshold | None = Threshold(count=20, window=60)


SuspiciousHook = Callable[["SuspiciousActivity"], Awaitable[None]]


class AbuseConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Failure-charged limits and suspicious-activity detection for one placement.

    A failure (a denial whose code is in ``failures``, or an application response whose status is in
    ``failure_statuses``) drains the request's failure buckets after the response; a request whose
    bucket is empty is refused 429 with ``Retry-After`` before any credential is checked. Successes
    cost nothing once their client and credential are known good in this process.

    Args:
        limits: the failure limits (see :func:`asgi_guard.abuse.failure_limits` for a preset).
        stage: ``pre_auth`` (before authentication: ``ip`` and ``credential`` keys) or ``post_auth``
            (after it: ``principal`` keys too).
        patterns: suspicious-activity thresholds.
        on_suspicious: ``async hook(activity)`` called for each tripped pattern (after the response).
        backend: the rate-limit backend holding buckets and pattern state (memory by default; a
            :class:`~asgi_guard.ratelimit.RedisRateLimitBackend` shares both across instances).
        failures: denial codes that count as failures.
        failure_statuses: statuses of the application's own responses that count (a login endpoint
            answering 401 to a wrong password).
        credential_headers: headers whose value is the presented credential.
        credential_cookies: cookies whose value is the presented credential (browser sessions), used
            when no credential header was sent.
        shadow: log what would be refused, never refuse.
        fail_mode: when the backend fails: ``closed`` (503), ``open`` (allow, logged) or ``local``.
        budget, breaker_threshold, breaker_reset: as in :class:`~asgi_guard.ratelimit.RateLimitConfig`.
        trust_success_for: seconds a client or credential that succeeded (and has not failed since)
            skips the shared pre-check in this process.
        prefix: storage key prefix.
        error_format: ``json`` or ``problem``.
        clock: a :class:`asgi_guard.clock.Clock` (tests).
        meter: the OpenTelemetry ``Meter`` of the ``asgi_guard.suspicious_activity`` counter
            (default: the global meter provider's ``asgi_guard`` meter).
    """

    limits: tuple[FailureLimit, ...] = ()
    stage: Literal["pre_auth", "post_auth"] = "pre_auth"
    patterns: Patterns = Patterns()
    on_suspicious: SuspiciousHook | None = None
    backend: RateLimitBackend | None = None
    failures: frozenset[str] = DEFAULT_FAILURES
    failure_statuses: frozenset[int] = frozenset({401})
    credential_headers: tuple[str, ...] = ("authorization", "x-api-key")
    credential_cookies: tuple[str, ...] = ("__Host-session",)
    shadow: bool = False
    fail_mode: FailMode = "closed"
    budget: float = 0.05
    breaker_threshold: int = 3
    breaker_reset: float = 5.0
    trust_success_for: float = 60.0
    prefix: str = "ab"
    error_format: ErrorFormat = "json"
    clock: Clock | None = None
    meter: Meter | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.limits, tuple | list):
            raise ConfigurationError.expected("a sequence of `FailureLimit`", self.limits, "AbuseConfig.limits")
        names: set[str] = set()
        for index, limit in enumerate(self.limits):
            if not isinstance(limit, FailureLimit):
                raise ConfigurationError.expected("a `FailureLimit`", limit, f"AbuseConfig.limits[{index}]")
            if limit.name in names:
                raise ConfigurationError.expected("unique limit names", limit.name, f"AbuseConfig.limits[{index}]")
            names.add(limit.name)
            if self.stage == "pre_auth" and limit.key == "principal":
                raise ConfigurationError.expected(
                    "`ip` or `credential` keys before authentication (principal keys need `stage='post_auth'`)",
                    limit.key,
                    f"AbuseConfig.limits[{index}].key",
                )
        if self.stage not in ("pre_auth", "post_auth"):
            raise ConfigurationError.expected("`pre_auth` or `post_auth`", self.stage, "AbuseConfig.stage")
        if not isinstance(self.patterns, Patterns):
            raise ConfigurationError.expected("a `Patterns`", self.patterns, "AbuseConfig.patterns")
        if self.on_suspicious is not None and not callable(self.on_suspicious):
            raise ConfigurationError.expected("an async callable", self.on_suspicious, "AbuseConfig.on_suspicious")
        if not isinstance(self.failures, frozenset) or not all(isinstance(code, str) for code in self.failures):
            raise ConfigurationError.expected("a frozenset of error codes", self.failures, "AbuseConfig.failures")
        if not isinstance(self.failure_statuses, frozenset) or not all(
            isinstance(status, int) and 400 <= status <= 599 for status in self.failure_statuses
        ):
            raise ConfigurationError.expected(
                "a frozenset of 4xx/5xx statuses", self.failure_statuses, "AbuseConfig.failure_statuses"
            )
        if not self.credential_headers or not all(
            isinstance(name, str) and name and name == name.lower() for name in self.credential_headers
        ):
            raise ConfigurationError.expected(
                "lower-case header names", self.credential_headers, "AbuseConfig.credential_headers"
            )
        if not all(isinstance(name, str) and name for name in self.credential_cookies):
            raise ConfigurationError.expected("cookie names", self.credential_cookies, "AbuseConfig.credential_cookies")
        if self.fail_mode not in FAIL_MODES:
            raise ConfigurationError.expected(f"one of {sorted(FAIL_MODES)}", self.fail_mode, "AbuseConfig.fail_mode")
        for value, where in ((self.budget, "budget"), (self.breaker_reset, "breaker_reset")):
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 60:
                raise ConfigurationError.expected("seconds in (0, 60]", value, f"AbuseConfig.{where}")
        if not isinstance(self.breaker_threshold, int) or self.breaker_threshold < 1:
            raise ConfigurationError.expected("an int >= 1", self.breaker_threshold, "AbuseConfig.breaker_threshold")
        if not isinstance(self.trust_success_for, int | float) or not 0 <= self.trust_success_for <= 3600:
            raise ConfigurationError.expected(
                "seconds in [0, 3600]", self.trust_success_for, "AbuseConfig.trust_success_for"
            )
        if not isinstance(self.prefix, str) or not self.prefix or "{" in self.prefix or "}" in self.prefix:
            raise ConfigurationError.expected("a non-empty prefix without braces", self.prefix, "AbuseConfig.prefix")
        check_error_format(self.error_format, "AbuseConfig.error_format")
        check_clock(self.clock, "AbuseConfig.clock")
        if self.backend is not None and not callable(getattr(self.backend, "check", None)):
            raise ConfigurationError.expected("a rate-limit backend", self.backend, "AbuseConfig.backend")


def failure_limits(
    *, per_ip: str | None = "20/10minutes", per_credential: str | None = "5/10minutes"
) -> tuple[FailureLimit, ...]:
    """The preset: 20 failures per client address and 5 per presented credential, per 10 minutes."""
    limits: list[FailureLimit] = []
    if per_ip is not None:
        limits.append(FailureLimit(name="failures_ip", rate=per_ip, key="ip"))
    if per_credential is not None:
        limits.append(FailureLimit(name="failures_credential", rate=per_credential, key="credential"))
    return tuple(limits)


__all__ = (
    "DEFAULT_FAILURES",
    "FAILURE_KEYS",
    "SIGNATURE_FAILURES",
    "AbuseConfig",
    "FailureKey",
    "FailureLimit",
    "Patterns",
    "SuspiciousHook",
    "Threshold",
    "failure_limits",
)
