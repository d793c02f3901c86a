"""A small guarded app on the SQL stores, used by the multi-process and fault tests (and run as a
process: ``python -m tests.sql.app URL KEY_HASH JTI`` reports when it starts refusing each)."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_guard.auth.config import APIKeyAuth, AuthConfig, JWTAuth
from asgi_guard.auth.keyring import KeyRing
from asgi_guard.auth.tokens import TokenService
from asgi_guard.compose import guard
from asgi_guard.sql import SQLAPIKeyStore, SQLDatabase, SQLRevocationStore

SECRET = b"s" * 32


async def _hello(request: Any) -> JSONResponse:
    return JSONResponse({"ok": True})


def build_app(db: SQLDatabase, *, on_feed_loss: Any = "lookup") -> tuple[Any, TokenService]:
    """An app requiring an API key or a JWT, with both stores on ``db``."""
    keyring = KeyRing.single(SECRET, kid="k1")
    revocation = SQLRevocationStore(db, on_feed_loss=on_feed_loss)
    tokens = TokenService(keyring, revocation, issuer="t", audience="t")
    config = AuthConfig(
        api_key=APIKeyAuth(store=SQLAPIKeyStore(db, on_feed_loss=on_feed_loss), last_used_interval=0),
        jwt=JWTAuth(keyring=keyring, revocation=revocation, issuer="t", audience="t", cache_size=0),
    )
    return guard(Starlette(routes=[Route("/", _hello)]), config), tokens


async def watch(url: str, api_key: str, access_token: str) -> None:
    """Serve requests in a loop; print `ready`, then `<what> <epoch>` when the key / token is first refused."""
    db = SQLDatabase(url)
    app, _ = build_app(db)
    pending = {"key": {"x-api-key": api_key}, "jwt": {"authorization": f"Bearer {access_token}"}}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://instance") as client:
        for headers in pending.values():
            assert (await client.get("/", headers=headers)).status_code == 200
        print("ready", flush=True)
        deadline = time.monotonic() + 20
        while pending and time.monotonic() < deadline:
            for what, headers in list(pending.items()):
                if (await client.get("/", headers=headers)).status_code == 401:
                    print(what, repr(time.time()), flush=True)
                    del pending[what]
            await asyncio.sleep(0.001)
    await db.aclose()


if __name__ == "__main__":
    asyncio.run(watch(sys.argv[1], sys.argv[2], sys.argv[3]))
