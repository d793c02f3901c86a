"""The middleware inside Starlette, FastAPI and Litestar, through guard(), and its config checks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from litestar import Litestar, get
from litestar import Request as LitestarRequest
from litestar.middleware import DefineMiddleware
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_guard.auth import (
    APIKeyAuth,
    AuthConfig,
    AuthenticationMiddleware,
    JWTAuth,
    KeyRing,
    MemoryAPIKeyStore,
    MemoryRevocationStore,
)
from asgi_guard.compose import guard, layer_of
from asgi_guard.context import get_principal
from asgi_guard.errors import ConfigurationError
from asgi_guard.types import ASGIApp, Receive, Scope, Send
from tests.auth.conftest import SECRET

pytestmark = pytest.mark.anyio


def _config(**kwargs: Any) -> AuthConfig:
    jwt_auth = JWTAuth(
        keyring=KeyRing.single(SECRET, kid="k1"), revocation=MemoryRevocationStore(), issuer=None, audience=None
    )
    return AuthConfig(jwt=jwt_auth, **kwargs)


def _token(**extra: Any) -> str:
    import time

    from tests.auth.conftest import sign

    now = int(time.time())
    return sign({"sub": "u1", "iat": now, "exp": now + 3600, "jti": "j", "type": "access", **extra})


async def _get(app: ASGIApp, path: str, token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path, headers=headers)


async def test_starlette_requires_sees_the_permissions() -> None:
    """In Starlette, request.user is the principal and @requires checks its permissions."""

    @requires("profile:view")
    async def profile(request: Any) -> JSONResponse:
        return JSONResponse({"user": request.user.identity, "who": get_principal(request).id})

    app = Starlette(routes=[Route("/me", profile)], middleware=[Middleware(AuthenticationMiddleware, config=_config())])
    response = await _get(app, "/me", _token(permissions=["profile:view"]))
    assert response.status_code == 200
    assert response.json() == {"user": "u1", "who": "u1"}
    assert (await _get(app, "/me", _token())).status_code == 403
    anonymous = await _get(app, "/me")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="api"'


async def test_fastapi_add_middleware() -> None:
    """In FastAPI, add_middleware installs it and endpoints read the principal."""
    app = FastAPI()
    app.add_middleware(AuthenticationMiddleware, config=_config(exclude=("/health",)))

    @app.get("/me")
    async def me(request: Request) -> dict[str, str]:
        return {"id": get_principal(request).id}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"ok": "yes"}

    assert (await _get(app, "/me", _token())).json() == {"id": "u1"}
    assert (await _get(app, "/me")).json() == {"error": "missing_credentials", "detail": "Authentication is required."}
    assert (await _get(app, "/health")).status_code == 200


async def test_litestar_define_middleware() -> None:
    """In Litestar, DefineMiddleware(AuthenticationMiddleware, config=...) protects handlers."""

    @get("/me")
    async def me(request: LitestarRequest[Any, Any, Any]) -> dict[str, str]:
        return {"id": get_principal(request).id}

    app = Litestar(route_handlers=[me], middleware=[DefineMiddleware(AuthenticationMiddleware, config=_config())])
    assert (await _get(app, "/me", _token())).json() == {"id": "u1"}
    assert (await _get(app, "/me", "bad")).status_code == 401


async def test_guard_builds_the_layer() -> None:
    """guard(app, AuthConfig(...)) wraps the app in the authentication layer."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    wrapped = guard(app, _config())
    assert isinstance(wrapped, AuthenticationMiddleware)
    assert (await _get(wrapped, "/", _token())).status_code == 204
    assert layer_of(_config()).name == "authentication"
    assert layer_of(_config()).requires == ()


class NotAStore:
    """An object that is no store."""


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: AuthConfig(), "at least one authenticator"),
        (lambda: AuthConfig(authenticators=("nope",)), "async callable"),  # type: ignore[arg-type]
        (lambda: _config(exclude=("health",)), "starting with"),
        (lambda: _config(optional=(1,)), "path template"),  # type: ignore[arg-type]
        (lambda: _config(error_format="xml"), "error_format"),  # type: ignore[arg-type]
        (lambda: APIKeyAuth(store=NotAStore()), "APIKeyStore"),
        (lambda: APIKeyAuth(store=MemoryAPIKeyStore(), header="Authorization"), "header"),
        (lambda: APIKeyAuth(store=MemoryAPIKeyStore(), header="authorization"), "header"),
        (lambda: APIKeyAuth(store=MemoryAPIKeyStore(), prefix="W-A"), "prefix"),
        (lambda: APIKeyAuth(store=MemoryAPIKeyStore(), last_used_interval=-1), "interval"),
        (lambda: JWTAuth(keyring=SECRET, revocation=MemoryRevocationStore(), issuer=None, audience=None), "KeyRing"),
        (
            lambda: JWTAuth(keyring=KeyRing.single(SECRET), revocation=NotAStore(), issuer=None, audience=None),
            "RevocationStore",
        ),
        (
            lambda: JWTAuth(
                keyring=KeyRing.single(SECRET),
                revocation=MemoryRevocationStore(),
                issuer=None,
                audience=None,
                leeway=301,
            ),
            "leeway",
        ),
        (
            lambda: JWTAuth(
                keyring=KeyRing.single(SECRET),
                revocation=MemoryRevocationStore(),
                issuer=None,
                audience=None,
                cache_size=-1,
            ),
            "cache_size",
        ),
        (
            lambda: JWTAuth(
                keyring=KeyRing.single(SECRET),
                revocation=MemoryRevocationStore(),
                issuer=None,
                audience=None,
                token_type="refresh",
            ),
            "token_type",
        ),
    ],
)
def test_configuration_errors(build: Any, match: str) -> None:
    """Missing authenticators, bad stores, headers, prefixes, templates and limits fail at construction."""
    with pytest.raises(ConfigurationError, match=match):
        build()


def test_issuer_and_audience_must_be_given_explicitly() -> None:
    """JWTAuth has no silent default for issuer and audience."""
    with pytest.raises(TypeError, match="issuer"):
        JWTAuth(keyring=KeyRing.single(SECRET), revocation=MemoryRevocationStore())  # type: ignore[call-arg]
