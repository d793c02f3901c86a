"""Authentication: hashed API keys and JWTs with key rotation, refresh rotation and revocation.

See :class:`AuthConfig` and :class:`AuthenticationMiddleware`; :class:`TokenService` issues tokens.
"""

from __future__ import annotations

from asgi_guard.auth.api_keys import (
    KEY_ROLES,
    APIKeyRecord,
    APIKeyStore,
    MemoryAPIKeyStore,
    create_api_key,
    hash_api_key,
    is_well_formed,
)
from asgi_guard.auth.cache import VerificationCache
from asgi_guard.auth.config import APIKeyAuth, AuthConfig, JWTAuth
from asgi_guard.auth.keyring import JWTKey, KeyRing
from asgi_guard.auth.last_used import LastUsedTracker
from asgi_guard.auth.middleware import AuthenticationMiddleware
from asgi_guard.auth.redis_keys import RedisAPIKeyStore
from asgi_guard.auth.redis_revocation import RedisRevocationStore
from asgi_guard.auth.revocation import MemoryRevocationStore, RevocationStore, RevocationUnavailable
from asgi_guard.auth.tokens import TokenPair, TokenService
from asgi_guard.auth.verifier import JWTVerifier, VerifiedToken

__all__ = (
    "KEY_ROLES",
    "APIKeyAuth",
    "APIKeyRecord",
    "APIKeyStore",
    "AuthConfig",
    "AuthenticationMiddleware",
    "JWTAuth",
    "JWTKey",
    "JWTVerifier",
    "KeyRing",
    "LastUsedTracker",
    "MemoryAPIKeyStore",
    "MemoryRevocationStore",
    "RedisAPIKeyStore",
    "RedisRevocationStore",
    "RevocationStore",
    "RevocationUnavailable",
    "TokenPair",
    "TokenService",
    "VerificationCache",
    "VerifiedToken",
    "create_api_key",
    "hash_api_key",
    "is_well_formed",
)
