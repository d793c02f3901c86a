"""Per-layer cost of the full stack on the memory backend, in-process (the design goal: at most 2x bare).

Adds the layers one at a time to a bare Starlette app and prints the median µs per request of each
stack (several repeats, interleaved, so load on the machine hits every row alike), the step each
layer adds and the ratio to bare.

Run: ``python -m bench profile steps`` (from the repository root). Options: ``--repeats N``,
``--requests N``, ``--profile ROW`` (pyinstrument of one row, e.g. ``--profile full``),
``--cprofile ROW`` (cProfile, sorted by tottime), ``--json``. Times are CPU time of the process
(``time.process_time``), less disturbed by other load on a shared machine than wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

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
    guard,
    tiers,
)
from asgi_guard.testing import make_scope

if TYPE_CHECKING:
    from starlette.requests import Request

# The application decides where events go; here nowhere (the library's default: a NullHandler).
logging.getLogger("asgi_guard.security").propagate = False

PATH = "/api/v1/communities/42/profile"


async def profile(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def bare() -> Starlette:
    return Starlette(routes=[Route("/api/v1/communities/{community_id}/profile", profile)])


def build_stacks() -> tuple[dict[str, object], str]:
    keyring = KeyRing.single("x" * 40)
    revocation = MemoryRevocationStore()
    token = TokenService(keyring, revocation).issue_access("u1", roles=["user"], communities=["42"])
    backend = MemoryRateLimitBackend()
    layers = [
        ("+events", EventsConfig()),
        ("+client_ip", ClientIPConfig(trusted_proxies=())),
        ("+headers", SecurityHeadersConfig.strict_api()),
        (
            "+rate_limit_pre_auth",
            RateLimitConfig(stage="pre_auth", backend=backend, limits=(Limit(name="ip", rate="100000000/minute"),)),
        ),
        ("+auth_jwt", AuthConfig(jwt=JWTAuth(keyring=keyring, revocation=revocation, issuer=None, audience=None))),
        ("+tenancy", TenancyConfig(routes=("/api/v1/communities/{community_id}/{rest:path}",))),
        (
            "+rbac",
            RBACConfig(
                policies=(
                    RoutePolicy(path="/api/v1/communities/{community_id}/profile", permissions=("profile:view",)),
                ),
                default="deny",
            ),
        ),
        (
            "+rate_limit_tiers",
            RateLimitConfig(backend=backend, limits=(tiers({"user": "100000000/minute"}, default="100000000/minute"),)),
        ),
    ]
    stacks: dict[str, object] = {"bare": bare()}
    for index, (name, _) in enumerate(layers):
        # The auth layer is required by tenancy/rbac; the pre-auth limit alone is measured before it.
        stacks[name] = guard(bare(), *(config for _, config in layers[: index + 1]))  # type: ignore[arg-type]
    return stacks, token


async def run(app: object, token: str, n: int) -> float:
    base = make_scope(
        "GET", PATH, headers={"authorization": f"Bearer {token}", "x-community-id": "42", "user-agent": "bench"}
    )

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    statuses: list[int] = []

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])  # type: ignore[arg-type]

    t0 = time.process_time()
    for _ in range(n):
        scope = dict(base)
        scope["headers"] = list(base["headers"])
        await app(scope, receive, send)  # type: ignore[operator]
    elapsed = (time.process_time() - t0) / n * 1e6
    assert set(statuses) == {200}, set(statuses)
    return elapsed


async def measure(repeats: int, requests: int, as_json: bool = False) -> None:
    stacks, token = build_stacks()
    for app in stacks.values():
        await run(app, token, 1000)
    results: dict[str, list[float]] = {name: [] for name in stacks}
    for _ in range(repeats):
        for name, app in stacks.items():
            results[name].append(await run(app, token, requests))
    medians = {name: statistics.median(values) for name, values in results.items()}
    if as_json:
        print(json.dumps(medians))
        return
    base = medians["bare"]
    previous = base
    print(f"{'stack':24s} {'µs/req':>8s} {'step':>7s} {'x bare':>7s}")
    for name, value in medians.items():
        print(f"{name:24s} {value:8.1f} {value - previous:+7.1f} {value / base:7.2f}")
        previous = value


def profiled(row: str, requests: int, use_cprofile: bool) -> None:
    stacks, token = build_stacks()
    names = list(stacks)
    app = stacks[names[-1] if row == "full" else row]
    asyncio.run(run(app, token, 1000))
    if use_cprofile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        asyncio.run(run(app, token, requests))
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
        return
    from pyinstrument import Profiler

    with Profiler(interval=0.0001, async_mode="disabled") as pyi:
        asyncio.run(run(app, token, requests))
    print(pyi.output_text(unicode=True, color=False, show_all=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", metavar="ROW")
    parser.add_argument("--cprofile", metavar="ROW")
    parser.add_argument("--json", action="store_true", help="print the medians as one JSON object")
    args = parser.parse_args()
    if args.profile or args.cprofile:
        profiled(args.profile or args.cprofile, args.requests * 5, use_cprofile=bool(args.cprofile))
        return
    asyncio.run(measure(args.repeats, args.requests, args.json))


if __name__ == "__main__":
    main()
