"""The registry of named stacks the benchmarks run: baselines, peers and asgi_guard's own.

A stack is an async factory ``build(env) -> Built``. Factories import what they need inside the
function, so a stack whose package is missing (a peer not installed, an asgi_guard layer not merged
yet) raises :class:`StackUnavailable` (or any import/config error) and is reported as "not
available" instead of breaking the run. The peer and asgi_guard factories live in
:mod:`bench.stacks.peers` and :mod:`bench.stacks.guard`; importing this module registers them all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from bench.harness.apps import RequestSpec, default_request

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


class StackUnavailable(Exception):
    """The stack cannot be built here (package missing, layer not merged yet)."""


@dataclass(frozen=True)
class StackEnv:
    """What a factory may use: the Redis to talk to (``None`` when the run has no Redis)."""

    redis_url: str | None = None
    cluster: bool = False


@dataclass
class Built:
    """A ready stack: the ASGI app, the request to send it, what is active, and how to clean up."""

    app: ASGIApp
    request: RequestSpec = field(default_factory=default_request)
    layers: tuple[str, ...] = ()
    close: Callable[[], Awaitable[None]] | None = None
    expect: int = 200
    """The status every measured request must get (429 for the deny-cache stack)."""


Factory = Callable[[StackEnv], Coroutine[Any, Any, Built]]


@dataclass(frozen=True)
class Stack:
    """A named stack.

    Attributes:
        name: shown in the results.
        group: ``baseline``, ``peer`` or ``asgi_guard``.
        build: the async factory.
        redis: needs a Redis server.
        extra_path: directories prepended to ``sys.path`` in the worker (a second version of a peer
            installed side by side, see :func:`bench.peers.side_install`).
        note: one line for the results table.
        server: also run under uvicorn/wrk (off for stacks whose point is an in-process count).
    """

    name: str
    group: str
    build: Factory
    redis: bool = False
    extra_path: tuple[str, ...] = ()
    note: str = ""
    server: bool = True


STACKS: dict[str, Stack] = {}


def register(
    name: str,
    *,
    group: str,
    redis: bool = False,
    extra_path: tuple[str, ...] = (),
    note: str = "",
    server: bool = True,
) -> Callable[[Factory], Factory]:
    """Decorator adding a factory to :data:`STACKS` under ``name``."""

    def decorate(build: Factory) -> Factory:
        if name in STACKS:
            raise ValueError(f"stack {name!r} registered twice")
        STACKS[name] = Stack(name, group, build, redis, extra_path, note, server)
        return build

    return decorate


def redis_url(env: StackEnv) -> str:
    if env.redis_url is None:
        raise StackUnavailable("needs Redis (run without --no-redis)")
    return env.redis_url


def async_redis(env: StackEnv) -> Any:
    """A ``redis.asyncio`` client (or cluster client) for ``env``; the caller closes it."""
    url = redis_url(env)
    if env.cluster:
        from redis.asyncio.cluster import RedisCluster

        return RedisCluster.from_url(url)
    import redis.asyncio as aioredis

    return aioredis.Redis.from_url(url)


def all_stacks() -> dict[str, Stack]:
    """Every registered stack, in registration order (baselines, peers, asgi_guard)."""
    import bench.stacks.baselines
    import bench.stacks.guard
    import bench.stacks.peers  # noqa: F401 - imported for their registrations

    return STACKS


__all__ = (
    "STACKS",
    "Built",
    "Stack",
    "StackEnv",
    "StackUnavailable",
    "all_stacks",
    "async_redis",
    "redis_url",
    "register",
)
