"""Cost of authorization per request: RBAC check and community scoping, next to a bare ASGI app.

1,000 route policies and 50 roles, in-process ASGI calls on a prebuilt scope (no server, no
network), the principal set directly in the context as authentication would. Reports the median
of several runs in microseconds per request, for the first and the last of the 1,000 rules.

    python -m bench.micro.rbac            # short run
    python -m bench.micro.rbac --n 50000  # longer
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import TYPE_CHECKING, Any

from asgi_guard.context import GuardContext
from asgi_guard.principal import Principal
from asgi_guard.rbac import RBACConfig, RBACMiddleware, Role, RoleHierarchy, RoutePolicy
from asgi_guard.tenancy import TenancyConfig, TenancyMiddleware

if TYPE_CHECKING:
    from asgi_guard.types import ASGIApp, Message, Receive, Scope, Send

ROLES = 50
RULES = 1000


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def sink(message: Message) -> None:
    if message["type"] == "http.response.start" and message["status"] != 200:
        raise RuntimeError(f"unexpected status {message['status']}")


def hierarchy() -> RoleHierarchy:
    """50 roles: ten chains of five, each role granting two permissions and inheriting the one below."""
    roles = []
    for index in range(ROLES):
        parent = () if index % 5 == 0 else (f"role{index - 1}",)
        roles.append(Role(name=f"role{index}", permissions=(f"res{index}:read", f"res{index}:write"), inherits=parent))
    return RoleHierarchy(roles=tuple(roles))


def policies() -> tuple[RoutePolicy, ...]:
    """1,000 templated rules under one shared `/api` prefix (the realistic worst case for bucketing)."""
    return tuple(
        RoutePolicy(
            path=f"/api/v1/communities/{{community_id}}/res{index}/{{item}}",
            methods=("GET",),
            permissions=(f"res{index % ROLES}:read",),
        )
        for index in range(RULES)
    )


def scope_for(path: str, principal: Principal, community: str | None) -> Scope:
    headers = [(b"host", b"bench"), (b"user-agent", b"bench")]
    if community is not None:
        headers.append((b"x-community-id", community.encode()))
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    GuardContext.from_scope(scope).principal = principal
    return scope


async def per_request(app: ASGIApp, scope: Scope, n: int, repeats: int) -> float:
    for _ in range(1000):  # warm caches (compiled matchers, memoised decisions)
        await app(scope, receive, sink)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            await app(scope, receive, sink)
        runs.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(runs)


def check_only(rbac: RBACMiddleware, principal: Principal, n: int, repeats: int) -> float:
    """The authorization decision without ASGI: matcher lookup for the role set plus the check."""
    authorizer, required, community = rbac.authorizer, ("res49:read",), frozenset({"role14"})
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            authorizer.matcher(principal, community).allows(required)
        runs.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(runs)


async def main(n: int, repeats: int) -> None:
    # every role holds the permissions needed: the check always succeeds, so we time the allow path
    principal = Principal(
        "bench", roles=frozenset({"role4", "role9", "role49"}), communities={"7": frozenset({"role14"})}, method="jwt"
    )
    roles, rules = hierarchy(), policies()
    rbac = RBACMiddleware(bare, RBACConfig(roles=roles, policies=rules))
    tenancy = TenancyMiddleware(bare, TenancyConfig(routes=("/api/v1/communities/{community_id}/{rest:path}",)))
    both = TenancyMiddleware(
        RBACMiddleware(bare, RBACConfig(roles=roles, policies=rules)),
        TenancyConfig(routes=("/api/v1/communities/{community_id}/{rest:path}",)),
    )
    first, last = "/api/v1/communities/7/res0/1", f"/api/v1/communities/7/res{RULES - 1}/1"
    # the first rule needs res0:read (role4's chain), the last res49:read (role49)
    rows = [
        ("bare ASGI app", bare, first),
        ("RBAC, first of 1,000 rules", rbac, first),
        ("RBAC, last of 1,000 rules", rbac, last),
        ("community scoping (path id, claims)", tenancy, first),
        ("scoping + RBAC, first rule", both, first),
        ("scoping + RBAC, last rule", both, last),
    ]
    print(f"{RULES} route rules, {ROLES} roles, n={n} x {repeats} (median), µs per request")
    print(f"  {'permission check alone (cached matcher)':<38} {check_only(rbac, principal, n, repeats):8.3f}")
    baseline = 0.0
    for label, app, path in rows:
        micros = await per_request(app, scope_for(path, principal, None), n, repeats)
        baseline = baseline or micros
        extra = "" if app is bare else f"  (+{micros - baseline:.2f} over bare)"
        print(f"  {label:<38} {micros:8.2f}{extra}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.n, arguments.repeats))
