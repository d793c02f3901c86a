"""asgi_guard with FastAPI: the middlewares added one by one, and a per-endpoint permission dependency.

Run: ``ASGI_GUARD_JWT_SECRET=... uvicorn --no-proxy-headers examples.fastapi_app:app`` (the secret: 32+ bytes).
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse  # noqa: TC002 - FastAPI reads endpoint annotations at run time

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
from examples._env import secret_from_env


def swagger_ui() -> HTMLResponse:
    """Swagger UI with a policy of its own: the strict-API CSP (``default-src 'none'``) would leave it blank.

    Headers the app sets win over the security-headers layer's defaults, so only this page is relaxed:
    its assets from the CDN FastAPI uses, its one inline script allowed by hash, not ``unsafe-inline``.
    """
    page = get_swagger_ui_html(openapi_url="/openapi.json", title="asgi_guard example - API docs")
    html = bytes(page.body).decode()
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    )
    page.headers["content-security-policy"] = (
        f"default-src 'none'; script-src https://cdn.jsdelivr.net {hashes}; style-src https://cdn.jsdelivr.net; "
        "img-src https://fastapi.tiangolo.com data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return page


def build(secret: str) -> FastAPI:
    """The FastAPI app guarded with ``secret`` (a factory, so tests can use their own secret)."""
    app = FastAPI(docs_url=None)  # /docs below, with a CSP that lets Swagger UI load
    app.add_exception_handler(PermissionDenied, permission_denied_handler)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return swagger_ui()

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


def __getattr__(name: str) -> FastAPI:
    # `uvicorn --no-proxy-headers examples.fastapi_app:app` asks for `app`: built from the environment on first
    # use, or a clear stop at start-up when the secret is missing (importing the module for `build` needs no secret).
    if name != "app":
        raise AttributeError(name)
    app = globals()["app"] = build(secret_from_env("examples.fastapi_app"))
    return app
