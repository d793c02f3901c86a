"""Baselines: the bare app every ratio divides by, and the one-round-trip Redis floor."""

from __future__ import annotations

from typing import Any

from bench.harness.apps import HUGE_LIMIT, PATH, bare_app
from bench.harness.registry import Built, StackEnv, async_redis, register

FLOOR_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""
"""What the floor runs: a fixed window in one script, i.e. one round trip and nothing else."""


@register("bare Starlette", group="baseline", note="one JSON route; the denominator of every ratio")
async def bare_starlette(env: StackEnv) -> Built:
    return Built(bare_app(), layers=("starlette",))


@register("bare FastAPI", group="baseline", note="the same route in FastAPI (the fastapi-limiter peers' base)")
async def bare_fastapi(env: StackEnv) -> Built:
    from fastapi import FastAPI

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.add_api_route(PATH, profile_fastapi, methods=["GET", "POST"])
    return Built(app, layers=("fastapi",))


async def profile_fastapi() -> dict[str, Any]:
    return {"id": "user:1", "ok": True}


@register(
    "floor: bare + raw EVALSHA",
    group="baseline",
    redis=True,
    note="one EVALSHA (INCR+PEXPIRE window) per request, no other work: the naive one-round-trip floor",
)
async def floor_evalsha(env: StackEnv) -> Built:
    client = async_redis(env)
    sha = await client.script_load(FLOOR_SCRIPT)
    inner = bare_app()
    window = str(60_000)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            count = await client.evalsha(sha, 1, "bench:floor:{127.0.0.1}", window)
            if int(count) > HUGE_LIMIT:
                raise RuntimeError("the floor never limits")
        await inner(scope, receive, send)

    return Built(app, layers=("redis evalsha",), close=client.aclose)


__all__ = ("FLOOR_SCRIPT",)
