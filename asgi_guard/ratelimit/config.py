"""``RateLimitConfig``: the limits of one placement, their backend, fail mode, headers, exemptions."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Literal

import msgspec

from asgi_guard.errors import ConfigurationError
from asgi_guard.options import ErrorFormat, check_clock, check_error_format
from asgi_guard.ratelimit.limits import FAIL_MODES, FailMode, Limit

if TYPE_CHECKING:
    from asgi_guard.clock import Clock
    from asgi_guard.ratelimit.failover import RateLimitBackend

Stage = Literal["pre_auth", "post_auth"]


class RateLimitConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Rate limiting for one placement in the stack.

    Args:
        limits: the limits checked together (all-or-nothing) for each request.
        stage: ``pre_auth`` runs before authentication (IP limits: a flood is refused before any
            token is verified); ``post_auth`` after it (user, API-key, tier, community limits).
        backend: a :class:`MemoryRateLimitBackend` (default, per process) or a
            :class:`RedisRateLimitBackend` (shared).
        fail_mode: what a limit does when the backend fails or exceeds ``budget`` (per-limit
            ``Limit.fail_mode`` overrides): ``closed`` (503), ``open`` (allow, logged) or ``local``.
        budget: seconds a request waits for the backend.
        breaker_threshold: consecutive failures that open the circuit breaker.
        breaker_reset: seconds before an open breaker lets a probe through.
        prefix: Redis key prefix.
        ietf_headers: also send the IETF draft ``RateLimit`` and ``RateLimit-Policy`` fields.
        exempt_paths: route templates never limited (health checks...).
        exempt_principals: principal ids never limited.
        exempt_ips: addresses or networks never limited (CIDR notation).
        error_format: ``json`` or ``problem`` for 429/503 bodies.
        max_body_bytes: cap when a per-command limit reads its command from the body.
        clock: a :class:`asgi_guard.clock.Clock` for the breaker and the local fallback (tests).
    """

    limits: tuple[Limit, ...]
    stage: Stage = "post_auth"
    backend: RateLimitBackend | None = None
    fail_mode: FailMode = "closed"
    budget: float = 0.05
    breaker_threshold: int = 3
    breaker_reset: float = 5.0
    prefix: str = "rl"
    ietf_headers: bool = False
    exempt_paths: tuple[str, ...] = ()
    exempt_principals: frozenset[str] = frozenset()
    exempt_ips: tuple[str, ...] = ()
    error_format: ErrorFormat = "json"
    max_body_bytes: int = 1_048_576
    clock: Clock | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.limits, tuple | list) or not self.limits:
            raise ConfigurationError.expected("a non-empty sequence of `Limit`", self.limits, "RateLimitConfig.limits")
        names: set[str] = set()
        for index, limit in enumerate(self.limits):
            if not isinstance(limit, Limit):
                raise ConfigurationError.expected("a `Limit`", limit, f"RateLimitConfig.limits[{index}]")
            if limit.name in names:
                raise ConfigurationError.expected("unique limit names", limit.name, f"RateLimitConfig.limits[{index}]")
            names.add(limit.name)
            if self.stage == "pre_auth" and (limit.needs_principal or limit.key == "community"):
                raise ConfigurationError.expected(
                    "IP, global or callable keys before authentication", limit.key, f"RateLimitConfig.limits[{index}]"
                )
        if self.stage not in ("pre_auth", "post_auth"):
            raise ConfigurationError.expected("`pre_auth` or `post_auth`", self.stage, "RateLimitConfig.stage")
        if self.fail_mode not in FAIL_MODES:
            raise ConfigurationError.expected(
                f"one of {sorted(FAIL_MODES)}", self.fail_mode, "RateLimitConfig.fail_mode"
            )
        for value, where in ((self.budget, "budget"), (self.breaker_reset, "breaker_reset")):
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 60:
                raise ConfigurationError.expected("seconds in (0, 60]", value, f"RateLimitConfig.{where}")
        if not isinstance(self.breaker_threshold, int) or self.breaker_threshold < 1:
            raise ConfigurationError.expected(
                "an int >= 1", self.breaker_threshold, "RateLimitConfig.breaker_threshold"
            )
        if not isinstance(self.prefix, str) or not self.prefix or "{" in self.prefix or "}" in self.prefix:
            raise ConfigurationError.expected(
                "a non-empty prefix without braces", self.prefix, "RateLimitConfig.prefix"
            )
        check_error_format(self.error_format, "RateLimitConfig.error_format")
        check_clock(self.clock, "RateLimitConfig.clock")
        if not isinstance(self.max_body_bytes, int) or self.max_body_bytes < 1:
            raise ConfigurationError.expected("a positive int", self.max_body_bytes, "RateLimitConfig.max_body_bytes")
        if self.backend is not None and not callable(getattr(self.backend, "check", None)):
            raise ConfigurationError.expected("a rate-limit backend", self.backend, "RateLimitConfig.backend")
        self.networks()

    def networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """``exempt_ips`` parsed (raises :class:`ConfigurationError` for a bad entry)."""
        parsed = []
        for index, value in enumerate(self.exempt_ips):
            try:
                parsed.append(ipaddress.ip_network(value, strict=False))
            except (TypeError, ValueError):
                raise ConfigurationError.expected(
                    "an IP address or network", value, f"RateLimitConfig.exempt_ips[{index}]"
                ) from None
        return tuple(parsed)


__all__ = ("RateLimitConfig", "Stage")
