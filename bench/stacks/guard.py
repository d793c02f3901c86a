"""asgi_guard's own stacks: each layer alone, the foundation, and the full stack (memory and Redis).

The layer configs come from :mod:`bench.stacks.guard_layers`; a stack whose layer is not present reports
"not available" with the reason.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness.apps import RequestSpec, bare_app, default_request
from bench.harness.registry import Built, StackEnv, StackUnavailable, async_redis, register
from bench.stacks.guard_layers import (
    WEBHOOK_SECRET,
    api_key_auth_layer,
    client_ip_layer,
    events_layer,
    import_names,
    jwt_auth_layer,
    rate_limit_layer,
    rbac_layer,
    security_headers_layer,
    tenancy_layer,
    validation_layer,
    webhook_layer,
)

_HEAD = b'{"user_id":"twitch:12345","command":"greet","args":["a","b"],"message":"'
PAYLOAD_1K = _HEAD + b"hello " * ((1024 - len(_HEAD) - 2) // 6) + b"x" * ((1024 - len(_HEAD) - 2) % 6) + b'"}'
"""A 1 KiB ``ExecuteAction`` body (the validation layer's seed schema; the message gets sanitised)."""


def _guard(*configs: Any) -> Any:
    (guard,) = import_names("asgi_guard", "guard")
    return guard(bare_app(), *configs)


def _names(*configs: Any) -> tuple[str, ...]:
    return tuple(type(config).__name__ for config in configs)


def _post(headers: tuple[tuple[bytes, bytes], ...], body: bytes) -> RequestSpec:
    base = (
        (b"host", b"127.0.0.1:8000"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    )
    return RequestSpec(method="POST", headers=base + headers, body=(body,))


# --- stacks ------------------------------------------------------------------------------------


@register("asgi_guard foundation only", group="asgi_guard", note="events + client ip + security headers, as merged")
async def foundation(env: StackEnv) -> Built:
    configs = [events_layer()]
    for optional in (client_ip_layer, security_headers_layer):
        try:
            configs.append(optional())
        except StackUnavailable:
            continue
    return Built(_guard(*configs), layers=_names(*configs))


@register("asgi_guard events", group="asgi_guard", note="request id + event routing alone")
async def events_alone(env: StackEnv) -> Built:
    config = events_layer()
    return Built(_guard(config), layers=_names(config))


@register("asgi_guard security headers", group="asgi_guard")
async def headers_alone(env: StackEnv) -> Built:
    config = security_headers_layer()
    return Built(_guard(config), layers=_names(config))


@register("asgi_guard client ip", group="asgi_guard")
async def client_ip_alone(env: StackEnv) -> Built:
    config = client_ip_layer()
    return Built(_guard(config), layers=_names(config))


@register("asgi_guard auth: JWT, no cache", group="asgi_guard")
async def jwt_no_cache(env: StackEnv) -> Built:
    config = jwt_auth_layer(cache=False)
    return Built(_guard(config), layers=_names(config))


@register("asgi_guard auth: JWT, cached", group="asgi_guard")
async def jwt_cached(env: StackEnv) -> Built:
    config = jwt_auth_layer(cache=True)
    return Built(_guard(config), layers=_names(config))


@register(
    "asgi_guard auth: JWT + Redis revocation",
    group="asgi_guard",
    redis=True,
    note="cached JWT, revoked set mirrored from Redis pub/sub: the check costs no round trip",
)
async def jwt_redis_revocation(env: StackEnv) -> Built:
    (store_cls,) = import_names("asgi_guard.auth", "RedisRevocationStore")
    client = async_redis(env)
    store = store_cls(client)
    await store.start()
    await store.revoke("bench-some-other-token", time.time() + 3600)
    config = jwt_auth_layer(cache=True, revocation=store)

    async def close() -> None:
        await store.aclose()
        await client.aclose()

    return Built(_guard(config), layers=(*_names(config), "RedisRevocationStore"), close=close)


@register("asgi_guard auth: API key (memory)", group="asgi_guard")
async def api_key(env: StackEnv) -> Built:
    config, key = api_key_auth_layer()
    request = RequestSpec(headers=((b"host", b"127.0.0.1:8000"), (b"x-api-key", key.encode())))
    return Built(_guard(config), request=request, layers=_names(config))


@register("asgi_guard rbac (1000 rules, 50 roles)", group="asgi_guard", note="JWT (cached) + RBAC")
async def rbac_big(env: StackEnv) -> Built:
    configs = (jwt_auth_layer(), rbac_layer(rules=1000, roles=50))
    return Built(_guard(*configs), layers=_names(*configs))


@register("asgi_guard tenancy", group="asgi_guard", note="JWT (cached) + community scope")
async def tenancy(env: StackEnv) -> Built:
    configs = (jwt_auth_layer(), tenancy_layer())
    return Built(_guard(*configs), layers=_names(*configs))


@register("asgi_guard rate limit (memory)", group="asgi_guard", note="JWT (cached) + principal limit")
async def ratelimit_memory(env: StackEnv) -> Built:
    limiter, _ = rate_limit_layer(None, prefix="bench-rl-memory")
    configs = (jwt_auth_layer(), limiter)
    return Built(_guard(*configs), layers=_names(*configs))


@register("asgi_guard rate limit (redis)", group="asgi_guard", redis=True, note="JWT (cached) + principal limit")
async def ratelimit_redis(env: StackEnv) -> Built:
    limiter, client = rate_limit_layer(env, prefix="bench-rl-redis")
    configs = (jwt_auth_layer(), limiter)
    return Built(_guard(*configs), layers=_names(*configs), close=client.aclose)


@register("asgi_guard webhooks: generic HMAC, 1 KiB", group="asgi_guard", note="POST, body buffered and replayed")
async def webhook(env: StackEnv) -> Built:
    config = webhook_layer()
    signature = hmac.new(WEBHOOK_SECRET.encode(), PAYLOAD_1K, hashlib.sha256).hexdigest()
    request = _post(((b"x-webhook-signature", signature.encode()),), PAYLOAD_1K)
    return Built(_guard(config), request=request, layers=_names(config))


@register("asgi_guard validation: 1 KiB payload", group="asgi_guard", note="POST, one msgspec decode")
async def validation(env: StackEnv) -> Built:
    config = validation_layer()
    return Built(_guard(config), request=_post((), PAYLOAD_1K), layers=_names(config))


@register(
    "asgi_guard rate limit, 4 limits (redis)",
    group="asgi_guard",
    redis=True,
    note="JWT (cached) + ip, user, community and global limits: still one EVALSHA",
)
async def ratelimit_four(env: StackEnv) -> Built:
    limiter, client = rate_limit_layer(env, prefix="bench-rl-four", keys=("ip", "user", "community", "global"))
    configs = (jwt_auth_layer(), tenancy_layer(), limiter)
    return Built(_guard(*configs), layers=_names(*configs), close=client.aclose)


@register(
    "asgi_guard rate limit: deny cache (redis)",
    group="asgi_guard",
    redis=True,
    server=False,
    note="an exhausted 1/hour limit: every request is a 429 served from the local deny cache",
)
async def ratelimit_deny_cache(env: StackEnv) -> Built:
    limiter, client = rate_limit_layer(env, prefix="bench-rl-deny", rate="1/hour")
    configs = (jwt_auth_layer(), limiter)
    return Built(_guard(*configs), layers=_names(*configs), close=client.aclose, expect=429)


EXACT_RATE = "300/minute"
"""The tight limit of the exactness stack (:mod:`bench.load.faults`)."""


@register(
    "asgi_guard exact limit (redis)",
    group="asgi_guard",
    redis=True,
    note=f"JWT + one {EXACT_RATE} user limit: for the cross-process exactness check, not a benchmark",
)
async def exact_limit(env: StackEnv) -> Built:
    limiter, client = rate_limit_layer(env, prefix="bench-rl-exact", rate=EXACT_RATE)
    configs = (jwt_auth_layer(), limiter)
    return Built(_guard(*configs), layers=_names(*configs), close=client.aclose)


def _security_log() -> None:
    """Security events written at INFO as JSON lines to a real file handler, as production runs them.

    Without a handler the events layer builds nothing (nobody listens), which is not what a
    deployment pays. Once per process; the file goes with the process.
    """
    logger = logging.getLogger("asgi_guard.security")
    if any(isinstance(handler, logging.FileHandler) for handler in logger.handlers):
        return
    folder = tempfile.mkdtemp(prefix="asgi-guard-bench-log-")
    atexit.register(shutil.rmtree, folder, True)
    handler = logging.FileHandler(Path(folder) / "security.jsonl")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _full(env: StackEnv | None) -> tuple[tuple[Any, ...], Any]:
    _security_log()
    limiter, client = rate_limit_layer(env, prefix="bench-rl-full")
    configs = (events_layer(), security_headers_layer(), jwt_auth_layer(), tenancy_layer(), rbac_layer(), limiter)
    return configs, client


@register(
    "asgi_guard full (memory)",
    group="asgi_guard",
    note="events + headers + JWT + community + RBAC + rate limit, memory backend; events at INFO to a file",
)
async def full_memory(env: StackEnv) -> Built:
    configs, _ = _full(None)
    return Built(_guard(*configs), request=default_request(), layers=_names(*configs))


@register("asgi_guard full (redis)", group="asgi_guard", redis=True, note="the same, rate limit on Redis")
async def full_redis(env: StackEnv) -> Built:
    configs, client = _full(env)
    return Built(_guard(*configs), layers=_names(*configs), close=client.aclose)


__all__ = ("EXACT_RATE", "PAYLOAD_1K", "WEBHOOK_SECRET")
