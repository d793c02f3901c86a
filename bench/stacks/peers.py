"""What users pick today, each written the way its own documentation shows.

Every peer wraps the same one-route app and answers the same request; every limit is
:data:`~bench.apps.HUGE_LIMIT` per minute so the admit path is what gets measured.

fastapi-limiter: 0.2 (pyrate-limiter based) is installed in the venv; the classic 0.1 Lua limiter
cannot be installed next to it under the same import name, so :func:`side_install` puts the real
0.1.6 wheel (``pip install --no-deps --target``, nothing copied into this repository) into a
directory of its own, and that stack's worker process puts it first on ``sys.path``.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.harness.apps import HUGE_LIMIT, JWT_SECRET, PATH, bare_app, profile
from bench.harness.registry import Built, StackEnv, StackUnavailable, async_redis, redis_url, register
from bench.stacks.baselines import profile_fastapi

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection, Request

FASTAPI_LIMITER_01 = "0.1.6"
SIDE_DIR = Path(sys.prefix) / "bench-peers" / f"fastapi-limiter-{FASTAPI_LIMITER_01}"


def side_install() -> Path:
    """Install fastapi-limiter 0.1.6 into :data:`SIDE_DIR` with pip (once), and return the directory."""
    if not (SIDE_DIR / "fastapi_limiter" / "depends.py").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--target",
                str(SIDE_DIR),
                f"fastapi-limiter=={FASTAPI_LIMITER_01}",
            ],
            check=True,
        )
    return SIDE_DIR


# --- slowapi ---------------------------------------------------------------------------------


def _slowapi(storage_uri: str, *, headers: bool) -> Built:
    try:
        from slowapi import Limiter, _rate_limit_exceeded_handler
        from slowapi.errors import RateLimitExceeded
        from slowapi.util import get_remote_address
    except ImportError as exc:
        raise StackUnavailable(f"slowapi not installed: {exc}") from exc
    from starlette.applications import Starlette
    from starlette.routing import Route

    limiter = Limiter(key_func=get_remote_address, storage_uri=storage_uri, headers_enabled=headers)

    @limiter.limit(f"{HUGE_LIMIT}/minute")
    async def limited(request: Request) -> Any:
        return await profile(request)

    app = Starlette(routes=[Route(PATH, limited, methods=["GET", "POST"])])
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)  # type: ignore[arg-type]
    return Built(app, layers=("slowapi",))


@register("slowapi (memory)", group="peer", note="@limiter.limit on the route, memory:// storage")
async def slowapi_memory(env: StackEnv) -> Built:
    return _slowapi("memory://", headers=False)


@register("slowapi (redis)", group="peer", redis=True, note="sync redis storage inside the event loop")
async def slowapi_redis(env: StackEnv) -> Built:
    return _slowapi(redis_url(env), headers=False)


@register("slowapi (redis, headers)", group="peer", redis=True, note="headers_enabled=True (X-RateLimit-*)")
async def slowapi_redis_headers(env: StackEnv) -> Built:
    return _slowapi(redis_url(env), headers=True)


# --- fastapi-limiter ---------------------------------------------------------------------------


@register(
    "fastapi-limiter 0.2 (redis)",
    group="peer",
    redis=True,
    note="RateLimiter dependency over pyrate-limiter RedisBucket (sliding log in a ZSET)",
)
async def fastapi_limiter_02(env: StackEnv) -> Built:
    try:
        from fastapi import Depends, FastAPI
        from fastapi_limiter.depends import RateLimiter
        from pyrate_limiter import Duration, Limiter, Rate, RedisBucket
    except ImportError as exc:
        raise StackUnavailable(f"fastapi-limiter 0.2 not installed: {exc}") from exc
    client = async_redis(env)
    bucket = await RedisBucket.init([Rate(HUGE_LIMIT, Duration.MINUTE)], client, "bench:fastapi-limiter-02")
    limiter = Limiter(bucket)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.add_api_route(
        PATH, profile_fastapi, methods=["GET", "POST"], dependencies=[Depends(RateLimiter(limiter=limiter))]
    )

    async def close() -> None:
        limiter.close()
        await client.aclose()

    return Built(app, layers=("fastapi", "fastapi-limiter 0.2"), close=close)


@register(
    "fastapi-limiter 0.1 (redis, Lua)",
    group="peer",
    redis=True,
    extra_path=(str(SIDE_DIR),),
    note=f"classic FastAPILimiter.init + RateLimiter (the real {FASTAPI_LIMITER_01}, side-installed)",
)
async def fastapi_limiter_01(env: StackEnv) -> Built:
    try:
        import fastapi_limiter
        from fastapi_limiter import FastAPILimiter  # type: ignore[attr-defined]  # the 0.1 API
        from fastapi_limiter.depends import RateLimiter
    except ImportError as exc:
        raise StackUnavailable(f"fastapi-limiter {FASTAPI_LIMITER_01} not importable: {exc}") from exc
    if not hasattr(fastapi_limiter, "FastAPILimiter"):
        raise StackUnavailable(f"fastapi-limiter {FASTAPI_LIMITER_01} not side-installed at {SIDE_DIR}")
    from fastapi import Depends, FastAPI

    client = async_redis(env)
    await FastAPILimiter.init(client)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.add_api_route(
        PATH,
        profile_fastapi,
        methods=["GET", "POST"],
        dependencies=[Depends(RateLimiter(times=HUGE_LIMIT, minutes=1))],  # type: ignore[call-arg]
    )
    return Built(app, layers=("fastapi", f"fastapi-limiter {FASTAPI_LIMITER_01}"), close=client.aclose)


# --- asgi-ratelimit ----------------------------------------------------------------------------


@register("asgi-ratelimit (redis)", group="peer", redis=True, note="pure ASGI, Lua script via register_script")
async def asgi_ratelimit(env: StackEnv) -> Built:
    try:
        from ratelimit import RateLimitMiddleware, Rule
        from ratelimit.backends.redis import RedisBackend
    except ImportError as exc:
        raise StackUnavailable(f"asgi-ratelimit not installed: {exc}") from exc
    client = async_redis(env)

    async def by_ip(scope: Any) -> tuple[str, str]:
        return scope["client"][0], "default"

    app = RateLimitMiddleware(bare_app(), by_ip, RedisBackend(client), {r"^/api": [Rule(minute=HUGE_LIMIT)]})
    return Built(app, layers=("asgi-ratelimit",), close=client.aclose)


# --- Starlette AuthenticationMiddleware + PyJWT ----------------------------------------------


@register(
    "Starlette AuthenticationMiddleware + PyJWT",
    group="peer",
    note="AuthenticationBackend decoding HS256 on every request, @requires('authenticated')",
)
async def starlette_auth(env: StackEnv) -> Built:
    import jwt
    from starlette.applications import Starlette
    from starlette.authentication import (
        AuthCredentials,
        AuthenticationBackend,
        AuthenticationError,
        SimpleUser,
        requires,
    )
    from starlette.middleware import Middleware
    from starlette.middleware.authentication import AuthenticationMiddleware
    from starlette.routing import Route

    class JWTBackend(AuthenticationBackend):
        async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
            header = conn.headers.get("authorization")
            if not header:
                return None
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer":
                return None
            try:
                claims = jwt.decode(
                    token, JWT_SECRET, algorithms=["HS256"], options={"require": ["exp", "iat", "sub", "jti"]}
                )
            except jwt.InvalidTokenError as exc:
                raise AuthenticationError("invalid token") from exc
            return AuthCredentials(["authenticated"]), SimpleUser(claims["sub"])

    @requires("authenticated")
    async def guarded(request: Request) -> Any:
        return await profile(request)

    app = Starlette(
        routes=[Route(PATH, guarded, methods=["GET", "POST"])],
        middleware=[Middleware(AuthenticationMiddleware, backend=JWTBackend())],
    )
    return Built(app, layers=("starlette auth", "pyjwt"))


# --- the same checks as four BaseHTTPMiddleware layers ---------------------------------------


@register(
    "BaseHTTPMiddleware x4 (JWT, community, Redis window, log)",
    group="peer",
    redis=True,
    note="the tutorial shape: INCR, EXPIRE on the first hit, a request log line",
)
async def base_http_stack(env: StackEnv) -> Built:
    import time

    import jwt
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    client = async_redis(env)
    log = logging.getLogger("bench.request_log")

    class RequestLog(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            started = time.perf_counter()
            response = await call_next(request)
            log.info("%s %s %s %.3fms", request.method, request.url.path, response.status_code,
                     (time.perf_counter() - started) * 1000)  # fmt: skip
            return response

    class JWTAuth(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            header = request.headers.get("authorization", "")
            if not header.startswith("Bearer "):
                return JSONResponse({"error": "missing_credentials"}, status_code=401)
            try:
                request.state.claims = jwt.decode(header[7:], JWT_SECRET, algorithms=["HS256"])
            except jwt.InvalidTokenError:
                return JSONResponse({"error": "invalid_token"}, status_code=401)
            return await call_next(request)

    class Community(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            community = request.headers.get("x-community-id")
            if community is None or not community.isdigit():
                return JSONResponse({"error": "invalid_community_id"}, status_code=400)
            if community not in request.state.claims.get("communities", {}):
                return JSONResponse({"error": "community_forbidden"}, status_code=403)
            request.state.community = community
            return await call_next(request)

    class Window(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            key = f"bench:window:{request.state.claims['sub']}:{int(time.time() // 60)}"
            count = await client.incr(key)
            if count == 1:
                await client.expire(key, 60)
            if count > HUGE_LIMIT:
                return JSONResponse({"error": "rate_limit_exceeded"}, status_code=429)
            return await call_next(request)

    app = Starlette(
        routes=[Route(PATH, profile, methods=["GET", "POST"])],
        middleware=[Middleware(RequestLog), Middleware(JWTAuth), Middleware(Community), Middleware(Window)],
    )
    return Built(app, layers=("BaseHTTPMiddleware x4",), close=client.aclose)


__all__ = ("FASTAPI_LIMITER_01", "SIDE_DIR", "side_install")
