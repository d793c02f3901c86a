"""Each middleware alone in front of a tiny ASGI app: µs per request it adds (min of repeats, CPU time).

Complements steps.py: no Starlette around it, the context pre-filled the way the outer layers
leave it (principal, client ip, community), so each row is one layer's own work. In the full stack
the same work costs roughly twice as much (a larger working set: see the report of the perf branch).

Run: ``python -m bench profile layers [layer ...]`` (from the repository root).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from asgi_guard import (
    AuthConfig,
    ClientIPConfig,
    EventsConfig,
    JWTAuth,
    KeyRing,
    Limit,
    MemoryRateLimitBackend,
    MemoryRevocationStore,
    RateLimitConfig,
    RBACConfig,
    RoutePolicy,
    SecurityHeadersConfig,
    TenancyConfig,
    TokenService,
    tiers,
)
from asgi_guard.auth.middleware import AuthenticationMiddleware
from asgi_guard.clientip import ClientIPMiddleware
from asgi_guard.context import CONTEXT_KEY, GuardContext
from asgi_guard.events.middleware import EventsMiddleware
from asgi_guard.headers.middleware import SecurityHeadersMiddleware
from asgi_guard.ratelimit.middleware import RateLimitMiddleware
from asgi_guard.rbac.middleware import RBACMiddleware
from asgi_guard.tenancy.middleware import TenancyMiddleware
from asgi_guard.testing import make_scope

logging.getLogger("asgi_guard.security").propagate = False
PATH = "/api/v1/communities/42/profile"


async def tiny(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"ok":true}'})


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def send(message: Any) -> None:
    return None


def layers() -> tuple[dict[str, Any], str]:
    keyring = KeyRing.single("x" * 40)
    revocation = MemoryRevocationStore()
    token = TokenService(keyring, revocation).issue_access("u1", roles=["user"], communities=["42"])
    backend = MemoryRateLimitBackend()
    auth = AuthConfig(jwt=JWTAuth(keyring=keyring, revocation=revocation, issuer=None, audience=None))
    policy = RoutePolicy(path="/api/v1/communities/{community_id}/profile", permissions=("profile:view",))
    return {
        "events": EventsMiddleware(tiny, EventsConfig()),
        "client_ip": ClientIPMiddleware(tiny, ClientIPConfig(trusted_proxies=())),
        "headers": SecurityHeadersMiddleware(tiny, SecurityHeadersConfig.strict_api()),
        "rate_limit_pre_auth": RateLimitMiddleware(
            tiny,
            RateLimitConfig(stage="pre_auth", backend=backend, limits=(Limit(name="ip", rate="100000000/minute"),)),
        ),
        "auth_jwt": AuthenticationMiddleware(tiny, auth),
        "tenancy": TenancyMiddleware(tiny, TenancyConfig(routes=("/api/v1/communities/{community_id}/{rest:path}",))),
        "rbac": RBACMiddleware(tiny, RBACConfig(policies=(policy,), default="deny")),
        "rate_limit_tiers": RateLimitMiddleware(
            tiny,
            RateLimitConfig(backend=backend, limits=(tiers({"user": "100000000/minute"}, default="100000000/minute"),)),
        ),
    }, token


async def main(names: list[str]) -> None:
    apps, token = layers()
    base = make_scope("GET", PATH, headers={"authorization": f"Bearer {token}", "x-community-id": "42"})
    principal = apps["auth_jwt"]._verifier.verify(token).principal

    async def bench(app: Any, prefill: bool, n: int = 3000) -> float:
        started = time.process_time()
        for _ in range(n):
            scope = dict(base)
            if prefill:  # what events, client ip, auth and tenancy leave for the inner layers
                ctx = scope[CONTEXT_KEY] = GuardContext()
                ctx.principal, ctx.client_ip, ctx.community_id, ctx.request_id = principal, "127.0.0.1", "42", "r"
            await app(scope, receive, send)
        return (time.process_time() - started) / n * 1e6

    chosen = names or list(apps)
    results: dict[str, list[float]] = {name: [] for name in ["app", *chosen]}
    for _ in range(9):
        results["app"].append(await bench(tiny, True))
        for name in chosen:
            results[name].append(await bench(apps[name], name != "events"))
    floor = min(results["app"])
    print(f"{'tiny app (with context)':24s} {floor:6.2f} us")
    for name in chosen:
        print(f"{name:24s} {min(results[name]) - floor:+6.2f} us")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
