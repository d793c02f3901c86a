"""One builder per asgi_guard layer, as the benchmark configures it.

Written against the layer branches' public APIs (checked on a trial merge of all branches). A
builder raises :class:`~bench.stacks.StackUnavailable` when its package is not present, so a stack
needing it is reported as "not available". After the real merge, this is the one file to adapt if
a layer's config changed; every stack in :mod:`bench.stacks.guard` follows.
"""

from __future__ import annotations

import importlib
from typing import Any

from bench.harness.apps import HUGE_LIMIT, JWT_KID, JWT_SECRET, PATH, USER_ID
from bench.harness.registry import StackEnv, StackUnavailable, async_redis

WEBHOOK_SECRET = "bench-webhook-secret-0123456789abcdef"


def import_names(module: str, *names: str) -> tuple[Any, ...]:
    """``from module import names``, or :class:`StackUnavailable` naming what is missing."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise StackUnavailable(f"{module} not present yet ({exc})") from exc
    missing = [name for name in names if not hasattr(mod, name)]
    if missing:
        raise StackUnavailable(f"{module} has no {', '.join(missing)} (adapt bench/stacks/guard.py)")
    return tuple(getattr(mod, name) for name in names)


def events_layer() -> Any:
    (events_config,) = import_names("asgi_guard.events", "EventsConfig")
    return events_config()


def client_ip_layer() -> Any:
    (config,) = import_names("asgi_guard.clientip", "ClientIPConfig")
    return config(trusted_proxies=("127.0.0.1/32",))


def security_headers_layer() -> Any:
    (config,) = import_names("asgi_guard.headers", "SecurityHeadersConfig")
    return config.strict_api()


def jwt_auth_layer(*, cache: bool = True, revocation: Any = None) -> Any:
    """JWT authentication; revocation is always checked (in memory unless a store is given)."""
    auth_config, jwt_auth, keyring, memory_revocation = import_names(
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
    auth_config, api_key_auth, create_api_key, hash_api_key, store_cls, record_cls = import_names(
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
    (config,) = import_names("asgi_guard.tenancy", "TenancyConfig")
    return config(routes=(PATH,))


def rbac_layer(*, rules: int = 1, roles: int = 0) -> Any:
    """The profile route needs ``profile:view``; ``rules - 1`` further templated policies and ``roles``
    extra roles (chains of five) make the tables realistically large."""
    config, policy, role, default_roles = import_names(
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
    config, limit = import_names("asgi_guard.ratelimit", "RateLimitConfig", "Limit")
    client = None
    if env is not None:
        (backend_cls,) = import_names("asgi_guard.ratelimit", "RedisRateLimitBackend")
        client = async_redis(env)
        backend = backend_cls(client)
    else:
        (backend_cls,) = import_names("asgi_guard.ratelimit", "MemoryRateLimitBackend")
        backend = backend_cls()
    limits = tuple(limit(name=key, rate=rate, key=key) for key in keys)
    return config(limits=limits, backend=backend, prefix=prefix), client


def webhook_layer() -> Any:
    config, generic = import_names("asgi_guard.webhooks", "WebhookConfig", "GenericHMAC")
    return config(routes={PATH: generic(secrets=(WEBHOOK_SECRET,))})


def validation_layer() -> Any:
    config, schema = import_names("asgi_guard.validation", "ValidationConfig", "ExecuteAction")
    return config(routes={("POST", PATH): schema})


__all__ = (
    "WEBHOOK_SECRET",
    "api_key_auth_layer",
    "client_ip_layer",
    "events_layer",
    "import_names",
    "jwt_auth_layer",
    "rate_limit_layer",
    "rbac_layer",
    "security_headers_layer",
    "tenancy_layer",
    "validation_layer",
    "webhook_layer",
)
