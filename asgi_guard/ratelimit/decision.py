"""The rate-limit decision of one request (``ctx.rate_limit``) and the headers derived from it."""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from asgi_guard.ratelimit.rate import MICROS

Source = Literal["memory", "redis", "deny_cache", "local", "fail_open"]


class LimitStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One limit's state after this request.

    Attributes:
        name: the limit's name.
        limit: the bucket's capacity (what ``X-RateLimit-Limit`` reports).
        window: the rate's period in seconds (for ``RateLimit-Policy``).
        remaining: whole requests left.
        reset: epoch seconds (backend clock) when the bucket is full again.
        reset_after: seconds until then.
        retry_after: seconds until this request would fit (0 when it did).
        allowed: whether this limit had room.
        shadow: a shadow limit (reported in events, never enforced, not in headers).
    """

    name: str
    limit: int
    window: int
    remaining: int
    reset: int
    reset_after: int
    retry_after: int
    allowed: bool
    shadow: bool = False


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """What rate limiting decided for a request (both placements merged when used twice).

    Attributes:
        allowed: no enforced limit refused.
        limits: the limits evaluated, in configuration order.
        source: who decided (``deny_cache``: refused locally; ``local``/``fail_open``: degraded).
    """

    allowed: bool
    limits: tuple[LimitStatus, ...]
    source: Source

    @property
    def denied_by(self) -> tuple[LimitStatus, ...]:
        return tuple(status for status in self.limits if not status.allowed and not status.shadow)

    @property
    def most_restrictive(self) -> LimitStatus | None:
        """The enforced limit with the fewest requests left (the longest reset breaking ties)."""
        best: LimitStatus | None = None
        for status in self.limits:  # a loop, not min(key=...): this runs for every response
            if not status.shadow and (
                best is None
                or status.remaining < best.remaining
                or (status.remaining == best.remaining and status.reset_after > best.reset_after)
            ):
                best = status
        return best

    @property
    def retry_after(self) -> int:
        """Seconds until every refusing limit would let this request through (at least 1)."""
        return max([1, *(status.retry_after for status in self.denied_by)])

    def merged(self, outer: Decision) -> Decision:
        """This decision combined with an outer placement's (IP limits before authentication)."""
        return Decision(
            allowed=self.allowed and outer.allowed, limits=(*outer.limits, *self.limits), source=self.source
        )


_RATELIMIT: Final = b"x-ratelimit-limit"


def status_of(
    name: str, limit: int, window: int, now_us: int, state_allowed: bool, remaining: int, reset_us: int,
    retry_us: int, shadow: bool,
) -> LimitStatus:  # fmt: skip
    """Seconds and epoch seconds from a backend's microseconds."""
    return LimitStatus(
        name=name,
        limit=limit,
        window=window,
        remaining=remaining if remaining > 0 else 0,
        reset=-(-(now_us + reset_us) // MICROS),  # whole seconds, rounded up (inline: runs per request)
        reset_after=-(-reset_us // MICROS) if reset_us > 0 else 0,
        retry_after=-(-retry_us // MICROS) if not state_allowed else 0,
        allowed=state_allowed,
        shadow=shadow,
    )


def headers_for(decision: Decision, *, ietf: bool) -> list[tuple[bytes, bytes]]:
    """``X-RateLimit-*`` of the most restrictive limit, ``Retry-After`` when refused, IETF fields by option."""
    limits = decision.limits
    status = limits[0] if len(limits) == 1 and not limits[0].shadow else decision.most_restrictive
    if status is None:
        return []
    headers = [
        (_RATELIMIT, b"%d" % status.limit),
        (b"x-ratelimit-remaining", b"%d" % status.remaining),
        (b"x-ratelimit-reset", b"%d" % status.reset),
    ]
    if not decision.allowed:
        headers.append((b"retry-after", b"%d" % decision.retry_after))
    if ietf:
        headers.append((b"ratelimit-policy", f'"{status.name}";q={status.limit};w={status.window}'.encode()))
        headers.append((b"ratelimit", f'"{status.name}";r={status.remaining};t={status.reset_after}'.encode()))
    return headers


__all__ = ("Decision", "LimitStatus", "Source", "headers_for", "status_of")
