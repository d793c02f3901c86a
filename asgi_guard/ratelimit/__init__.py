"""Rate limiting: GCRA buckets checked all-or-nothing in one Redis round trip (or in memory).

See docs/guides/rate-limiting.md: several limits per request (IP, user, API key, command, community, tiers), one
``EVALSHA`` for all of them, coalesced pipelines, a local deny cache, fail modes with a breaker, and
``X-RateLimit-*`` headers on every response.
"""

from __future__ import annotations

from asgi_guard.ratelimit.config import RateLimitConfig
from asgi_guard.ratelimit.decision import Decision, LimitStatus
from asgi_guard.ratelimit.limits import DEFAULT_TIERS, Command, Limit, tiers
from asgi_guard.ratelimit.memory import MemoryRateLimitBackend
from asgi_guard.ratelimit.middleware import RateLimitMiddleware
from asgi_guard.ratelimit.presets import standard_limits
from asgi_guard.ratelimit.rate import Rate
from asgi_guard.ratelimit.redis import RedisRateLimitBackend

__all__ = (
    "DEFAULT_TIERS",
    "Command",
    "Decision",
    "Limit",
    "LimitStatus",
    "MemoryRateLimitBackend",
    "Rate",
    "RateLimitConfig",
    "RateLimitMiddleware",
    "RedisRateLimitBackend",
    "standard_limits",
    "tiers",
)
