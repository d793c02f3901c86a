"""OAuth 2 / OpenID Connect login (authlib over httpx): providers, the mountable login app, provider tokens.

Needs the ``oauth`` extra: ``pip install 'asgi-guard[oauth]'``. ``import asgi_guard`` never imports
this package, so the rest of asgi_guard works without authlib.
"""

from __future__ import annotations

try:
    import authlib  # noqa: F401 - only to fail early with the extra's name
    import httpx2  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without the extra
    raise ImportError("asgi_guard.oauth needs the oauth extra: pip install 'asgi-guard[oauth]'") from exc

from asgi_guard.oauth.app import OAuthApp, oauth_app
from asgi_guard.oauth.client import ProviderClient, TokenResponse
from asgi_guard.oauth.composite import CompositeProviderTokenStore
from asgi_guard.oauth.config import OAuthConfig
from asgi_guard.oauth.discovery import discover
from asgi_guard.oauth.errors import LoginError, LoginErrorCode, ProviderError
from asgi_guard.oauth.identity import LoginHook, ProviderIdentity, SessionUser
from asgi_guard.oauth.idtoken import JWKSCache, validate_id_token
from asgi_guard.oauth.providers import (
    YOUTUBE_READONLY,
    DiscoveryDocument,
    Provider,
    discord,
    generic_oauth2,
    generic_oidc,
    google,
    slack,
    twitch,
)
from asgi_guard.oauth.redis_lock import RedisRefreshLock, RefreshLockBusy
from asgi_guard.oauth.redis_tokens import RedisProviderTokenStore
from asgi_guard.oauth.refresh import LocalRefreshLock, ProviderTokens, ProviderTokenUnavailable, RefreshLock

__all__ = (
    "YOUTUBE_READONLY",
    "CompositeProviderTokenStore",
    "DiscoveryDocument",
    "JWKSCache",
    "LocalRefreshLock",
    "LoginError",
    "LoginErrorCode",
    "LoginHook",
    "OAuthApp",
    "OAuthConfig",
    "Provider",
    "ProviderClient",
    "ProviderError",
    "ProviderIdentity",
    "ProviderTokenUnavailable",
    "ProviderTokens",
    "RedisProviderTokenStore",
    "RedisRefreshLock",
    "RefreshLock",
    "RefreshLockBusy",
    "SessionUser",
    "TokenResponse",
    "discord",
    "discover",
    "generic_oauth2",
    "generic_oidc",
    "google",
    "oauth_app",
    "slack",
    "twitch",
    "validate_id_token",
)
