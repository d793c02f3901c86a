"""OAuth 2 / OpenID Connect login (authlib over httpx): providers, the mountable login app, provider tokens.

Needs the ``oauth`` extra: ``pip install 'asgi-guard[oauth]'``. ``import asgi_guard`` never imports
this package, so the rest of asgi_guard works without authlib.
"""

from __future__ import annotations

from asgi_guard.oauth.app import OAuthApp, oauth_app
from asgi_guard.oauth.client import ProviderClient, TokenResponse
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

__all__ = (
    "YOUTUBE_READONLY",
    "DiscoveryDocument",
    "JWKSCache",
    "LoginError",
    "LoginErrorCode",
    "LoginHook",
    "OAuthApp",
    "OAuthConfig",
    "Provider",
    "ProviderClient",
    "ProviderError",
    "ProviderIdentity",
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
