"""asgi_guard with FastAPI: the middlewares added one by one, and a per-endpoint permission dependency.

Run: ``ASGI_GUARD_JWT_SECRET=... uvicorn --no-proxy-headers examples.fastapi_app:app`` (the secret: 32+ bytes).
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import Depends, FastAPI

from asgi_guard import (
    AuthConfig,
    AuthenticationMiddleware,
    JWTAuth,
    KeyRing,
    MemoryRevocationStore,
    PermissionDenied,
    Principal,
    RBACConfig,
    RBACMiddleware,
    SecurityHeadersConfig,
    SecurityHeadersMiddleware,
    permission_denied_handler,
    permission_dependency,
)


def build(secret: str) -> FastAPI:
    """The FastAPI app guarded with ``secret`` (a factory, so tests can use their own secret)."""
    app = FastAPI()
    app.add_exception_handler(PermissionDenied, permission_denied_handler)

    @app.get("/profile")
    async def profile(
        principal: Annotated[Principal, Depends(permission_dependency("profile:view"))],
    ) -> dict[str, str]:
        return {"id": principal.id}

    @app.post("/communities/{community_id}/moderation")
    async def moderate(
        community_id: int, principal: Annotated[Principal, Depends(permission_dependency("community:moderate"))]
    ) -> dict[str, object]:
        return {"community": community_id, "by": principal.id}

    # add_middleware wraps outermost-last: add inner layers first (RBAC), then authentication, then headers.
    app.add_middleware(RBACMiddleware, config=RBACConfig())
    app.add_middleware(
        AuthenticationMiddleware,
        config=AuthConfig(
            jwt=JWTAuth(keyring=KeyRing.single(secret), revocation=MemoryRevocationStore(), issuer=None, audience=None),
            exclude=("/docs", "/openapi.json"),
        ),
    )
    app.add_middleware(SecurityHeadersMiddleware, config=SecurityHeadersConfig.strict_api())
    return app


app = build(os.environ["ASGI_GUARD_JWT_SECRET"]) if "ASGI_GUARD_JWT_SECRET" in os.environ else None
