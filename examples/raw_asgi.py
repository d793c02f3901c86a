"""asgi_guard around a raw ASGI app: no framework at all.

Run: ``uvicorn --no-proxy-headers examples.raw_asgi:app`` (set ASGI_GUARD_JWT_SECRET to a 32+ byte secret first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from asgi_guard import (
    AuthConfig,
    EventsConfig,
    JWTAuth,
    KeyRing,
    MemoryRevocationStore,
    SecurityHeadersConfig,
    get_principal,
    guard,
)
from examples._env import secret_from_env

if TYPE_CHECKING:
    from asgi_guard.types import Receive, Scope, Send


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    """Greets the authenticated caller."""
    if scope["type"] != "http":
        return
    body = msgspec.json.encode({"hello": get_principal(scope).display_name})
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def build(secret: str) -> object:
    """The guarded app for ``secret`` (a factory, so tests can build it with their own secret)."""
    return guard(
        hello,
        EventsConfig(),
        SecurityHeadersConfig.strict_api(),
        AuthConfig(
            jwt=JWTAuth(
                keyring=KeyRing.single(secret),
                revocation=MemoryRevocationStore(),
                issuer=None,
                audience=None,
            )
        ),
    )


def __getattr__(name: str) -> object:
    # `uvicorn --no-proxy-headers examples.raw_asgi:app` asks for `app`: built from the environment on first
    # use, or a clear stop at start-up when the secret is missing (importing the module for `build` needs no secret).
    if name != "app":
        raise AttributeError(name)
    app = globals()["app"] = build(secret_from_env("examples.raw_asgi"))
    return app
