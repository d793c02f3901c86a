"""asgi_guard's own stacks: each layer alone, the foundation, and the full stack (memory and Redis).

Written against the public API of DESIGN.md. The layer packages (auth, rbac, tenancy, ratelimit,
webhooks, validation) are built on other branches; until they are merged, the stacks needing them
report "not available" with the import error. ADAPT AFTER MERGE: the ``_layer`` builders below are
the only place that knows each layer's config shape; fix names there and every stack follows.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import time
from typing import Any

from bench.apps import HUGE_LIMIT, JWT_KID, JWT_SECRET, PATH, USER_ID, RequestSpec, bare_app, default_request
from bench.stacks import Built, StackEnv, StackUnavailable, async_redis, register

WEBHOOK_SECRET = "bench-webhook-secret-0123456789abcdef"
_HEAD = b'{"user_id":"twitch:12345","command":"greet","args":["a","b"],"message":"'
PAYLOAD_1K = _HEAD + b"hello " * ((1024 - len(_HEAD) - 2) // 6) + b"x" * ((1024 - len(_HEAD) - 2) % 6) + b'"}'
"""A 1 KiB ``ExecuteAction`` body (the validation layer's seed schema; the message gets sanitised)."""


def _import(module: str, *names: str) -> tuple[Any, ...]:
    """``from module import names``, or :class:`StackUnavailable` naming what is missing."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise StackUnavailable(f"{module} not present yet ({exc})") from exc
    missing = [name for name in names if not hasattr(mod, name)]
    if missing:
        raise StackUnavailable(f"{module} has no {', '.join(missing)} (adapt bench/guard_stacks.py)")
    return tuple(getattr(mod, name) for name in names)


# --- one builder per layer (checked against the layer branches as of this commit) ----------------


def events_layer() -> Any:
    (events_config,) = _import("asgi_guard.events", "EventsConfig")
    return events_config()


def client_ip_layer() -> Any:
    (config,) = _import("asgi_guard.clientip", "ClientIPConfig")
    return config(trusted_proxies=("127.0.0.1/32",))


def security_headers_layer() -> Any:
    (config,) = _import("asgi_guard.headers", "SecurityHeadersConfig")
    return config.strict_api()


def jwt_auth_layer(*, cache: bool = True, revocation: Any = None) -> Any:
    """JWT authentication; revocation is always checked (in memory unless a store is given)."""
    auth_config, jwt_auth, keyring, memory_revocation = _import(
        "asgi_guard.auth", "AuthConfig", "JWTAuth", "KeyRing", "MemoryRevocationStore"
    )
    jwt = jwt_auth(
        keyring=keyring.single(JWT_SECRET.encode(), kid=JWT_KID),
        revocation=revocation if revocation is not None else memory_revocation(),
        issuer=None,
        audience=None,
        cache_size=10_000 if cache else 0,
    )
    return auth_config(jwt=jwt)


def api_key_auth_layer() -> tuple[Any, str]:
    auth_config, api_key_auth, create_api_key, hash_api_key, store_cls, record_cls = _import(
        "asgi_guard.auth",
        "AuthConfig",
        "APIKeyAuth",
        "create_api_key",
        "hash_api_key",
        "MemoryAPIKeyStore",
        "APIKeyRecord",
    )
    key = create_api_key()
    record = record_cls(
        key_hash=hash_api_key(key), name="bench", owner_id=USER_ID, permissions=frozenset({"profile:view"})
    )
    return auth_config(api_key=api_key_auth(store=store_cls([record]))), key


def tenancy_layer() -> Any:
    (config,) = _import("asgi_guard.tenancy", "TenancyConfig")
    return config(routes=(PATH,))


def rbac_layer(*, rules: int = 1, roles: int = 0) -> Any:
    """The profile route needs ``profile:view``; ``rules - 1`` further templated policies and ``roles``
    extra roles (chains of five) make the tables realistically large."""
    config, policy, role, default_roles = _import(
        "asgi_guard.rbac", "RBACConfig", "RoutePolicy", "Role", "DEFAULT_ROLES"
    )
    policies = [policy(path=PATH, methods=("GET",), permissions=("profile:view",))]
    policies += [
        policy(
            path=f"/api/v1/communities/{{community_id}}/res{i}/{{item}}",
            methods=("GET",),
            permissions=(f"res{i % max(roles, 1)}:read",),
        )
        for i in range(rules - 1)
    ]
    extra = [
        role(
            name=f"role{i}",
            permissions=(f"res{i}:read", f"res{i}:write"),
            inherits=() if i % 5 == 0 else (f"role{i - 1}",),
        )
        for i in range(roles)
    ]
    hierarchy = default_roles.with_roles(*extra) if extra else default_roles
    return config(roles=hierarchy, policies=tuple(policies))


def rate_limit_layer(
    env: StackEnv | None, *, prefix: str, rate: str = f"{HUGE_LIMIT}/minute", keys: tuple[str, ...] = ("user",)
) -> tuple[Any, Any]:
    """Limits (one per key kind) on the memory backend, or on Redis when ``env`` has one.

    Each stack gets its own key ``prefix``: stacks share one Redis, and an exhausted bucket of one
    (the deny-cache stack) must not limit another."""
    config, limit = _import("asgi_guard.ratelimit", "RateLimitConfig", "Limit")
    client = None
    if env is not None:
        (backend_cls,) = _import("asgi_guard.ratelimit", "RedisRateLimitBackend")
        client = async_redis(env)
        backend = backend_cls(client)
    else:
        (backend_cls,) = _import("asgi_guard.ratelimit", "MemoryRateLimitBackend")
        backend = backend_cls()
    limits = tuple(limit(name=key, rate=rate, key=key) for key in keys)
    return config(limits=limits, backend=backend, prefix=prefix), client


def webhook_layer() -> Any:
    config, generic = _import("asgi_guard.webhooks", "WebhookConfig", "GenericHMAC")
    return config(routes={PATH: generic(secrets=(WEBHOOK_SECRET,))})


def validation_layer() -> Any:
    config, schema = _import("asgi_guard.validation", "ValidationConfig", "ExecuteAction")
    return config(routes={("POST", PATH): schema})


def _guard(*configs: Any) -> Any:
    (guard,) = _import("asgi_guard", "guard")
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
    (store_cls,) = _import("asgi_guard.auth", "RedisRevocationStore")
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
"""The tight limit of the exactness stack (:mod:`bench.load_faults`)."""


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


def _full(env: StackEnv | None) -> tuple[tuple[Any, ...], Any]:
    limiter, client = rate_limit_layer(env, prefix="bench-rl-full")
    configs = (events_layer(), security_headers_layer(), jwt_auth_layer(), tenancy_layer(), rbac_layer(), limiter)
    return configs, client


@register(
    "asgi_guard full (memory)",
    group="asgi_guard",
    note="events + headers + JWT + community + RBAC + rate limit, memory backend",
)
async def full_memory(env: StackEnv) -> Built:
    configs, _ = _full(None)
    return Built(_guard(*configs), request=default_request(), layers=_names(*configs))


@register("asgi_guard full (redis)", group="asgi_guard", redis=True, note="the same, rate limit on Redis")
async def full_redis(env: StackEnv) -> Built:
    configs, client = _full(env)
    return Built(_guard(*configs), layers=_names(*configs), close=client.aclose)


__all__ = ("EXACT_RATE", "PAYLOAD_1K", "WEBHOOK_SECRET")
