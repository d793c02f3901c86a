"""asgi_guard with Litestar: ``DefineMiddleware`` for the layers, ``permission_guard`` per handler.

Run: ``ASGI_GUARD_JWT_SECRET=... uvicorn --no-proxy-headers examples.litestar_app:app`` (the secret: 32+ bytes).
"""

from __future__ import annotations

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
from examples._env import secret_from_env


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


def __getattr__(name: str) -> Litestar:
    # `uvicorn --no-proxy-headers examples.litestar_app:app` asks for `app`: built from the environment on first
    # use, or a clear stop at start-up when the secret is missing (importing the module for `build` needs no secret).
    if name != "app":
        raise AttributeError(name)
    app = globals()["app"] = build(secret_from_env("examples.litestar_app"))
    return app
