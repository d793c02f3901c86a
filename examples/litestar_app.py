"""asgi_guard with Litestar: ``DefineMiddleware`` for the layers, ``permission_guard`` per handler.

Run: ``ASGI_GUARD_JWT_SECRET=... uvicorn --no-proxy-headers examples.litestar_app:app`` (the secret: 32+ bytes).
"""

from __future__ import annotations

import os

from litestar import Litestar, Request, get
from litestar.middleware import DefineMiddleware

from asgi_guard import (
    AuthConfig,
    AuthenticationMiddleware,
    JWTAuth,
    KeyRing,
    MemoryRevocationStore,
    RBACConfig,
    RBACMiddleware,
    get_principal,
)
from asgi_guard.rbac import permission_guard


@get("/profile", guards=[permission_guard("profile:view")])
async def profile(request: Request) -> dict[str, str]:  # type: ignore[type-arg]
    """The caller's id, for callers with ``profile:view``."""
    return {"id": get_principal(request).id}


def build(secret: str) -> Litestar:
    """The Litestar app guarded with ``secret``."""
    auth = AuthConfig(
        jwt=JWTAuth(keyring=KeyRing.single(secret), revocation=MemoryRevocationStore(), issuer=None, audience=None)
    )
    return Litestar(
        route_handlers=[profile],
        # Litestar applies the list outermost first: authentication, then RBAC.
        middleware=[
            DefineMiddleware(AuthenticationMiddleware, config=auth),
            DefineMiddleware(RBACMiddleware, config=RBACConfig()),
        ],
    )


app = build(os.environ["ASGI_GUARD_JWT_SECRET"]) if "ASGI_GUARD_JWT_SECRET" in os.environ else None
