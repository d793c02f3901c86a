"""asgi_guard: composable pure-ASGI security middlewares.

Wrap any ASGI app with :func:`guard` and the configs of the layers you want; each middleware also
works alone (Starlette ``Middleware``, FastAPI ``add_middleware``, Litestar ``DefineMiddleware``).
"""

from __future__ import annotations

from typing import Any

from asgi_guard.abuse import (
    AbuseConfig,
    AbuseMiddleware,
    FailureLimit,
    Patterns,
    SuspiciousActivity,
    Threshold,
    failure_limits,
)
from asgi_guard.auth import (
    APIKeyAuth,
    APIKeyRecord,
    AuthConfig,
    AuthenticationMiddleware,
    JWTAuth,
    JWTKey,
    KeyRing,
    MemoryAPIKeyStore,
    MemoryRevocationStore,
    RedisAPIKeyStore,
    RedisRevocationStore,
    TokenPair,
    TokenService,
    create_api_key,
    hash_api_key,
)
from asgi_guard.clientip import ClientIPConfig, ClientIPMiddleware
from asgi_guard.clock import Clock, SystemClock
from asgi_guard.compose import GuardLayer, Layer, guard
from asgi_guard.context import (
    CONTEXT_KEY,
    GuardContext,
    client_host,
    get_community_id,
    get_context,
    get_principal,
)
from asgi_guard.csrf import CSRFConfig, CSRFMiddleware
from asgi_guard.errors import ConfigurationError, ErrorCode, GuardError, MissingGuardContext
from asgi_guard.events import EventsConfig, EventsMiddleware, SecurityEvent
from asgi_guard.headers import SecurityHeadersConfig, SecurityHeadersMiddleware, SecurityTxt
from asgi_guard.principal import Principal
from asgi_guard.ratelimit import (
    Command,
    Limit,
    MemoryRateLimitBackend,
    Rate,
    RateLimitConfig,
    RateLimitMiddleware,
    RedisRateLimitBackend,
    standard_limits,
    tiers,
)
from asgi_guard.rbac import (
    DEFAULT_ROLES,
    PermissionDenied,
    RBACConfig,
    RBACMiddleware,
    Role,
    RoleHierarchy,
    RoutePolicy,
    permission_denied_handler,
    permission_dependency,
    requires_permission,
)
from asgi_guard.sessions import SessionCookies
from asgi_guard.tenancy import CachedResolver, TenancyConfig, TenancyMiddleware
from asgi_guard.validation import (
    RouteSchema,
    Sanitize,
    SanitizedStr,
    ValidationConfig,
    ValidationMiddleware,
    get_path_params,
    get_payload,
    get_query,
)
from asgi_guard.webhooks import (
    DiscordInteractions,
    GenericHMAC,
    GitHub,
    MemoryReplayStore,
    RedisReplayStore,
    Slack,
    StandardWebhooks,
    Stripe,
    TimestampedHMAC,
    TwitchEventSub,
    WebhookConfig,
    WebhookMiddleware,
    get_webhook,
)

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Litestar is optional: its guard is imported only when asked for, so `import asgi_guard` works
    # without Litestar installed (the `demo` extra does not bring it).
    if name == "permission_guard":
        from asgi_guard.rbac.litestar import permission_guard

        return permission_guard
    raise AttributeError(f"module 'asgi_guard' has no attribute {name!r}")


__all__ = (
    "CONTEXT_KEY",
    "DEFAULT_ROLES",
    "APIKeyAuth",
    "APIKeyRecord",
    "AbuseConfig",
    "AbuseMiddleware",
    "AuthConfig",
    "AuthenticationMiddleware",
    "CSRFConfig",
    "CSRFMiddleware",
    "CachedResolver",
    "ClientIPConfig",
    "ClientIPMiddleware",
    "Clock",
    "Command",
    "ConfigurationError",
    "DiscordInteractions",
    "ErrorCode",
    "EventsConfig",
    "EventsMiddleware",
    "FailureLimit",
    "GenericHMAC",
    "GitHub",
    "GuardContext",
    "GuardError",
    "GuardLayer",
    "JWTAuth",
    "JWTKey",
    "KeyRing",
    "Layer",
    "Limit",
    "MemoryAPIKeyStore",
    "MemoryRateLimitBackend",
    "MemoryReplayStore",
    "MemoryRevocationStore",
    "MissingGuardContext",
    "Patterns",
    "PermissionDenied",
    "Principal",
    "RBACConfig",
    "RBACMiddleware",
    "Rate",
    "RateLimitConfig",
    "RateLimitMiddleware",
    "RedisAPIKeyStore",
    "RedisRateLimitBackend",
    "RedisReplayStore",
    "RedisRevocationStore",
    "Role",
    "RoleHierarchy",
    "RoutePolicy",
    "RouteSchema",
    "Sanitize",
    "SanitizedStr",
    "SecurityEvent",
    "SecurityHeadersConfig",
    "SecurityHeadersMiddleware",
    "SecurityTxt",
    "SessionCookies",
    "Slack",
    "StandardWebhooks",
    "Stripe",
    "SuspiciousActivity",
    "SystemClock",
    "TenancyConfig",
    "TenancyMiddleware",
    "Threshold",
    "TimestampedHMAC",
    "TokenPair",
    "TokenService",
    "TwitchEventSub",
    "ValidationConfig",
    "ValidationMiddleware",
    "WebhookConfig",
    "WebhookMiddleware",
    "__version__",
    "client_host",
    "create_api_key",
    "failure_limits",
    "get_community_id",
    "get_context",
    "get_path_params",
    "get_payload",
    "get_principal",
    "get_query",
    "get_webhook",
    "guard",
    "hash_api_key",
    "permission_denied_handler",
    "permission_dependency",
    "requires_permission",
    "standard_limits",
    "tiers",
)
