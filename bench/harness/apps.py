"""The app every stack wraps and the one request every stack is measured with.

All stacks answer the same request (``GET /api/v1/profile`` with a bearer JWT and an
``X-Community-ID``) with the same one-route JSON app, so the differences measured are the
middleware's alone. A stack that needs another request (a webhook POST, a validated body) says so
through :class:`RequestSpec`.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

if TYPE_CHECKING:
    from starlette.requests import Request

JWT_SECRET = "bench-jwt-secret-0123456789abcdef0123456789abcdef"
"""HS256 secret shared by every JWT-checking stack (>= 32 bytes, as asgi_guard requires)."""

JWT_KID = "bench"
"""The ``kid`` every bench token carries (asgi_guard's key ring refuses tokens without a known kid)."""

COMMUNITY_ID = "42"
USER_ID = "user:1"
PATH = "/api/v1/profile"
HUGE_LIMIT = 1_000_000
"""Per-minute limit used by every rate limiter: the bench measures the admit path, never a 429."""


def make_token(*, secret: str = JWT_SECRET, ttl: int = 12 * 3600, roles: tuple[str, ...] = ("user",)) -> str:
    """A valid access token carrying every claim any stack asks for."""
    now = int(time.time())
    claims = {
        "sub": USER_ID,
        "username": "bench",
        "email": "bench@example.invalid",
        "roles": list(roles),
        "communities": {COMMUNITY_ID: ["moderator"]},
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        "type": "access",
    }
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": JWT_KID})


@dataclass(frozen=True)
class RequestSpec:
    """One request, as raw ASGI pieces (headers lower-case bytes; body in chunks)."""

    method: str = "GET"
    path: str = PATH
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: tuple[bytes, ...] = (b"",)

    def scope(self) -> dict[str, Any]:
        """A fresh HTTP scope for this request (middlewares mutate scopes: never reuse one)."""
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": self.method,
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": list(self.headers),
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }

    def wrk_headers(self) -> list[str]:
        """``-H`` arguments for wrk."""
        args: list[str] = []
        for key, value in self.headers:
            if key == b"host":
                continue
            args += ["-H", f"{key.decode('latin-1')}: {value.decode('latin-1')}"]
        return args


def default_request(token: str | None = None) -> RequestSpec:
    """The standard request: bearer token, community header, a browser-ish set of headers."""
    token = token or make_token()
    return RequestSpec(
        headers=(
            (b"host", b"127.0.0.1:8000"),
            (b"user-agent", b"bench/1.0"),
            (b"accept", b"application/json"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"x-community-id", COMMUNITY_ID.encode()),
        )
    )


WORKER_HEADER = {"x-bench-worker": str(os.getpid())}
"""Which server process answered (the load/fault script checks that every worker recovers)."""


async def profile(request: Request) -> JSONResponse:
    return JSONResponse({"id": USER_ID, "ok": True}, headers=WORKER_HEADER)


def bare_app() -> Starlette:
    """A bare Starlette app with one JSON route: the baseline of every ratio."""
    return Starlette(routes=[Route(PATH, profile, methods=["GET", "POST"])])


__all__ = (
    "COMMUNITY_ID",
    "HUGE_LIMIT",
    "JWT_KID",
    "JWT_SECRET",
    "PATH",
    "USER_ID",
    "RequestSpec",
    "bare_app",
    "default_request",
    "make_token",
)
