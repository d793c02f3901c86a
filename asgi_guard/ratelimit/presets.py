"""The recommended limits in one call: IP before authentication, tiers and commands after it."""

from __future__ import annotations

from typing import Any

from asgi_guard.ratelimit.config import RateLimitConfig
from asgi_guard.ratelimit.limits import Command, Limit, tiers
from asgi_guard.ratelimit.memory import MemoryRateLimitBackend
from asgi_guard.ratelimit.redis import RedisRateLimitBackend


def standard_limits(
    *,
    redis_url: str | None = None,
    command_paths: tuple[str, ...] = ("/commands/{command}",),
    command_param: str = "command",
    **options: Any,
) -> tuple[RateLimitConfig, RateLimitConfig]:
    """``(pre_auth, post_auth)`` configs: IP 1000/minute; tiers 100/500/1000 per minute; 10/minute per command.

    Both placements share one backend: Redis when ``redis_url`` is given, else one in-memory store.
    ``options`` go to both configs (``fail_mode``, ``ietf_headers``, ...).
    """
    backend: Any = RedisRateLimitBackend.from_url(redis_url) if redis_url else MemoryRateLimitBackend()
    pre = RateLimitConfig(limits=(Limit(name="ip", rate="1000/minute"),), stage="pre_auth", backend=backend, **options)
    post = RateLimitConfig(
        limits=(
            tiers(),
            Limit(
                name="command",
                rate="10/minute",
                key="user",
                paths=command_paths,
                command=Command(param=command_param),
            ),
        ),
        backend=backend,
        **options,
    )
    return pre, post


__all__ = ("standard_limits",)
